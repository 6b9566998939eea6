package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// The plugin's metrics on the real Vault: behind the example policy, raw
// Prometheus text that promtool accepts, and scraped by a real Prometheus
// with docs/operations.md's scrape config, whose count of upstream requests is the
// fake server's.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	requireTool(t, "prometheus")
	promtool := requireTool(t, "promtool")
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t)
	st.fake.AddClub(chain, 12)

	root, err := vaultharness.RepoRoot()
	require.NoError(t, err)
	st.vault.MustCLI(t, "policy", "write", "resamania-metrics", filepath.Join(root, "examples", "metrics-policy.hcl"))
	token := strings.TrimSpace(st.vault.MustCLI(t, "token", "create", "-policy=resamania-metrics", "-period=768h", "-field=token"))
	scraper := st.clientAs(t, token)
	requireDenied(t, scraper, tokenPath)
	requireDenied(t, st.clientAs(t, ""), mount+"/metrics")

	// Some work: a token minted after a retried 503, read again from the
	// cache, a club token, a member's sign-in and refresh.
	st.fake.InjectFault(fakeresamania.Fault{Status: 503, Count: 1})
	st.readToken(t)
	st.readToken(t)
	st.vault.MustCLI(t, "read", mount+"/token/"+chain+"/clubs/12")
	code := st.fake.IssueCode(chain, clientID, redirectURI, member)
	st.vault.MustCLI(t, "write", credsPrefix+member, "code="+code, "redirect_uri="+redirectURI, "state="+issueState(t, st.vault.Client, mount, chain, member))
	st.readLeased(t, credsPrefix+member)
	sent := st.fake.TokenRequests("", "")
	require.GreaterOrEqual(t, sent, 4, "a 503 and its retry, a club grant, a code exchange")
	t.Logf("the fake server saw %d token requests", sent)

	body := st.rawMetrics(t, token)
	require.Contains(t, body, `resamania_upstream_requests_total{grant="client_credentials",outcome="server_error"} 1`)
	require.NotContains(t, body, chain, "no chain name in a label")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(body)
	out, err := check.CombinedOutput()
	require.NoError(t, err, "promtool check metrics: %s", out)

	sec, err := scraper.Logical().Read(mount + "/metrics")
	require.NoError(t, err)
	require.Contains(t, sec.Data, "resamania_upstream_requests_total", "the JSON form, through the api client")

	// docs/operations.md's scrape config, pointed at this Vault, every second.
	example, err := os.ReadFile(filepath.Join(root, "examples", "prometheus.yml"))
	require.NoError(t, err)
	tokenFile := filepath.Join(t.TempDir(), "vault-resamania-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	config := "global:\n  scrape_interval: 1s\n" + strings.NewReplacer(
		"scheme: https", "scheme: http",
		"/etc/prometheus/vault-resamania-token", tokenFile,
		`["vault-0.example:8200", "vault-1.example:8200", "vault-2.example:8200"]`, `["`+strings.TrimPrefix(st.vault.Addr, "http://")+`"]`,
	).Replace(string(example))
	require.NotEqual(t, string(example), config)
	prom := startPrometheus(t, config)
	prom.waitForValue(t, `up{job="vault-resamania"}`, 1, 30*time.Second)
	prom.waitForValue(t, "sum(resamania_upstream_requests_total)", float64(sent), 30*time.Second)
	prom.waitForValue(t, `sum(resamania_token_reads_total{kind="token",result="cache"})`, 1, 30*time.Second)
	require.Equal(t, sent, st.fake.TokenRequests("", ""), "the scrapes sent nothing to Resamania")
}

// rawMetrics is GET /v1/<mount>/metrics?format=prometheus with token, as a
// scraper sends it: a raw text body with Prometheus' content type.
func (st *stack) rawMetrics(t *testing.T, token string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, st.vault.Addr+"/v1/"+mount+"/metrics?format=prometheus", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
	require.True(t, bytes.HasPrefix(body, []byte("# HELP resamania_")), "a raw body, not JSON: %.80s", body)
	return string(body)
}
