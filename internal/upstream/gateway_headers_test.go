package upstream

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gravitee builds the headers a Gravitee plan of a quota, a rate limit and a
// spike arrest sets: each policy that ran adds its own (docs/resamania.md).
type gravitee struct {
	h   http.Header
	now time.Time
}

func newGravitee(now time.Time) *gravitee { return &gravitee{h: http.Header{}, now: now} }

func (g *gravitee) quota(limit, remaining int, reset time.Duration) *gravitee {
	return g.counted("X-Quota", limit, remaining, reset)
}

func (g *gravitee) rate(limit, remaining int, reset time.Duration) *gravitee {
	return g.counted("X-Rate-Limit", limit, remaining, reset)
}

func (g *gravitee) counted(prefix string, limit, remaining int, reset time.Duration) *gravitee {
	g.h.Add(prefix+"-Limit", strconv.Itoa(limit))
	g.h.Add(prefix+"-Remaining", strconv.Itoa(remaining))
	g.h.Add(prefix+"-Reset", strconv.FormatInt(g.now.Add(reset).UnixMilli(), 10))
	return g
}

// spike: the spike arrest sends its slice, and no Remaining.
func (g *gravitee) spike(limit int, reset time.Duration) *gravitee {
	g.h.Set("X-Spike-Arrest-Limit", strconv.Itoa(limit))
	g.h.Set("X-Spike-Arrest-Slice-Period", "100ms")
	g.h.Set("X-Spike-Arrest-Reset", strconv.FormatInt(g.now.Add(reset).UnixMilli(), 10))
	return g
}

func (g *gravitee) set(name, value string) *gravitee { g.h.Set(name, value); return g }

const (
	spikeMessage = "Spike limit exceeded ! You reach the limit of 16 requests per 100 ms."
	rateMessage  = "Rate limit exceeded ! You reach the limit of 1000 requests per 1 minutes"
	rateMessage4 = "Rate limit exceeded! You reached the limit of 1000 requests per 1 minutes" // Gravitee 4's wording
	quotaMessage = "Quota exceeded ! You reach the limit of 50000 requests per 1 days"
)

