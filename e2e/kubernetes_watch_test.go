package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncedTokens is what a watch saw of one destination Secret.
type syncedTokens struct {
	tokens    []string             // the access tokens it held, in order
	firstSeen map[string]time.Time // when the watch first saw each
	expiry    map[string]time.Time // when each expires, as the fake issued it
	leastLeft time.Duration        // the least life its token had left at any poll
	stale     []string             // polls at which it held a token the fake no longer takes
}

// watchPoll is how often a watch reads every Secret: far below the few
// seconds left between VSO's syncs and a token's expiry.
const watchPoll = 500 * time.Millisecond

// waitForSecrets waits until every Secret exists and holds a token.
func (ks *kubeStack) waitForSecrets(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, s := range vsoSecrets {
		for {
			if data := ks.kube.SecretData(t, appNamespace, s.name); data["access_token"] != "" {
				break
			}
			if time.Now().After(deadline) {
				vds, _ := ks.kube.Get(t, vdsPath(s.name))
				t.Fatalf("no token in Secret %s after %s; its VaultDynamicSecret's status: %v\nVSO's log:\n%s", s.name, timeout, vds["status"], tail(ks.vso.Log(), 40))
			}
			time.Sleep(watchPoll)
		}
	}
}

// watchSecrets reads every Secret each watchPoll for d, and checks on each
// read that it holds a token the fake issued, with the fields an app needs.
// A token past its expiry is recorded, not fatal, so the report shows them all.
func (ks *kubeStack) watchSecrets(t *testing.T, d time.Duration) map[string]*syncedTokens {
	t.Helper()
	seen := map[string]*syncedTokens{}
	for _, s := range vsoSecrets {
		seen[s.name] = &syncedTokens{firstSeen: map[string]time.Time{}, expiry: map[string]time.Time{}, leastLeft: kubeTokenLife}
	}
	refreshTokens := ks.fake.IssuedRefreshTokens()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(watchPoll) {
		require.False(t, ks.vso.Exited(), "the operator exited:\n%s", tail(ks.vso.Log(), 40))
		for _, s := range vsoSecrets {
			data := ks.kube.SecretData(t, appNamespace, s.name)
			now := time.Now()
			tok := data["access_token"]
			require.NotEmpty(t, tok, "Secret %s lost its token", s.name)
			got := seen[s.name]
			if _, ok := got.firstSeen[tok]; !ok {
				exp, issued := ks.fake.AccessTokenExpiry(tok)
				require.True(t, issued, "Secret %s holds a token the fake never issued", s.name)
				got.tokens = append(got.tokens, tok)
				got.firstSeen[tok], got.expiry[tok] = now, exp
				require.Equal(t, "Bearer", data["token_type"], s.name)
				require.NotEmpty(t, data["expires_at"], s.name)
				for _, rt := range refreshTokens {
					for key, v := range data {
						require.NotContains(t, v, rt, "Secret %s: %s holds a member's refresh token", s.name, key)
					}
				}
			}
			left := got.expiry[tok].Sub(now)
			got.leastLeft = min(got.leastLeft, left)
			if !ks.fake.AccessTokenValid(tok) {
				got.stale = append(got.stale, now.Format("15:04:05.000"))
			}
		}
	}
	return seen
}

// tail is the last n lines of a log, for failure messages.
func tail(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
