package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// agentTokenLife is how long the fake's tokens live in the Agent tests.
const agentTokenLife = 20 * time.Second

// Vault Agent renders the token with docs/apps.md's example files, against a
// leased chain whose tokens live 20 s, over more than three token lives: the
// file always holds a valid token, gets a new one before the old expires, and
// Agent reads a bounded number of times per token life.
func TestVaultAgentTemplateKeepsTokenFresh(t *testing.T) {
	t.Parallel() // most of it waits for token lives
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}, expiresIn: int(agentTokenLife.Seconds())})
	st.configure(t)
	requireLeasedTokensReplacedInTime(t, watchAgent(t, st, 3*agentTokenLife+8*time.Second))
}

// The same with lease_mode=renewable (the mode for Vault Proxy): Agent renews
// the lease up to its end, never past it, then reads again, so the file still
// gets a new token before the old one expires.
func TestVaultAgentTemplateRenewableChain(t *testing.T) {
	t.Parallel() // most of it waits for token lives
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}, expiresIn: int(agentTokenLife.Seconds())})
	st.configure(t, "lease_mode=renewable")
	requireLeasedTokensReplacedInTime(t, watchAgent(t, st, 3*agentTokenLife+8*time.Second))
}

func requireLeasedTokensReplacedInTime(t *testing.T, run agentRun) {
	t.Helper()
	require.GreaterOrEqual(t, len(run.tokens), 4, "a new token at least once per token life")
	for i := 1; i < len(run.tokens); i++ {
		gap := run.firstSeen[run.tokens[i]].Sub(run.firstSeen[run.tokens[i-1]])
		require.Less(t, gap, agentTokenLife, "token %d replaced its predecessor before it expired", i)
	}
	lives := run.lives(agentTokenLife)
	require.GreaterOrEqual(t, run.reads, len(run.tokens))
	require.LessOrEqual(t, run.reads, 2*(lives+1), "Agent reads a bounded number of times per token life")
	require.LessOrEqual(t, run.mints, 2*(lives+1))
	require.Positive(t, run.leases, "the leased chain's reads hold leases")
}

// The same Agent and example files against a chain without leases: the read
// carries ttl and rotation_period, so Agent re-reads when the plugin has a
// newer token (about once per token life) instead of every 5 minutes, which
// would leave an expired token in the file; and no lease is ever created.
func TestVaultAgentTemplateUnleasedChain(t *testing.T) {
	t.Parallel() // most of it waits for token lives
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}, expiresIn: int(agentTokenLife.Seconds())})
	st.configure(t, "no_lease=true")

	// What consul-template reads, as it gets it: no lease, and ttl and
	// rotation_period as JSON numbers (it type-asserts json.Number).
	sec, err := st.vault.Client.Logical().Read(tokenPath)
	require.NoError(t, err)
	require.Empty(t, sec.LeaseID)
	ttl, ok := sec.Data["ttl"].(json.Number)
	require.True(t, ok, "ttl is %T", sec.Data["ttl"])
	secs, err := ttl.Int64()
	require.NoError(t, err)
	require.True(t, secs >= 1 && secs <= int64(agentTokenLife*2/3/time.Second)+1, "ttl %d: until the plugin has a newer token, at 2/3 of its life (rounded up)", secs)
	period, ok := sec.Data["rotation_period"].(json.Number)
	require.True(t, ok, "rotation_period is %T", sec.Data["rotation_period"])
	require.Equal(t, json.Number("14"), period, "to the next token: 2/3 of 20 s, rounded up")
	lastRotation, _ := sec.Data["last_vault_rotation"].(string)
	issued, err := time.Parse(time.RFC3339Nano, lastRotation)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), issued, 5*time.Second)

	watch := 7 * agentTokenLife / 2
	run := watchAgent(t, st, watch)
	require.Zero(t, run.leases, "an unleased chain's reads create no lease")
	// One read per token life at least, or the file would have held an
	// expired token; the plugin hands out a newer token at 2/3 of a token's
	// life and Agent reads a second after, so about 1.5 reads a life, plus
	// the first.
	require.GreaterOrEqual(t, run.reads, run.lives(agentTokenLife), "Agent reads at least once per token life")
	require.LessOrEqual(t, run.reads, int(watch/(agentTokenLife*2/3))+2, "Agent reads about once per token life, not more")
	require.GreaterOrEqual(t, len(run.tokens), run.reads-1, "each Agent read (but the one as the watch ended) brings a newer token")
	// Agent takes the newer token within a second or so of the plugin having
	// it, not near the old one's end (nor at the 5 minutes of a read without
	// ttl); the ages are to the second.
	require.Less(t, run.oldestAge, agentTokenLife*2/3+4*time.Second, "Agent replaced each token soon after the plugin had a newer one")
}
