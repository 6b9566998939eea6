package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// The two other mounts of TestThreeMountsOneProcessShareNothing.
const (
	mountB = "resamania-b"
	mountC = "resamania-c"
)

// TestThreeMountsOneProcessShareNothing: three mounts of the plugin are
// served by one plugin process (it serves multiplexed), and share none of
// what is a mount's own: configs, cached tokens, metrics, gateway holds,
// member credentials and the keep-alive index.
func TestThreeMountsOneProcessShareNothing(t *testing.T) {
	t.Parallel() // most of it waits (token lives, the background tick)
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.fake.AddClub(chain, 12)
	st.vault.Enable(t, st.plugin, mountB)
	st.vault.Enable(t, st.plugin, mountC)
	c := st.vault.Client

	// Configs: the same chain on two mounts with different scopes; the third
	// mount has none.
	st.configure(t, "scope=a")
	writeConfig(t, c, mountB, st.fake.URL(), "b")
	requireConfigScope(t, c, mount, "a")
	requireConfigScope(t, c, mountB, "b")
	sec, err := c.Logical().Read(mountC + "/config/" + chain)
	require.NoError(t, err)
	require.Nil(t, sec, "a config written on two other mounts is not on %s", mountC)
	_, err = c.Logical().Read(mountC + "/token/" + chain)
	require.Error(t, err, "no token where no chain is configured")

	// Tokens: each mount mints and caches its own.
	tokA := readAccessToken(t, c, mount+"/token/"+chain)
	tokB := readAccessToken(t, c, mountB+"/token/"+chain)
	require.NotEqual(t, tokA, tokB)
	mints := st.fake.TokenRequests(chain, fakeresamania.GrantClientCredentials)
	st.configure(t, "scope=a2") // drops mount A's token, not mount B's
	require.NotEqual(t, tokA, readAccessToken(t, c, mount+"/token/"+chain))
	require.Equal(t, tokB, readAccessToken(t, c, mountB+"/token/"+chain), "a config change on one mount drops no other mount's token")
	require.Equal(t, mints+1, st.fake.TokenRequests(chain, fakeresamania.GrantClientCredentials), "one mint, for mount A")

	// One plugin process serves the three mounts.
	live := livePluginPIDs(st.vault.Process)
	require.Len(t, live, 1, "one plugin process for three mounts, found %v", live)
	t.Logf("%s: plugin processes live with three mounts: %d (pid %v)", st.vault.Flavor, len(live), live)

	// Members: two on mount A, one on mount B. A credential is on the
	// mount that stored it, and so is its place in the keep-alive index
	// (checked at the end, once a background tick has counted them).
	for _, name := range []string{member, "bob"} {
		code := st.fake.IssueCode(chain, clientID, redirectURI, name)
		st.vault.MustCLI(t, "write", credsPrefix+name, "code="+code, "redirect_uri="+redirectURI, "state="+issueState(t, c, mount, chain, name))
	}
	code := st.fake.IssueCode(chain, clientID, redirectURI, "carol")
	st.vault.MustCLI(t, "write", mountB+"/creds/"+chain+"/carol", "code="+code, "redirect_uri="+redirectURI, "state="+issueState(t, c, mountB, chain, "carol"))
	readAccessToken(t, c, credsPrefix+member)
	list, err := c.Logical().List(mountB + "/creds/" + chain + "/")
	require.NoError(t, err)
	require.Equal(t, []any{"carol"}, list.Data["keys"], "mount B lists its own member only")
	sec, err = c.Logical().Read(mountB + "/creds/" + chain + "/" + member + "/status")
	require.True(t, err != nil || sec == nil || sec.Data["state"] != "active", "mount B has no status for mount A's member: %v", sec)

	// Metrics: each mount counts its own reads.
	require.Positive(t, metricSum(t, c, mount, "resamania_token_reads_total"))
	require.Positive(t, metricSum(t, c, mountB, "resamania_token_reads_total"))
	require.Equal(t, 1.0, metricSum(t, c, mountC, "resamania_token_reads_total"), "mount C counts its one refused read, not the others' reads")
	require.Zero(t, metricSum(t, c, mountC, "resamania_upstream_requests_total"))
	require.Positive(t, metricSum(t, c, mount, "resamania_tokens_cached"))
	require.Zero(t, metricSum(t, c, mountC, "resamania_tokens_cached"), "mount C caches nothing")

	// Gateway holds: the gateway closes the key's window; mount A, told so
	// by a 429, holds its requests back; mount B, which shares the key but
	// not the hold, still asks (and is told in turn).
	st.fake.CloseGatewayWindow(gatewayKey, fakeresamania.LimitRate, time.Now().Add(time.Minute))
	_, err = c.Logical().Read(mount + "/token/" + chain + "/clubs/12")
	require.Error(t, err, "the gateway refused the club grant")
	refused := st.fake.GatewayRefusals(gatewayKey)
	require.Positive(t, refused)
	_, err = st.vault.NewClientNoRetry(t, time.Minute).Logical().Read(mount + "/token/" + chain + "/clubs/12")
	require.Error(t, err, "mount A holds the key back")
	require.Equal(t, refused, st.fake.GatewayRefusals(gatewayKey), "a held key sends nothing")
	_, err = st.vault.NewClientNoRetry(t, time.Minute).Logical().Read(mountB + "/token/" + chain + "/clubs/12")
	require.Error(t, err)
	require.Greater(t, st.fake.GatewayRefusals(gatewayKey), refused, "mount B does not share mount A's hold: it asked")
	st.fake.CloseGatewayWindow(gatewayKey, fakeresamania.LimitRate, time.Time{})

	// The keep-alive index: the server runs each mount's background tick
	// about once a minute; each counts its own members.
	require.Eventually(t, func() bool {
		return metricSum(t, c, mount, "resamania_credentials") == 2 && metricSum(t, c, mountB, "resamania_credentials") == 1
	}, 150*time.Second, time.Second, "mount A's tick counts its 2 members, mount B's its 1")
	require.Zero(t, metricSum(t, c, mountC, "resamania_credentials"))

	require.Equal(t, live, livePluginPIDs(st.vault.Process), "still the one process")
}

