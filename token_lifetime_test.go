package resamania

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var lifetimeT0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// tokenLiving is a token issued at lifetimeT0 that lives life.
func tokenLiving(life time.Duration) *cachedToken {
	return &cachedToken{AccessToken: "t", IssuedAt: lifetimeT0, ExpiresAt: lifetimeT0.Add(life)}
}

func TestLeaseMargin(t *testing.T) {
	cases := []struct {
		life, margin time.Duration
	}{
		{500 * time.Millisecond, time.Second},
		{5 * time.Second, time.Second},
		{10 * time.Second, time.Second},
		{25 * time.Second, 2500 * time.Millisecond},
		{60 * time.Second, 6 * time.Second},
		{600 * time.Second, 60 * time.Second},
		{3600 * time.Second, 60 * time.Second},
		{7200 * time.Second, 60 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.life.String(), func(t *testing.T) {
			require.Equal(t, tc.margin, leaseMargin(tokenLiving(tc.life)))
		})
	}
}

func TestLeaseTTL(t *testing.T) {
	cases := []struct {
		name       string
		life, age  time.Duration
		ttl        time.Duration
		commentary string
	}{
		{"new 60s token", 60 * time.Second, 0, 54 * time.Second, "60s - 6s margin"},
		{"60s token, fraction of a second truncated", 60 * time.Second, 10500 * time.Millisecond, 43 * time.Second, "49.5s - 6s = 43.5s"},
		{"new hour token", time.Hour, 0, time.Hour - time.Minute, "margin clamped to 60s"},
		{"two-hour token just after issue", 2 * time.Hour, 100 * time.Millisecond, 7139 * time.Second, "7199.9s - 60s, truncated"},
		{"new 5s token", 5 * time.Second, 0, 4 * time.Second, "margin raised to 1s"},
		{"5s token near expiry", 5 * time.Second, 3500 * time.Millisecond, time.Second, "0.5s, raised to 1s"},
		{"expired token", 60 * time.Second, 70 * time.Second, time.Second, "never under a second"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.ttl, leaseTTL(tokenLiving(tc.life), lifetimeT0.Add(tc.age)), tc.commentary)
		})
	}
}

// TestLifetimeFreshAndUsable: fresh while more than a third of the life and
// more than margin+1s are left; usable, as a fallback, down to margin+1s.
func TestLifetimeFreshAndUsable(t *testing.T) {
	const ns = time.Nanosecond
	cases := []struct {
		name          string
		life, left    time.Duration
		minLeft       time.Duration
		fresh, usable bool
	}{
		{"60s, new", 60 * time.Second, 60 * time.Second, 0, true, true},
		{"60s, just over a third left", 60 * time.Second, 20*time.Second + ns, 0, true, true},
		{"60s, a third left", 60 * time.Second, 20 * time.Second, 0, false, true},
		{"60s, just over margin+1s left", 60 * time.Second, 7*time.Second + ns, 0, false, true},
		{"60s, margin+1s left", 60 * time.Second, 7 * time.Second, 0, false, false},
		{"60s, expired", 60 * time.Second, -time.Second, 0, false, false},
		{"60s, minLeft met exactly", 60 * time.Second, 30 * time.Second, 30 * time.Second, true, true},
		{"60s, minLeft missed by 1ns", 60 * time.Second, 30 * time.Second, 30*time.Second + ns, false, false},
		{"60s, stale but meets minLeft", 60 * time.Second, 15 * time.Second, 15 * time.Second, false, true},
		{"5s, new", 5 * time.Second, 5 * time.Second, 0, true, true},
		{"5s, just over margin+1s left", 5 * time.Second, 2*time.Second + ns, 0, true, true},
		{"5s, margin+1s left", 5 * time.Second, 2 * time.Second, 0, false, false},
		{"2s, new: never served, its lease would be under a second", 2 * time.Second, 2 * time.Second, 0, false, false},
		{"1h, a third left", time.Hour, 20 * time.Minute, 0, false, true},
		{"1h, just over margin+1s left", time.Hour, 61*time.Second + ns, 0, false, true},
		{"1h, margin+1s left", time.Hour, 61 * time.Second, 0, false, false},
		{"1d, just over a third left", 24 * time.Hour, 8*time.Hour + ns, 0, true, true},
		{"1d, a third left", 24 * time.Hour, 8 * time.Hour, 0, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tokenLiving(tc.life)
			now := tok.ExpiresAt.Add(-tc.left)
			require.Equal(t, tc.fresh, isFresh(tok, now, tc.minLeft), "isFresh")
			require.Equal(t, tc.usable, isUsable(tok, now, tc.minLeft), "isUsable")
		})
	}
}

// TestLifetimeReaderBackNearLeaseEndGetsNewToken: the promise of
// token_lifetime.go. A reader served a fresh token, coming back at 85% or 95%
// of its lease (as Vault Agent does), finds it no longer fresh, so never takes
// the old token again close to its end.
func TestLifetimeReaderBackNearLeaseEndGetsNewToken(t *testing.T) {
	for _, life := range []time.Duration{5 * time.Second, 10 * time.Second, 60 * time.Second, time.Hour, 24 * time.Hour} {
		t.Run(life.String(), func(t *testing.T) {
			tok := tokenLiving(life)
			// The life in 200 steps. The cache serves the token fresh for its
			// first two thirds (for these lives T/3 exceeds the margin plus a
			// second) and never after. Under 10s the lease's truncation to
			// whole seconds breaks the promise for a read even a few ms after
			// issue (a 5s token read at 25ms comes back at 85% with 2.4s
			// left, still fresh): only the read at issue is held to it there.
			reads := []time.Time{lifetimeT0}
			if life >= 10*time.Second {
				reads = nil
				for i := range 200 {
					read := lifetimeT0.Add(life * time.Duration(i) / 200)
					if 3*i >= 2*200 {
						require.False(t, isFresh(tok, read, 0), "read at %s, past two thirds of the life: served fresh", read.Sub(lifetimeT0))
						continue
					}
					reads = append(reads, read)
				}
			}
			for _, read := range reads {
				require.True(t, isFresh(tok, read, 0), "read at %s, within the first two thirds of the life: not served fresh", read.Sub(lifetimeT0))
				lease := leaseTTL(tok, read)
				require.True(t, read.Add(lease).Before(tok.ExpiresAt), "lease of a read at %s outlives the token", read.Sub(lifetimeT0))
				for _, frac := range []float64{0.85, 0.95} {
					back := read.Add(time.Duration(frac * float64(lease)))
					require.False(t, isFresh(tok, back, 0),
						"read at %s (lease %s), back at %.0f%% with %s left: still fresh",
						read.Sub(lifetimeT0), lease, frac*100, tok.ExpiresAt.Sub(back))
				}
			}
		})
	}
}
