package e2e

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// quietMomentToKill reports whether killing the active node now cannot lose a
// refresh token: no refresh is in flight or was sent in the last half second
// (its rotated token is committed to raft by then), and each of the n
// credentials refreshed within the last two seconds, so none is due for a
// reader's refresh (3 s into a 5 s token) or the periodic refresh ahead
// (2.5 s in) before the kill lands. A crash between Resamania's rotation and
// the commit of the new refresh token loses the grant whatever the plugin
// does (docs/resamania.md, "Answers"), so the test does not aim there.
func quietMomentToKill(fake *fakeresamania.Server, n int, now time.Time) bool {
	var refreshes []time.Time
	for _, r := range fake.Requests() {
		if r.Status == 0 {
			return false
		}
		if r.GrantType == "refresh_token" {
			refreshes = append(refreshes, r.Time)
		}
	}
	if len(refreshes) < n {
		return false
	}
	sort.Slice(refreshes, func(i, j int) bool { return refreshes[i].Before(refreshes[j]) })
	last, nth := refreshes[len(refreshes)-1], refreshes[len(refreshes)-n]
	return now.Sub(last) >= 500*time.Millisecond && now.Sub(nth) <= 2*time.Second
}

// waitQuietMoment polls quietMomentToKill for n credentials and returns the
// first quiet moment, failing after clusterQuietTimeout.
func waitQuietMoment(t *testing.T, fake *fakeresamania.Server, n int) time.Time {
	t.Helper()
	deadline := time.Now().Add(clusterQuietTimeout)
	for {
		now := time.Now()
		if quietMomentToKill(fake, n, now) {
			return now
		}
		require.True(t, now.Before(deadline), "no moment without a refresh in flight in %s", clusterQuietTimeout)
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRefreshInFlight waits until the fake holds a refresh_token request it
// has not answered yet, and returns its refresh token.
func waitRefreshInFlight(t *testing.T, fake *fakeresamania.Server) string {
	t.Helper()
	var rt string
	require.Eventually(t, func() bool {
		for _, r := range fake.Requests() {
			if r.GrantType == "refresh_token" && r.Status == 0 {
				rt = r.Form.Get("refresh_token")
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no refresh in flight")
	return rt
}