// writeConfig writes the chain's config on mountPath with the given scope.
func writeConfig(t *testing.T, c *api.Client, mountPath, apiBase, scope string) {
	t.Helper()
	_, err := c.Logical().Write(mountPath+"/config/"+chain, map[string]any{
		"api_base_url": apiBase, "client_id": clientID, "client_secret": clientSecret, "api_key": gatewayKey, "scope": scope,
		"allowed_redirect_uris": redirectURI,
		"verify_connection":     false, // the test counts its reads' mints
	})
	require.NoError(t, err, "config on %s", mountPath)
}

func requireConfigScope(t *testing.T, c *api.Client, mountPath, scope string) {
	t.Helper()
	sec, err := c.Logical().Read(mountPath + "/config/" + chain)
	require.NoError(t, err)
	require.NotNil(t, sec, mountPath)
	require.Equal(t, scope, sec.Data["scope"], mountPath)
}

// livePluginPIDs are the plugin processes the server started that still run.
func livePluginPIDs(v *vaultharness.Process) []int {
	var live []int
	for _, pid := range v.PluginPIDs() {
		if vaultharness.ProcessAlive(pid) {
			live = append(live, pid)
		}
	}
	return live
}

// metricSum is the sum of every series of a metric in mountPath/metrics
// (a counter's or gauge's value, a histogram's count).
func metricSum(t *testing.T, c *api.Client, mountPath, name string) float64 {
	t.Helper()
	sec, err := c.Logical().Read(mountPath + "/metrics")
	require.NoError(t, err)
	require.NotNil(t, sec, mountPath)
	series, _ := sec.Data[name].([]any)
	var sum float64
	for _, s := range series {
		m, _ := s.(map[string]any)
		v, ok := m["value"].(json.Number)
		if !ok {
			v, ok = m["count"].(json.Number)
		}
		if !ok {
			t.Fatalf("%s/metrics: %s has a series without a number: %v", mountPath, name, m)
		}
		f, err := v.Float64()
		require.NoError(t, err)
		sum += f
	}
	return sum
}
