package upstream

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
)

// A node whose clock is off reads the gateway's absolute resets through the
// answer's Date: the hold and the budget last as long, in local time, as the
// gateway meant, whichever way the node's clock is wrong.

// skewedNodes are node clocks off from the gateway's.
var skewedNodes = []struct {
	name string
	skew time.Duration
}{
	{"node clock 10 minutes fast", 10 * time.Minute},
	{"node clock 10 minutes slow", -10 * time.Minute},
}

// skewedEnv is the fake gateway on its own clock, and a Config whose clock
// is skew away from it.
func skewedEnv(t *testing.T, skew time.Duration) (e *env, gateway *testsupport.Clock, node func() time.Time) {
	gateway = testsupport.NewClock()
	e = newEnv(t, fakeresamania.Options{Now: gateway.Now})
	node = func() time.Time { return gateway.Now().Add(skew) }
	e.cfg.Now, e.cfg.MaxAttempts = node, 1
	return e, gateway, node
}

func TestGatewayHoldLastsTheResetsDistanceFromTheAnswersDate(t *testing.T) {
	for _, tc := range skewedNodes {
		t.Run(tc.name, func(t *testing.T) {
			e, gateway, node := skewedEnv(t, tc.skew)
			e.srv.CloseGatewayWindow(testAPIKey, fakeresamania.LimitRate, gateway.Now().Add(time.Minute))
			holds := NewGatewayHolds()
			c := e.client(func(cfg *Config) { cfg.Holds = holds })

			_, err := c.ClientCredentials(context.Background())
			ue := asError(t, err)
			require.Equal(t, http.StatusTooManyRequests, ue.Status)
			require.NotNil(t, ue.Window, "the 429's window is read")
			requireInstant(t, node().Add(time.Minute), ue.Window.Until, "60 s of local time")
			require.Equal(t, time.Minute, ue.RetryAfter)

			_, closed := holds.closed(c.key, node().Add(59*time.Second))
			require.True(t, closed, "held for the minute")
			_, closed = holds.closed(c.key, node().Add(time.Minute))
			require.False(t, closed, "open once the minute is over")
		})
	}
}

func TestGatewayBudgetResetIsInLocalTime(t *testing.T) {
	for _, tc := range skewedNodes {
		t.Run(tc.name, func(t *testing.T) {
			e, gateway, node := skewedEnv(t, tc.skew)
			gateway.Advance(15 * time.Second) // the rate limit's window ends in 45 s
			e.srv.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 100, DailyQuota: 1000})
			c := e.client(func(cfg *Config) { cfg.Budgets = NewGatewayBudgets() })

			_, err := c.ClientCredentials(context.Background())
			require.NoError(t, err)
			b, ok := c.Budget()
			require.True(t, ok)
			requireInstant(t, node().Add(45*time.Second), b.Rate.Reset, "the rate limit's window ends 45 s after the Date")
			requireInstant(t, node().Add(11*time.Hour+59*time.Minute+45*time.Second), b.Quota.Reset, "the gateway's day ends at its midnight")
			require.Equal(t, int64(99), b.Rate.At(node()).Remaining, "the window has not started afresh")
		})
	}
}

func TestGatewayResetWithoutAUsableDateIsReadAsBefore(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	reset := now.Add(40 * time.Second)
	for _, tc := range []struct {
		name string
		date string // "" sends none
		want time.Time
	}{
		{"no Date", "", reset},
		{"a Date that does not parse", "yesterday at noon", reset},
		{"a Date more than a day off", now.Add(-25 * time.Hour).Format(http.TimeFormat), reset},
		{"a Date within a second of the node's clock", now.Add(-time.Second).Format(http.TimeFormat), reset},
		{"a Date a day off, at most", now.Add(-24 * time.Hour).Format(http.TimeFormat), reset.Add(24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGravitee(now).rate(1000, 0, 40*time.Second)
			if tc.date != "" {
				g.set("Date", tc.date)
			}
			w, ok := closedWindow(g.h, rateMessage, now)
			require.True(t, ok)
			requireInstant(t, tc.want, w.Until, "")
		})
	}
}

func TestRelativeGatewayResetIgnoresTheDate(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("X-Rate-Limit-Limit", "1000")
	h.Set("X-Rate-Limit-Remaining", "0")
	h.Set("X-Rate-Limit-Reset", "40") // seconds from now
	h.Set("Date", now.Add(-10*time.Minute).Format(http.TimeFormat))
	w, ok := closedWindow(h, rateMessage, now)
	require.True(t, ok)
	requireInstant(t, now.Add(40*time.Second), w.Until, "40 s of local time")
}

// requireInstant checks two times are the same instant, whatever their zones.
func requireInstant(t *testing.T, want, got time.Time, msg string) {
	t.Helper()
	require.True(t, want.Equal(got), "%s: want %s, got %s (%+v off)", msg, want.UTC(), got.UTC(), got.Sub(want))
}
