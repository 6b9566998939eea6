package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// The soak's shape: 50 chains sharing one gateway key, the last ten read
// only now and then (cold reads that must mint), and four member credentials
// on each chain. Tokens live a few seconds, so every minute is many lives.
const (
	soakChains         = 50
	soakColdChains     = 10
	soakCredsPerChain  = 4
	soakShortestLife   = 4 // seconds; chain i's tokens live soakShortestLife + i%6
	soakLongestLife    = soakShortestLife + 5
	soakMinimumSeconds = 2
)

// soakChain is one configured chain.
type soakChain struct {
	name      string
	life      time.Duration // its tokens' lifetime at the fake server
	leaseMode string
	cold      bool // read only once its token is long gone
}

// soakCred is one member credential.
type soakCred struct{ chain, name string }

func (c soakCred) path() string { return mount + "/creds/" + c.chain + "/" + c.name }

// soak is a dev Vault with the plugin, the fake server behind its gateway,
// and what the soak set up and saw.
type soak struct {
	vault  *vaultharness.Server
	fake   *fakeresamania.Server
	plugin *vaultharness.Plugin
	client *api.Client // root, no retries: each failure is seen as it happens
	chains []soakChain
	creds  []soakCred
	reads  *readLedger
	events *disturbances
}

func newSoak(t *testing.T) *soak {
	t.Helper()
	fake := fakeresamania.Start(fakeresamania.Options{PathPrefix: "/integration", GatewayKey: gatewayKey})
	t.Cleanup(fake.Close)
	// debug, not trace: a soak's trace log runs to gigabytes; the plugin's
	// start lines (its pid) are at debug. The log scan samples a log larger
	// than its limit.
	h := vaultharness.StartStack(t, vaultharness.StackOptions{
		Server:        vaultharness.Options{Dev: true, LogLevel: "debug"},
		PluginVersion: pluginVer, Mount: mount,
		Secrets: func() []string { return secretsToHide(fake) },
	})
	vault := h.Server
	sk := &soak{vault: vault, fake: fake, plugin: h.Plugin, client: vault.NewClientNoRetry(t, time.Minute),
		reads: newReadLedger(fake), events: &disturbances{}}
	modes := []string{"non_renewable", "renewable", "none"}
	for i := range soakChains {
		ch := soakChain{
			name:      fmt.Sprintf("soak%02d", i),
			life:      time.Duration(soakShortestLife+i%6) * time.Second,
			leaseMode: modes[i%len(modes)],
			cold:      i >= soakChains-soakColdChains,
		}
		sk.addChain(t, i, ch)
		for m := range soakCredsPerChain {
			sk.addCred(t, i, soakCred{chain: ch.name, name: fmt.Sprintf("member%d", m)})
		}
	}
	return sk
}

func soakClientID(i int) string { return fmt.Sprintf("%d_soakclient", i+1) }

func (sk *soak) addChain(t *testing.T, i int, ch soakChain) {
	t.Helper()
	sk.fake.AddClient(fakeresamania.Client{ClientToken: ch.name, ClientID: soakClientID(i), ClientSecret: clientSecret,
		ExpiresIn: int(ch.life / time.Second), RedirectURIs: []string{redirectURI},
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantAuthorizationCode, fakeresamania.GrantRefreshToken}})
	_, err := sk.client.Logical().Write(mount+"/config/"+ch.name, map[string]any{
		"api_base_url": sk.fake.URL(), "client_id": soakClientID(i), "client_secret": clientSecret,
		"api_key": gatewayKey, "lease_mode": ch.leaseMode, "allowed_redirect_uris": redirectURI,
		"verify_connection": false, // bulk set-up: the warm-up measures the reads' own rate
	})
	require.NoError(t, err)
	sk.chains = append(sk.chains, ch)
}

// addCred signs a member in with a code the fake issues directly: the
// browser step has its own tests.
func (sk *soak) addCred(t *testing.T, i int, c soakCred) {
	t.Helper()
	code := sk.fake.IssueCode(c.chain, soakClientID(i), redirectURI, c.name)
	state := issueState(t, sk.client, mount, c.chain, c.name)
	_, err := sk.client.Logical().Write(c.path(), map[string]any{"code": code, "redirect_uri": redirectURI, "state": state})
	require.NoError(t, err)
	sk.creds = append(sk.creds, c)
}
