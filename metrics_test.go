package resamania

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// metricValue reads one series' value (a histogram's count) from a JSON read
// of the metrics path; 0 when the series does not exist yet.
func (e *testEnv) metricValue(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	resp, err := e.request(logical.ReadOperation, "metrics", nil)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	series, _ := resp.Data[name].([]any)
	for _, s := range series {
		s := s.(map[string]any)
		if !sameLabels(s["labels"].(map[string]any), labels) {
			continue
		}
		if v, ok := s["value"].(float64); ok {
			return v
		}
		return float64(s["count"].(uint64))
	}
	return 0
}

func sameLabels(got map[string]any, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func (e *testEnv) tokenReads(t *testing.T, kind, result string) float64 {
	return e.metricValue(t, metricTokenReads, map[string]string{"kind": kind, "result": result})
}

// Every request sent is counted, retries included, and each read by how it
// was answered: cache, minted, stale or error.
func TestMetricsCountRequestsAndReads(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"request_timeout": "1s"})
	env.fake.InjectFault(fakeresamania.Fault{Status: 503, Count: 1})

	env.readToken(nil) // 503, retried, then minted
	env.readToken(nil) // from the cache
	require.Equal(t, 2, env.fake.TokenRequests(testChain, ""))
	requests := func(outcome string) float64 {
		return env.metricValue(t, metricUpstreamRequests, map[string]string{"grant": "client_credentials", "outcome": outcome})
	}
	require.Equal(t, 1.0, requests("server_error"))
	require.Equal(t, 1.0, requests("ok"))
	require.Equal(t, 2.0, env.metricValue(t, metricUpstreamDuration, map[string]string{"grant": "client_credentials"}), "one duration per request")
	require.Equal(t, 1.0, env.tokenReads(t, readKindToken, readMinted))
	require.Equal(t, 1.0, env.tokenReads(t, readKindToken, readCache))
	require.Equal(t, 1.0, env.metricValue(t, metricTokensCached, nil))
	require.Positive(t, env.metricValue(t, metricGoroutines, nil))

	// Past the refresh point, with Resamania down: the cached token, stale.
	env.clock.Advance(45 * time.Minute)
	env.fake.InjectFault(fakeresamania.Fault{Status: 502, RetryAfter: "120"})
	require.NotEmpty(t, env.readToken(nil).Warnings)
	require.Equal(t, 1.0, env.tokenReads(t, readKindToken, readStale))
	require.Equal(t, 2.0, requests("server_error"))

	// An unknown chain is a read that got an error.
	resp, err := env.request(logical.ReadOperation, "token/nochain", nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Equal(t, 1.0, env.tokenReads(t, readKindToken, readError))
	require.Equal(t, float64(env.fake.TokenRequests("", "")), requests("ok")+requests("server_error"), "every request the server saw, and no other")

	// A deleted chain's token leaves the cache.
	_, err = env.request(logical.DeleteOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	require.Equal(t, 0.0, env.metricValue(t, metricTokensCached, nil))
}

// A refresh that replaces the member's refresh token is counted; the first
// sign-in is not a rotation. The credentials gauge follows the keep-alive scan.
func TestMetricsCountRotationsAndCredentials(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.signIn(t)
	require.Equal(t, 0.0, env.metricValue(t, metricRefreshTokensRotated, nil))
	env.clock.Advance(2 * time.Minute)
	env.readCred(t)
	require.Equal(t, 1.0, env.metricValue(t, metricRefreshTokensRotated, nil))
	require.Equal(t, 1.0, env.tokenReads(t, readKindMember, readMinted))
	require.Equal(t, 1.0, env.metricValue(t, metricUpstreamRequests, map[string]string{"grant": "refresh_token", "outcome": "ok"}))
	require.Equal(t, 1.0, env.metricValue(t, metricUpstreamRequests, map[string]string{"grant": "authorization_code", "outcome": "ok"}))

	credentials := func(state credState) float64 {
		return env.metricValue(t, metricCredentials, map[string]string{"state": string(state)})
	}
	env.tick(t)
	require.Equal(t, 1.0, credentials(credActive))
	require.Equal(t, 0.0, credentials(credSignInRequired))

	env.clock.Advance(2 * time.Minute)
	env.fake.ExpireRefreshTokens(testChain)
	resp, err := env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	env.tick(t)
	require.Equal(t, 0.0, credentials(credActive))
	require.Equal(t, 1.0, credentials(credSignInRequired))
	require.Equal(t, 1.0, env.metricValue(t, metricUpstreamRequests, map[string]string{"grant": "refresh_token", "outcome": "rejected"}))
}

// Each mount counts in a registry of its own: nothing is global.
func TestMetricsArePerMount(t *testing.T) {
	one, two := getTestBackend(t), getTestBackend(t)
	one.configure(nil)
	one.readToken(nil)
	require.Equal(t, 1.0, one.tokenReads(t, readKindToken, readMinted))
	require.Equal(t, 0.0, two.tokenReads(t, readKindToken, readMinted))
}

// format=prometheus is a raw text body Vault passes through as is, valid by
// promtool when it is installed, with no chain name in any label.
func TestMetricsPrometheusFormat(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.signIn(t)
	env.readToken(nil)
	resp, err := env.request(logical.ReadOperation, "metrics", map[string]any{"format": "prometheus"})
	require.NoError(t, err)
	require.Equal(t, 200, resp.Data[logical.HTTPStatusCode])
	require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", resp.Data[logical.HTTPContentType])
	body := string(resp.Data[logical.HTTPRawBody].([]byte))
	require.Contains(t, body, `resamania_upstream_requests_total{grant="client_credentials",outcome="ok"} 1`)
	require.Contains(t, body, `resamania_token_reads_total{kind="token",result="minted"} 1`)
	require.Contains(t, body, "# TYPE resamania_upstream_request_duration_seconds histogram")
	require.NotContains(t, body, testChain, "no chain name in a label")
	require.NotContains(t, body, testMember)
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(line, "#") {
			require.True(t, strings.HasPrefix(line, "resamania_"), "every series is prefixed resamania_: %s", line)
		}
	}

	resp, err = env.request(logical.ReadOperation, "metrics", map[string]any{"format": "xml"})
	require.NoError(t, err)
	require.True(t, resp.IsError())

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian's prometheus package); the end-to-end test requires it")
	}
	path := filepath.Join(t.TempDir(), "metrics.txt")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	in, err := os.Open(path)
	require.NoError(t, err)
	defer in.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = in
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics: %s", out)
}
