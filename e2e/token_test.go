package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

func TestConfigRoundTripWithoutSecrets(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t, "scope=read")

	out := st.vault.MustCLI(t, "read", "-format=json", configPath)
	require.NotContains(t, out, clientSecret)
	require.NotContains(t, out, gatewayKey)
	var cfg struct{ Data map[string]any }
	require.NoError(t, json.Unmarshal([]byte(out), &cfg))
	require.Equal(t, st.fake.URL(), cfg.Data["api_base_url"])
	require.Equal(t, clientID, cfg.Data["client_id"])
	require.Equal(t, true, cfg.Data["client_secret_set"])
	require.Equal(t, true, cfg.Data["api_key_set"])
	require.Equal(t, "read", cfg.Data["scope"])

	list := st.vault.MustCLI(t, "list", "-format=json", mount+"/config")
	require.JSONEq(t, `["mychain"]`, list)

	help := st.vault.MustCLI(t, "path-help", tokenPath)
	require.Contains(t, help, "minimum_seconds")
	require.Contains(t, help, "safety margin")

	// Bad input through the CLI: a 400 that names the field, and nothing stored.
	_, stderr, err := st.vault.CLI(t, "write", mount+"/config/other", "api_base_url=http://api.example.test", "client_id="+clientID, "client_secret="+clientSecret)
	require.Error(t, err)
	require.Contains(t, stderr, "Code: 400")
	require.Contains(t, stderr, "http is allowed only for a loopback host")
	require.NotContains(t, stderr, clientSecret)
	require.JSONEq(t, `["mychain"]`, st.vault.MustCLI(t, "list", "-format=json", mount+"/config"))

	st.vault.MustCLI(t, "delete", configPath)
	_, _, err = st.vault.CLI(t, "read", configPath)
	require.Error(t, err, "a deleted config reads as absent")
}

func TestTokenReadLeaseAndCache(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t)

	first := st.readToken(t)
	require.True(t, st.fake.AccessTokenValid(first.Data.AccessToken))
	require.Equal(t, "Bearer", first.Data.TokenType)
	require.InDelta(t, 3600, first.Data.ExpiresIn, 5)
	require.True(t, strings.HasPrefix(first.LeaseID, tokenPath+"/"), first.LeaseID)
	require.False(t, first.Renewable)
	require.InDelta(t, 3600-60, first.LeaseDuration, 5, "the lease ends a minute before the token")
	expiresAt, err := time.Parse(time.RFC3339, first.Data.ExpiresAt)
	require.NoError(t, err)
	require.True(t, time.Now().Add(time.Duration(first.LeaseDuration)*time.Second).Before(expiresAt))

	second := st.readToken(t)
	require.Equal(t, first.Data.AccessToken, second.Data.AccessToken)
	require.NotEqual(t, first.LeaseID, second.LeaseID)
	require.Equal(t, 1, st.fake.TokenRequests(chain, ""), "cached reads make no upstream call")
	require.Contains(t, st.vault.Log(), "minted a token", "the plugin's debug lines reach the server log, so the secret scan sees them")

	// Revoking a lease succeeds and leaves the shared token in place.
	st.vault.MustCLI(t, "lease", "revoke", first.LeaseID)
	require.Equal(t, first.Data.AccessToken, st.readToken(t).Data.AccessToken)

	// The mount runs the registered version.
	mounts := st.vault.MustCLI(t, "secrets", "list", "-format=json")
	var m map[string]struct {
		RunningVersion string `json:"running_plugin_version"`
	}
	require.NoError(t, json.Unmarshal([]byte(mounts), &m))
	require.Equal(t, pluginVer, m[mount+"/"].RunningVersion)
}

// TestConcurrentColdReadsMakeOneUpstreamCall: the first reader's mint is
// held open at the fake until all 50 reads have reached Vault, so they find
// it in flight; one upstream request serves them all.
func TestConcurrentColdReadsMakeOneUpstreamCall(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t, "request_timeout=60") // the held mint must outlast the wait for every reader

	tok := readWithFirstMintHeld(t, st.fake, st.audit, []*api.Client{st.vault.Client}, 50, tokenPath, "client_credentials")
	require.True(t, st.fake.AccessTokenValid(tok))
	require.Equal(t, 1, st.fake.TokenRequests(chain, ""), "one upstream request for 50 readers")
}

func TestInvalidClientIsClearThroughCLI(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	const wrong = "SENTINEL-e2e-wrong-secret-0b9e"
	// Stored unverified, so the read meets the refusal (a verified write is
	// refused first: gateway_answers_test.go).
	st.vault.MustCLI(t, "write", configPath, "api_base_url="+st.fake.URL(), "client_id="+clientID, "client_secret="+wrong, "api_key="+gatewayKey, "verify_connection=false")

	_, stderr, err := st.vault.CLI(t, "read", tokenPath)
	require.Error(t, err)
	require.Contains(t, stderr, "Code: 502")
	require.Contains(t, stderr, `chain "mychain"`)
	require.Contains(t, stderr, "invalid_client")
	require.Contains(t, stderr, "check client_id and client_secret")
	require.NotContains(t, stderr, wrong)
	require.NotContains(t, st.vault.Log(), wrong)
	require.Equal(t, 1, st.fake.TokenRequests(chain, ""), "a rejected client is not retried")

	// Without the gateway key, the gateway's 401 says what to set.
	st.vault.MustCLI(t, "write", configPath, "client_secret="+clientSecret, "api_key=", "verify_connection=false")
	_, stderr, err = st.vault.CLI(t, "read", tokenPath)
	require.Error(t, err)
	require.Contains(t, stderr, "set api_key")
}

func TestNoLeaseSwitch(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t, "no_lease=true")
	r := st.readToken(t)
	require.Empty(t, r.LeaseID)
	require.Zero(t, r.LeaseDuration)
	require.True(t, st.fake.AccessTokenValid(r.Data.AccessToken))
	require.InDelta(t, 3600, r.Data.ExpiresIn, 5)
}

func TestPluginReloadKeepsToken(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t)
	first := st.readToken(t)
	st.vault.ReloadPlugin(t, st.plugin)
	require.Equal(t, first.Data.AccessToken, st.readToken(t).Data.AccessToken)
	require.Equal(t, 1, st.fake.TokenRequests(chain, ""), "a reload does not re-mint a good token")
}

func TestVaultRestartKeepsToken(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: false}})
	st.configure(t)
	first := st.readToken(t)
	st.vault.Restart(t)
	again := st.readToken(t)
	require.Equal(t, first.Data.AccessToken, again.Data.AccessToken)
	require.Equal(t, 1, st.fake.TokenRequests(chain, ""), "a restart does not re-mint a good token")
	require.Less(t, again.LeaseDuration, first.LeaseDuration+1)
}
