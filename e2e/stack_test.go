// Package e2e drives the plugin inside a real server, through its real CLI
// and the Go api client: Vault (built by scripts/build-vault.sh) or OpenBao
// (unpacked by scripts/unpack-bao.sh), as RESAMANIA_SERVER says
// (vaultharness.ServerEnv). Every test runs on both unless it says why not.
package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// Sentinels: secrets that must never appear in a log, CLI output or error.
const (
	chain          = "mychain"
	clientID       = "123_e2eclient"
	clientSecret   = "SENTINEL-e2e-client-secret-c81f"
	gatewayKey     = "SENTINEL-e2e-gateway-key-44d0"
	memberPassword = "SENTINEL-e2e-member-password"
	pluginVer      = "v0.1.0-e2e"
	mount          = "resamania"
	redirectURI    = "https://app.example/callback"
	member         = "alice"
	memberEmail    = "SENTINEL-bob@club.example"           // a contact's email, known to Resamania
	unknownEmail   = "SENTINEL-carol-unknown@club.example" // a contact's email Resamania does not know
)

// The chain's paths under the mount.
const (
	tokenPath   = mount + "/token/" + chain
	configPath  = mount + "/config/" + chain
	credsPrefix = mount + "/creds/" + chain + "/"
)

// startFake starts the fake Resamania server with the chain's client, whose
// access tokens live expiresIn seconds (0 is an hour) and which may use every
// grant the plugin sends, and a member who can sign in.
func startFake(t *testing.T, expiresIn int) *fakeresamania.Server {
	t.Helper()
	fake := fakeresamania.Start(fakeresamania.Options{PathPrefix: "/integration", GatewayKey: gatewayKey})
	t.Cleanup(fake.Close)
	fake.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: clientID, ClientSecret: clientSecret, ExpiresIn: expiresIn, RedirectURIs: []string{redirectURI},
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantAuthorizationCode, fakeresamania.GrantRefreshToken,
			fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials}})
	fake.AddMember(chain, member, memberPassword)
	return fake
}

// secretsToHide lists what no log may hold: the sentinels (contacts' emails
// are personal data) and every token and code the fake issued.
func secretsToHide(fake *fakeresamania.Server) []string {
	return append([]string{clientSecret, gatewayKey, memberPassword, memberEmail, unknownEmail}, fake.IssuedSecrets()...)
}

// stack is a real Vault or OpenBao with the plugin mounted and a fake
// Resamania server (vaultharness.StartStack builds it).
type stack struct {
	vault  *vaultharness.Server
	fake   *fakeresamania.Server
	plugin *vaultharness.Plugin
	audit  string // the file audit device's log
}

type stackOptions struct {
	vault     vaultharness.Options
	expiresIn int
	// plugin is registered and mounted; nil builds one stamped pluginVer.
	plugin *vaultharness.Plugin
}

func newStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	vaultharness.Require(t)
	fake := startFake(t, opts.expiresIn)
	h := vaultharness.StartStack(t, vaultharness.StackOptions{
		Server: opts.vault, Plugin: opts.plugin, PluginVersion: pluginVer, Mount: mount, Audit: true,
		Secrets: func() []string { return secretsToHide(fake) },
	})
	return &stack{vault: h.Server, fake: fake, plugin: h.Plugin, audit: h.AuditLog}
}

// configure writes the chain's config through the CLI. It is not verified
// unless extra says so, so that the upstream calls a test counts are its
// reads'; gateway_answers_test.go proves the verified write on its own.
func (st *stack) configure(t *testing.T, extra ...string) {
	t.Helper()
	args := []string{"write", configPath,
		"api_base_url=" + st.fake.URL(), "client_id=" + clientID, "client_secret=" + clientSecret, "api_key=" + gatewayKey}
	if !slices.ContainsFunc(extra, func(a string) bool { return strings.HasPrefix(a, "verify_connection=") }) {
		args = append(args, "verify_connection=false")
	}
	if !slices.ContainsFunc(extra, func(a string) bool { return strings.HasPrefix(a, "allowed_redirect_uris=") }) {
		args = append(args, "allowed_redirect_uris="+redirectURI) // the app's callback, for sign-ins
	}
	st.vault.MustCLI(t, append(args, extra...)...)
}

// readToken is `vault read -format=json resamania/token/<chain>`, parsed.
func (st *stack) readToken(t *testing.T) tokenRead {
	t.Helper()
	return st.readLeased(t, tokenPath)
}

// readLeased is `vault read -format=json <path> [key=value...]` of a token
// or a credential, parsed.
func (st *stack) readLeased(t *testing.T, path string, data ...string) tokenRead {
	t.Helper()
	out := st.vault.MustCLI(t, append([]string{"read", "-format=json", path}, data...)...)
	var r tokenRead
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	return r
}

type tokenRead struct {
	LeaseID       string `json:"lease_id"`
	LeaseDuration int    `json:"lease_duration"`
	Renewable     bool   `json:"renewable"`
	Data          struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresAt   string `json:"expires_at"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
		APIBaseURL  string `json:"api_base_url"`
		ClubID      string `json:"club_id"` // club reads only
	} `json:"data"`
	Warnings []string `json:"warnings"`
}
