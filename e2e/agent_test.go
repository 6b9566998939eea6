package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// Vault Agent renders the token with the README's example files, against
// tokens that live 20 s, over more than three token lives: the file always
// holds a valid token, gets a new one before the old expires, and Agent reads
// a bounded number of times per token life.
func TestVaultAgentTemplateKeepsTokenFresh(t *testing.T) {
	const tokenLife = 20 * time.Second
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}, expiresIn: int(tokenLife.Seconds())})
	st.configure(t)

	// An app token limited to the README's policy.
	appToken := st.tokenWithPolicy(t, "resamania-reader", `path "resamania/token/mychain" { capabilities = ["read"] }`)

	// The very example files, run from a folder of their own as the README says.
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

	seen := map[string]time.Time{}
	var order []string
	deadline := time.Now().Add(3*tokenLife + 8*time.Second)
	for time.Now().Before(deadline) {
		raw, err := os.ReadFile(rendered)
		require.NoError(t, err)
		tok := strings.TrimSpace(string(raw))
		if tok != "" {
			require.True(t, st.fake.AccessTokenValid(tok), "the rendered file holds an expired or unknown token at %s", time.Now().Format(time.RFC3339))
			if _, ok := seen[tok]; !ok {
				seen[tok] = time.Now()
				order = append(order, tok)
			}
		}
		require.False(t, agent.Exited(), "vault agent exited:\n%s", agent.Log())
		time.Sleep(200 * time.Millisecond)
	}
	require.GreaterOrEqual(t, len(order), 4, "a new token at least once per token life")
	for i := 1; i < len(order); i++ {
		gap := seen[order[i]].Sub(seen[order[i-1]])
		require.Less(t, gap, tokenLife, "token %d replaced its predecessor before it expired", i)
	}

	auditLog, err := os.ReadFile(st.audit)
	require.NoError(t, err)
	agentReads := 0
	for _, line := range strings.Split(string(auditLog), "\n") {
		if strings.Contains(line, `"type":"response"`) && strings.Contains(line, `"path":"resamania/token/mychain"`) {
			agentReads++
		}
	}
	lives := int((3*tokenLife + 8*time.Second) / tokenLife)
	require.GreaterOrEqual(t, agentReads, len(order))
	require.LessOrEqual(t, agentReads, 2*(lives+1), "Agent reads a bounded number of times per token life")
	require.LessOrEqual(t, st.fake.TokenRequests(chain, ""), 2*(lives+1))
	t.Logf("tokens rendered: %d, agent reads: %d, upstream mints: %d over %s", len(order), agentReads, st.fake.TokenRequests(chain, ""), 3*tokenLife+8*time.Second)
}
