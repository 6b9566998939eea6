package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// addChainOnTheKey registers another chain at the fake and configures it
// with the same gateway key, unverified, so that its first read is its
// first request.
func (st *stack) addChainOnTheKey(t *testing.T, name string) {
	t.Helper()
	st.fake.AddClient(fakeresamania.Client{ClientToken: name, ClientID: clientID, ClientSecret: clientSecret})
	st.vault.MustCLI(t, "write", mount+"/config/"+name, "api_base_url="+st.fake.URL(), "client_id="+clientID,
		"client_secret="+clientSecret, "api_key="+gatewayKey, "verify_connection=false")
}

// TestSpikeArrestRefusalCostsOneShortWait: Gravitee's spike-arrest 429, which
// also carries the quota's and the rate limit's headers with requests left,
// holds the key for its slice only: the read waits it out, and another chain
// on the key mints a moment later.
func TestSpikeArrestRefusalCostsOneShortWait(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.fake.SetGatewayLimits(fakeresamania.GatewayLimits{SpikeArrest: 100, RatePerMinute: 1000, DailyQuota: 50000}) // all three policies, as a plan chains them
	st.configure(t)
	st.addChainOnTheKey(t, "otherchain")

	// Through the api client: the CLI's start-up alone outlasts a spike's slice.
	st.fake.CloseGatewayWindow(gatewayKey, fakeresamania.LimitSpikeArrest, time.Now().Add(80*time.Millisecond))
	start := time.Now()
	first, err := st.vault.Client.Logical().Read(tokenPath)
	require.NoError(t, err)
	require.True(t, st.fake.AccessTokenValid(first.Data["access_token"].(string)))
	require.Less(t, time.Since(start), 3*time.Second, "one short wait, not the quota's hours")
	require.Equal(t, 1, st.fake.GatewayRefusals(gatewayKey), "one 429")
	refused := st.fake.Requests()[0]
	require.Equal(t, fakeresamania.LimitSpikeArrest, refused.GatewayLimit)

	time.Sleep(time.Second) // "a second later", as an app on another chain would come
	other := st.vault.ReadJSON(t, mount+"/token/otherchain")["data"].(map[string]any)
	require.True(t, st.fake.AccessTokenValid(other["access_token"].(string)), "the key is not held")
	require.Equal(t, 1, st.fake.GatewayRefusals(gatewayKey))
	require.Equal(t, 2, st.fake.TokenRequests("", "client_credentials"), "after the one 429, one mint for each chain")
}

// TestRateLimitRefusalHoldsTheKeyUntilItsReset: a rate limit's 429 (Remaining
// 0) holds every chain of the key until the rate limit's reset, with a 503
// that says so, and sends nothing into the window.
func TestRateLimitRefusalHoldsTheKeyUntilItsReset(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.fake.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 1000, DailyQuota: 50000})
	st.configure(t)
	st.addChainOnTheKey(t, "otherchain")

	until := time.Now().Add(90 * time.Second).Truncate(time.Millisecond)
	st.fake.CloseGatewayWindow(gatewayKey, fakeresamania.LimitRate, until)
	stderr := st.cliFails(t, "read", tokenPath)
	require.Contains(t, stderr, "Code: 503")
	require.Contains(t, stderr, "its rate limit is reached until "+until.UTC().Format(time.RFC3339))
	stderr = st.cliFails(t, "read", mount+"/token/otherchain")
	require.Contains(t, stderr, "the request was not sent")
	require.Equal(t, 1, st.fake.GatewayRefusals(gatewayKey), "nothing sent into the window")

	var cfg struct{ Data map[string]any }
	require.NoError(t, json.Unmarshal([]byte(st.vault.MustCLI(t, "read", "-format=json", configPath)), &cfg))
	require.Equal(t, float64(0), cfg.Data["gateway_rate_remaining"], "the refusal's budget")
	require.Equal(t, until.UTC().Format(time.RFC3339), cfg.Data["gateway_rate_reset"])
	require.Greater(t, cfg.Data["gateway_quota_remaining"], float64(40000), "the quota ran first and has requests left")
}

// TestConfigWritesProveThemselves: on the real Vault, through the CLI, a
// verified write's token serves the first read; a wrong secret is a 400 that
// leaves the old config serving; each refusal names its fix.
func TestConfigWritesProveThemselves(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t, "verify_connection=true")
	require.Equal(t, 1, st.fake.TokenRequests(chain, "client_credentials"), "the write minted one token")
	first := st.readToken(t)
	require.Equal(t, st.fake.IssuedAccessTokens()[0], first.Data.AccessToken, "the verified token serves the first read")
	require.Equal(t, 1, st.fake.TokenRequests(chain, "client_credentials"))

	stderr := st.cliFails(t, "write", configPath, "client_secret=SENTINEL-wrong-secret-e2e")
	require.Contains(t, stderr, "Code: 400")
	require.Contains(t, stderr, "invalid_client")
	require.Contains(t, stderr, "check client_id and client_secret")
	require.Contains(t, stderr, "Nothing was stored")
	require.NotContains(t, stderr, "SENTINEL-wrong-secret-e2e")
	again := st.readToken(t)
	require.Equal(t, first.Data.AccessToken, again.Data.AccessToken, "the old config and its token serve on")

	for _, tc := range []struct {
		name string
		args []string
		says []string
	}{
		{"no gateway key", []string{"api_key="}, []string{"HTTP 401", "set api_key"}},
		// A new api_base_url carries the secrets again (docs/security.md).
		{"a wrong environment path", []string{"api_base_url=" + strings.TrimSuffix(st.fake.URL(), "/integration") + "/staging", "client_secret=" + clientSecret, "api_key=" + gatewayKey},
			[]string{"No context-path matches the request URI.", "check api_base_url"}},
	} {
		stderr := st.cliFails(t, append([]string{"write", configPath}, tc.args...)...)
		require.Contains(t, stderr, "Code: 400", tc.name)
		for _, s := range tc.says {
			require.Contains(t, stderr, s, tc.name)
		}
	}
	stderr = st.cliFails(t, "write", mount+"/config/mychian", "api_base_url="+st.fake.URL(), "client_id="+clientID, "client_secret="+clientSecret, "api_key="+gatewayKey)
	require.Contains(t, stderr, `check the chain name: "mychian" must be Resamania's client_token`)
	st.fake.AddClient(fakeresamania.Client{ClientToken: "outside", ClientID: clientID, ClientSecret: clientSecret})
	st.fake.LeaveOutOfPlan("outside")
	stderr = st.cliFails(t, "write", mount+"/config/outside", "api_base_url="+st.fake.URL(), "client_id="+clientID, "client_secret="+clientSecret, "api_key="+gatewayKey)
	require.Contains(t, stderr, "HTTP 403")
	require.Contains(t, stderr, "ask Resamania to add this endpoint to the key's plan")
	require.JSONEq(t, `["mychain"]`, st.vault.MustCLI(t, "list", "-format=json", mount+"/config"), "no refused write stored anything")
	require.Equal(t, first.Data.AccessToken, st.readToken(t).Data.AccessToken)
}
