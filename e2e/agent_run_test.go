package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// agentPolicy is the README's policy for an app that reads the chain's token.
const (
	agentPolicyName = "resamania-reader"
	agentPolicy     = `path "resamania/token/mychain" { capabilities = ["read"] }`
)

// agentRun is what watching Vault Agent render the token showed.
type agentRun struct {
	watched   time.Duration
	tokens    []string             // distinct tokens the file held, in order
	firstSeen map[string]time.Time // when the file first held each
	oldestAge time.Duration        // the oldest a token in the file was (by its iat, to the second)
	leastLeft time.Duration        // the least life a token in the file had left (by its exp, to the second)
	reads     int                  // Agent's reads of the token path, from the audit log
	mints     int                  // client_credentials requests Resamania answered
	leases    int                  // leases left under the token path at the end
}

// watchAgent runs Vault Agent with docs/apps.md's very example files, from a
// folder of their own as that page says, with an app token limited to the
// README's policy, and samples the rendered file every 200 ms for watch: the
// file must never hold an expired or unknown token, nor Agent exit.
func watchAgent(t *testing.T, st *stack, watch time.Duration) agentRun {
	t.Helper()
	appToken := st.tokenWithPolicy(t, agentPolicyName, agentPolicy)
	root, err := vaultharness.RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	for _, f := range []string{"agent.hcl", "resamania-token.ctmpl"} {
		require.NoError(t, os.Symlink(filepath.Join(root, "examples", f), filepath.Join(dir, f)))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vault-token"), []byte(appToken), 0o600))
	agent := vaultharness.StartAgent(t, st.vault, filepath.Join(dir, "agent.hcl"), nil)
	rendered := filepath.Join(dir, "resamania-token.txt")
	agent.WaitForFile(t, rendered, 30*time.Second)

	run := agentRun{watched: watch, firstSeen: map[string]time.Time{}, leastLeft: time.Duration(1<<63 - 1)}
	for deadline := time.Now().Add(watch); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		raw, err := os.ReadFile(rendered)
		require.NoError(t, err)
		now := time.Now()
		if tok := strings.TrimSpace(string(raw)); tok != "" {
			require.True(t, st.fake.AccessTokenValid(tok), "the rendered file holds an expired or unknown token at %s", now.Format(time.RFC3339Nano))
			if _, ok := run.firstSeen[tok]; !ok {
				run.firstSeen[tok] = now
				run.tokens = append(run.tokens, tok)
			}
			iat, exp := tokenTimes(t, tok)
			run.oldestAge = max(run.oldestAge, now.Sub(iat))
			run.leastLeft = min(run.leastLeft, exp.Sub(now))
		}
		require.False(t, agent.Exited(), "vault agent exited:\n%s", agent.Log())
	}
	run.reads = auditedReads(t, st.audit, tokenPath, agentPolicyName)
	run.mints = st.fake.TokenRequests(chain, fakeresamania.GrantClientCredentials)
	lease, err := st.vault.Client.Logical().List("sys/leases/lookup/" + tokenPath + "/")
	require.NoError(t, err)
	if lease != nil {
		keys, _ := lease.Data["keys"].([]any)
		run.leases = len(keys)
	}
	t.Logf("over %s: %d tokens rendered, %d Agent reads, %d mints, %d leases left; oldest token in the file %s old, least life left %s",
		watch, len(run.tokens), run.reads, run.mints, run.leases, run.oldestAge.Round(time.Second), run.leastLeft.Round(time.Second))
	return run
}

// lives is how many token lives of life each fit in the watch, rounded up.
func (r agentRun) lives(life time.Duration) int {
	return int((r.watched + life - 1) / life)
}

// tokenTimes reads the iat and exp claims of the fake's JWT access token,
// whole seconds both.
func tokenTimes(t *testing.T, token string) (iat, exp time.Time) {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, "a JWT")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct{ Iat, Exp int64 }
	require.NoError(t, json.Unmarshal(payload, &claims))
	return time.Unix(claims.Iat, 0), time.Unix(claims.Exp, 0)
}

// auditedReads counts the audit log's answered reads of path by tokens that
// hold policy.
func auditedReads(t *testing.T, auditLog, path, policy string) int {
	t.Helper()
	f, err := os.Open(auditLog)
	require.NoError(t, err)
	defer f.Close()
	n := 0
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var entry struct {
			Type string `json:"type"`
			Auth struct {
				Policies []string `json:"policies"`
			} `json:"auth"`
			Request struct {
				Operation string `json:"operation"`
				Path      string `json:"path"`
			} `json:"request"`
		}
		require.NoError(t, json.Unmarshal(lines.Bytes(), &entry), lines.Text())
		if entry.Type == "response" && entry.Request.Operation == "read" && entry.Request.Path == path && slices.Contains(entry.Auth.Policies, policy) {
			n++
		}
	}
	require.NoError(t, lines.Err())
	return n
}