func TestClosedWindowReadsGraviteesRefusals(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	day, minute := 9*time.Hour, 40*time.Second
	for _, tc := range []struct {
		name      string
		headers   *gravitee
		message   string
		wantLimit string
		wantIn    time.Duration // the window ends this long after now
		wantNone  bool
	}{
		{
			name:      "the spike arrest refused: the quota and the rate limit have requests left",
			headers:   newGravitee(now).quota(50000, 41234, day).rate(1000, 812, minute).spike(16, 60*time.Millisecond),
			message:   spikeMessage,
			wantLimit: "spike arrest", wantIn: 60 * time.Millisecond,
		},
		{
			name:      "the spike arrest refused, its message lost: the limits with requests left are ruled out",
			headers:   newGravitee(now).quota(50000, 41234, day).rate(1000, 812, minute).spike(16, 60*time.Millisecond),
			wantLimit: "spike arrest", wantIn: 60 * time.Millisecond,
		},
		{
			name:      "the rate limit refused: the spike arrest did not run",
			headers:   newGravitee(now).quota(50000, 41000, day).rate(1000, 0, minute),
			message:   rateMessage,
			wantLimit: "rate limit", wantIn: minute,
		},
		{
			name:      "Gravitee 4's wording of the rate limit's refusal",
			headers:   newGravitee(now).quota(50000, 41000, day).rate(1000, 0, minute),
			message:   rateMessage4,
			wantLimit: "rate limit", wantIn: minute,
		},
		{
			name:      "the quota refused: nothing after it ran",
			headers:   newGravitee(now).quota(50000, 0, day),
			message:   quotaMessage,
			wantLimit: "daily quota", wantIn: day,
		},
		{
			name:      "no message: the limit whose Remaining is 0",
			headers:   newGravitee(now).quota(50000, 12, day).rate(1000, 0, minute),
			wantLimit: "rate limit", wantIn: minute,
		},
		{
			name:      "no message, two limits at 0: the soonest reset, never the latest",
			headers:   newGravitee(now).quota(50000, 0, day).rate(1000, 0, minute),
			wantLimit: "rate limit", wantIn: minute,
		},
		{
			name:      "a reset in epoch seconds instead of milliseconds",
			headers:   newGravitee(now).set("X-Rate-Limit-Remaining", "0").set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(minute).Unix(), 10)),
			message:   rateMessage,
			wantLimit: "rate limit", wantIn: minute,
		},
		{
			name:      "a reset as seconds from now",
			headers:   newGravitee(now).set("X-Rate-Limit-Remaining", "0").set("X-Rate-Limit-Reset", "40"),
			wantLimit: "rate limit", wantIn: minute,
		},
		{
			name:     "a reset in the past closes nothing",
			headers:  newGravitee(now).quota(50000, 41000, day).rate(1000, 0, -time.Second),
			message:  rateMessage,
			wantNone: true,
		},
		{
			name:     "a reset of garbage closes nothing",
			headers:  newGravitee(now).set("X-Rate-Limit-Remaining", "0").set("X-Rate-Limit-Reset", "soon"),
			wantNone: true,
		},
		{
			name: "Remaining -1 (Gravitee could not count) and Reset -1 beside an exhausted limit",
			headers: newGravitee(now).set("X-Quota-Remaining", "-1").set("X-Quota-Reset", "-1").
				set("X-Rate-Limit-Remaining", "0").set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(minute).UnixMilli(), 10)),
			wantLimit: "rate limit", wantIn: minute,
		},
		{
			name: "Remaining -1 with a reset, and nothing at 0: a limit that does not say it has requests left",
			headers: newGravitee(now).quota(50000, 41000, day).
				set("X-Rate-Limit-Remaining", "-1").set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(minute).UnixMilli(), 10)),
			wantLimit: "rate limit", wantIn: minute,
		},
		{
			name: "headers of two keys' plans in one answer: the exhausted one's reset",
			headers: newGravitee(now).quota(50000, 41000, day).quota(20000, 19000, 2*day).
				rate(1000, 700, minute).rate(100, 0, 20*time.Second),
			wantLimit: "rate limit", wantIn: 20 * time.Second,
		},
		{
			name: "headers of two plans joined by commas",
			headers: newGravitee(now).set("X-Rate-Limit-Remaining", "700, 0").
				set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(minute).UnixMilli(), 10)+", "+strconv.FormatInt(now.Add(20*time.Second).UnixMilli(), 10)),
			wantLimit: "rate limit", wantIn: 20 * time.Second,
		},
		{
			name:      "a spike arrest whose reset is misread far off ends within its slice",
			headers:   newGravitee(now).quota(50000, 41234, day).rate(1000, 812, minute).spike(16, time.Hour),
			message:   spikeMessage,
			wantLimit: "spike arrest", wantIn: 100 * time.Millisecond,
		},
		{
			name:      "a spike arrest without any reset ends one slice from now",
			headers:   newGravitee(now).quota(50000, 41234, day).rate(1000, 812, minute).set("X-Spike-Arrest-Slice-Period", "250ms"),
			message:   spikeMessage,
			wantLimit: "spike arrest", wantIn: 250 * time.Millisecond,
		},
		{
			name:     "every limit has requests left: nothing says which closed",
			headers:  newGravitee(now).quota(50000, 41234, day).rate(1000, 812, minute),
			wantNone: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, ok := closedWindow(tc.headers.h, tc.message, now)
			if tc.wantNone {
				require.False(t, ok, "closed %+v", w)
				return
			}
			require.True(t, ok)
			require.Equal(t, tc.wantLimit, w.Limit)
			require.WithinDuration(t, now.Add(tc.wantIn), w.Until, time.Millisecond)
		})
	}
}

func TestParseResetReadsEachForm(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	ms := now.Add(time.Minute).UnixMilli()
	require.True(t, time.UnixMilli(ms).Equal(parseReset(strconv.FormatInt(ms, 10), now)), "epoch milliseconds")
	require.True(t, now.Add(time.Minute).Equal(parseReset(strconv.FormatInt(now.Add(time.Minute).Unix(), 10), now)), "epoch seconds")
	require.True(t, now.Add(30*time.Second).Equal(parseReset("30", now)), "seconds from now")
	for _, v := range []string{"", "-1", "0", "x", "1.5e12"} {
		require.True(t, parseReset(v, now).IsZero(), v)
	}
}

func TestGatewayTextReadsGraviteesJSONOrPlainText(t *testing.T) {
	require.Equal(t, spikeMessage, gatewayText([]byte(`{"message":"`+spikeMessage+`","http_status_code":429}`)))
	require.Equal(t, noContextPathText, gatewayText([]byte(noContextPathText+"\n")))
	require.Empty(t, gatewayText(nil))
}
