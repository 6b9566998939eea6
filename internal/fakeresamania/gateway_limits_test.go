package fakeresamania_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
)

const gatewayKey = "gw-key"

// postKeyed posts a form to a chain's token endpoint with a gateway key.
func postKeyed(t *testing.T, srv *fakeresamania.Server, clientToken, key string, form url.Values) answer {
	t.Helper()
	req := formRequest(t, srv.TokenURL(clientToken), form)
	if key != "" {
		req.Header.Set("x-gravitee-api-key", key)
	}
	return send(t, req)
}

// requireLimited checks a gateway 429 of the limit whose headers start with
// prefix, and returns its reset.
func requireLimited(t *testing.T, a answer, now time.Time, prefix, message string, limit int) time.Time {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, a.status, a.raw)
	require.Equal(t, "application/json", a.header.Get("Content-Type"))
	require.Equal(t, map[string]any{"message": message, "http_status_code": float64(429)}, a.json)
	require.Empty(t, a.header.Values("Retry-After"), "Gravitee sends no Retry-After")
	require.Equal(t, strconv.Itoa(limit), a.header.Get(prefix+"-Limit"))
	if prefix == "X-Spike-Arrest" {
		require.Equal(t, "100ms", a.header.Get(prefix+"-Slice-Period"))
		require.Empty(t, a.header.Values(prefix+"-Remaining"))
	} else {
		require.Equal(t, "0", a.header.Get(prefix+"-Remaining"))
	}
	ran := true // the plan's policies run in this order: those before the refusing one ran
	for _, other := range []string{"X-Quota", "X-Rate-Limit", "X-Spike-Arrest"} {
		switch {
		case other == prefix:
			ran = false
		case ran && a.header.Get(other+"-Limit") != "":
			remaining, err := strconv.Atoi(a.header.Get(other + "-Remaining"))
			require.NoError(t, err, "%s ran first and says what is left", other)
			require.Positive(t, remaining, "%s ran first and did not refuse", other)
		case !ran:
			require.Empty(t, a.header.Values(other+"-Reset"), "%s runs after the refusing policy", other)
		}
	}
	ms, err := strconv.ParseInt(a.header.Get(prefix+"-Reset"), 10, 64)
	require.NoError(t, err, "the reset is epoch milliseconds")
	reset := time.UnixMilli(ms)
	require.True(t, reset.After(now), "the reset %s is after the server's now %s", reset, now)
	return reset
}

func TestGatewayLimitTripsAndReopens(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  fakeresamania.GatewayLimits
		kind    fakeresamania.LimitKind
		n       int
		prefix  string
		message string
		window  time.Duration
	}{
		{"spike arrest", fakeresamania.GatewayLimits{SpikeArrest: 2}, fakeresamania.LimitSpikeArrest, 2,
			"X-Spike-Arrest", "Spike limit exceeded ! You reach the limit of 2 requests per 100 ms.", 100 * time.Millisecond},
		{"rate limit", fakeresamania.GatewayLimits{RatePerMinute: 3}, fakeresamania.LimitRate, 3,
			"X-Rate-Limit", "Rate limit exceeded ! You reach the limit of 3 requests per 1 minutes", time.Minute},
		{"quota", fakeresamania.GatewayLimits{DailyQuota: 4}, fakeresamania.LimitQuota, 4,
			"X-Quota", "Quota exceeded ! You reach the limit of 4 requests per 1 days", 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testsupport.NewClock()
			srv := newServer(t, fakeresamania.Options{Now: clock.Now, GatewayKey: gatewayKey})
			srv.SetGatewayLimits(tc.limits)

			for i := range tc.n {
				a := postKeyed(t, srv, chain, gatewayKey, ccForm())
				requireToken(t, a)
				require.Equal(t, strconv.Itoa(tc.n), a.header.Get(tc.prefix+"-Limit"), "successes carry the limit's headers")
				if tc.kind != fakeresamania.LimitSpikeArrest {
					require.Equal(t, strconv.Itoa(tc.n-1-i), a.header.Get(tc.prefix+"-Remaining"))
				}
				require.NotEmpty(t, a.header.Get(tc.prefix+"-Reset"))
			}
			for range 2 { // refused again and again until the window ends
				a := postKeyed(t, srv, chain, gatewayKey, ccForm())
				reset := requireLimited(t, a, clock.Now(), tc.prefix, tc.message, tc.n)
				require.False(t, reset.After(clock.Now().Add(tc.window)), "the window ends within its period")
			}

			require.Len(t, srv.IssuedAccessTokens(), tc.n, "the OAuth server never saw the refused requests")
			require.Equal(t, tc.n, srv.TokenRequests(chain, ""))
			require.Equal(t, 2, srv.GatewayRefusals(gatewayKey))
			reqs := srv.Requests()
			require.Len(t, reqs, tc.n+2)
			last := reqs[len(reqs)-1]
			require.Equal(t, http.StatusTooManyRequests, last.Status)
			require.Equal(t, tc.kind, last.GatewayLimit)
			require.Equal(t, last.Answered, clock.Now(), "answered at the server's time")
			require.Equal(t, last.Time.Truncate(tc.window).Add(tc.window), last.GatewayReset, "the window's end, as the 429 said")
			require.Equal(t, fakeresamania.GrantClientCredentials, last.GrantType)
			require.Empty(t, reqs[0].GatewayLimit)

			// Just before the reset: still closed. At the reset: open again.
			reset := requireLimited(t, postKeyed(t, srv, chain, gatewayKey, ccForm()), clock.Now(), tc.prefix, tc.message, tc.n)
			clock.Advance(reset.Sub(clock.Now()) - time.Millisecond)
			requireLimited(t, postKeyed(t, srv, chain, gatewayKey, ccForm()), clock.Now(), tc.prefix, tc.message, tc.n)
			clock.Advance(time.Millisecond)
			a := postKeyed(t, srv, chain, gatewayKey, ccForm())
			requireToken(t, a)
			if tc.kind != fakeresamania.LimitSpikeArrest {
				require.Equal(t, strconv.Itoa(tc.n-1), a.header.Get(tc.prefix+"-Remaining"), "a new window")
			}
		})
	}
}

// TestDefaultPlanSendsItsHeadersOnEveryAnswer: a new server runs a plan
// with a rate limit and a quota no test reaches, and, as the real gateway
// does, every answer carries their headers, 200s and OAuth errors alike.
func TestDefaultPlanSendsItsHeadersOnEveryAnswer(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	for i := range 20 {
		var a answer
		if i == 19 {
			a = postForm(t, srv, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {"wrong"}})
			require.Equal(t, http.StatusBadRequest, a.status, a.raw)
		} else {
			a = postForm(t, srv, ccForm())
			requireToken(t, a)
		}
		for prefix, limit := range map[string]int{"X-Rate-Limit": fakeresamania.DefaultGatewayLimits.RatePerMinute, "X-Quota": fakeresamania.DefaultGatewayLimits.DailyQuota} {
			require.Equal(t, strconv.Itoa(limit), a.header.Get(prefix+"-Limit"))
			require.Equal(t, strconv.Itoa(limit-i-1), a.header.Get(prefix+"-Remaining"), "answer %d", i+1)
			_, err := strconv.ParseInt(a.header.Get(prefix+"-Reset"), 10, 64)
			require.NoError(t, err, "the reset is epoch milliseconds")
		}
		require.Empty(t, a.header.Values("X-Spike-Arrest-Limit"), "no spike arrest unless a test sets one")
		require.Empty(t, a.header.Values("Retry-After"))
	}
	require.Zero(t, srv.GatewayRefusals(""))

	srv.SetGatewayLimits(fakeresamania.GatewayLimits{}) // a test may still turn the plan off
	a := postForm(t, srv, ccForm())
	requireToken(t, a)
	for _, h := range []string{"X-Spike-Arrest-Limit", "X-Rate-Limit-Limit", "X-Quota-Limit"} {
		require.Empty(t, a.header.Values(h))
	}
}

// TestFault429IsGravitees: an injected 429 is the gateway's, in Gravitee's
// shape: the refusing policy's JSON message and headers, the headers of the
// policies before it with requests left, none after it, no Retry-After; it
// never reaches the OAuth server.
func TestFault429IsGravitees(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now})
	srv.SetGatewayLimits(fakeresamania.GatewayLimits{SpikeArrest: 50, RatePerMinute: 600, DailyQuota: 5000})

	srv.InjectFault(fakeresamania.Fault{Status: http.StatusTooManyRequests, Count: 1})
	reset := requireLimited(t, postForm(t, srv, ccForm()), clock.Now(), "X-Rate-Limit",
		"Rate limit exceeded ! You reach the limit of 600 requests per 1 minutes", 600)
	require.Equal(t, clock.Now().Add(time.Second).UnixMilli(), reset.UnixMilli(), "a reset 1 s away unless the fault says")
	a := postForm(t, srv, ccForm())
	requireToken(t, a)
	require.Equal(t, "50", a.header.Get("X-Spike-Arrest-Limit"), "the spike arrest runs on an answer that passes")

	srv.InjectFault(fakeresamania.Fault{Status: http.StatusTooManyRequests, Limit: fakeresamania.LimitQuota, ResetIn: 3 * time.Hour, Count: 1})
	reset = requireLimited(t, postForm(t, srv, ccForm()), clock.Now(), "X-Quota",
		"Quota exceeded ! You reach the limit of 5000 requests per 1 days", 5000)
	require.Equal(t, clock.Now().Add(3*time.Hour).UnixMilli(), reset.UnixMilli())

	srv.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 600, DailyQuota: 5000}) // no spike arrest in the plan
	srv.InjectFault(fakeresamania.Fault{Status: http.StatusTooManyRequests, Limit: fakeresamania.LimitSpikeArrest, Count: 1})
	reset = requireLimited(t, postForm(t, srv, ccForm()), clock.Now(), "X-Spike-Arrest",
		"Spike limit exceeded ! You reach the limit of 16 requests per 100 ms.", 16)
	require.LessOrEqual(t, reset.Sub(clock.Now()), 100*time.Millisecond, "within the slice")

	require.Equal(t, 3, srv.GatewayRefusals(""))
	require.Equal(t, 1, srv.TokenRequests("", ""), "the 429s never reached the OAuth server")
	require.Len(t, srv.IssuedAccessTokens(), 1)

	for _, f := range []fakeresamania.Fault{{RetryAfter: "1"}, {Body: "<html>"}, {ContentType: "text/plain"}, {AfterProcessing: true}} {
		f.Status = http.StatusTooManyRequests
		require.Panics(t, func() { srv.InjectFault(f) }, "Gravitee never sends %+v", f)
	}
}

func TestGatewayLimitsCountPerKeyAcrossChains(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now})
	srv.AddClient(fakeresamania.Client{ClientToken: "chain2", ClientID: clientID, ClientSecret: secret})
	srv.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 3})
	const rateMsg = "Rate limit exceeded ! You reach the limit of 3 requests per 1 minutes"

	// Key A: two grants on chain1, one on chain2, whatever the grant or its outcome.
	requireToken(t, postKeyed(t, srv, chain, "A", ccForm()))
	requireOAuthError(t, postKeyed(t, srv, chain, "A", refreshForm("unknown")), "invalid_grant")
	requireToken(t, postKeyed(t, srv, "chain2", "A", ccForm()))
	requireLimited(t, postKeyed(t, srv, "chain2", "A", ccForm()), clock.Now(), "X-Rate-Limit", rateMsg, 3)
	requireLimited(t, postKeyed(t, srv, chain, "A", ccForm()), clock.Now(), "X-Rate-Limit", rateMsg, 3)

	// Key B and no key have windows of their own.
	for range 3 {
		requireToken(t, postKeyed(t, srv, chain, "B", ccForm()))
		requireToken(t, postKeyed(t, srv, "chain2", "", ccForm()))
	}
	requireLimited(t, postKeyed(t, srv, chain, "B", ccForm()), clock.Now(), "X-Rate-Limit", rateMsg, 3)
	requireLimited(t, postKeyed(t, srv, chain, "", ccForm()), clock.Now(), "X-Rate-Limit", rateMsg, 3)

	require.Equal(t, 2, srv.GatewayRefusals("A"))
	require.Equal(t, 1, srv.GatewayRefusals("B"))
	require.Equal(t, 1, srv.GatewayRefusals(""))
	require.Equal(t, 4, srv.TokenRequests("chain2", ""), "the 429 on chain2 is not among them")

	// A new setting starts the windows afresh.
	srv.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 1})
	requireToken(t, postKeyed(t, srv, chain, "A", ccForm()))
	requireLimited(t, postKeyed(t, srv, chain, "A", ccForm()), clock.Now(), "X-Rate-Limit",
		"Rate limit exceeded ! You reach the limit of 1 requests per 1 minutes", 1)

	srv.ResetCounters()
	require.Zero(t, srv.GatewayRefusals("A"))
}

func TestGatewayLimitLeavesTheGrantAlone(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now})
	refresh := codeGrant(t, srv)
	srv.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 1})
	requireToken(t, postKeyed(t, srv, chain, gatewayKey, ccForm()))

	a := postKeyed(t, srv, chain, gatewayKey, refreshForm(refresh))
	requireLimited(t, a, clock.Now(), "X-Rate-Limit", "Rate limit exceeded ! You reach the limit of 1 requests per 1 minutes", 1)
	require.Zero(t, srv.TokenRequests(chain, fakeresamania.GrantRefreshToken), "not a grant")
	require.Equal(t, 1, srv.GatewayRefusals(gatewayKey))

	clock.Advance(time.Minute)
	_, rotated := requireToken(t, postKeyed(t, srv, chain, gatewayKey, refreshForm(refresh)))
	require.NotEqual(t, refresh, rotated, "the refused refresh never rotated it")
}

func TestCloseGatewayWindow(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now})
	srv.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 1000, DailyQuota: 50000})
	until := clock.Now().Add(90 * time.Second)
	srv.CloseGatewayWindow(gatewayKey, fakeresamania.LimitRate, until)

	const msg = "Rate limit exceeded ! You reach the limit of 1000 requests per 1 minutes"
	for range 5 {
		a := postKeyed(t, srv, chain, gatewayKey, ccForm())
		reset := requireLimited(t, a, clock.Now(), "X-Rate-Limit", msg, 1000)
		require.Equal(t, until.UnixMilli(), reset.UnixMilli())
	}
	requireToken(t, postKeyed(t, srv, chain, "other", ccForm())) // other keys pass
	require.Equal(t, 5, srv.GatewayRefusals(gatewayKey))
	require.Zero(t, srv.GatewayRefusals("other"))
	require.Empty(t, srv.IssuedRefreshTokens())
	require.Len(t, srv.IssuedAccessTokens(), 1)

	clock.Advance(90*time.Second - time.Millisecond)
	requireLimited(t, postKeyed(t, srv, chain, gatewayKey, ccForm()), clock.Now(), "X-Rate-Limit", msg, 1000)
	clock.Advance(time.Millisecond)
	a := postKeyed(t, srv, chain, gatewayKey, ccForm())
	requireToken(t, a)
	require.Equal(t, "999", a.header.Get("X-Rate-Limit-Remaining"), "the closed window counted nothing")
	require.Equal(t, "49993", a.header.Get("X-Quota-Remaining"), "the quota runs before the rate limit: it counted the six refusals too")

	// A zero time reopens a window at once; a spike arrest closes with its own answer.
	srv.CloseGatewayWindow(gatewayKey, fakeresamania.LimitSpikeArrest, clock.Now().Add(time.Hour))
	requireLimited(t, postKeyed(t, srv, chain, gatewayKey, ccForm()), clock.Now(), "X-Spike-Arrest",
		"Spike limit exceeded ! You reach the limit of 0 requests per 100 ms.", 0)
	srv.CloseGatewayWindow(gatewayKey, fakeresamania.LimitSpikeArrest, time.Time{})
	requireToken(t, postKeyed(t, srv, chain, gatewayKey, ccForm()))

	require.Panics(t, func() { srv.CloseGatewayWindow(gatewayKey, "burst", until) })
}

func TestGatewayKeyCheckedBeforeLimits(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now, GatewayKey: gatewayKey})
	srv.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 1})
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, postKeyed(t, srv, chain, "wrong", ccForm()).status)
	}
	requireToken(t, postKeyed(t, srv, chain, gatewayKey, ccForm())) // the 401s counted nothing
}

// TestEveryAnswerCarriesEveryPolicysHeaders: as Gravitee does, each policy
// that ran sets its headers on the answer, whatever the answer is.
func TestEveryAnswerCarriesEveryPolicysHeaders(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now})
	srv.SetGatewayLimits(fakeresamania.GatewayLimits{SpikeArrest: 2, RatePerMinute: 1000, DailyQuota: 50000})

	requireEveryPolicy := func(a answer, quotaLeft, rateLeft string) {
		t.Helper()
		require.Equal(t, quotaLeft, a.header.Get("X-Quota-Remaining"))
		require.Equal(t, rateLeft, a.header.Get("X-Rate-Limit-Remaining"))
		require.Equal(t, "2", a.header.Get("X-Spike-Arrest-Limit"))
		require.Equal(t, "100ms", a.header.Get("X-Spike-Arrest-Slice-Period"))
		require.Empty(t, a.header.Values("X-Spike-Arrest-Remaining"), "the spike arrest sends no Remaining")
		for _, p := range []string{"X-Quota", "X-Rate-Limit", "X-Spike-Arrest"} {
			_, err := strconv.ParseInt(a.header.Get(p+"-Reset"), 10, 64)
			require.NoError(t, err, p)
		}
	}
	requireEveryPolicy(postKeyed(t, srv, chain, gatewayKey, ccForm()), "49999", "999") // a token
	bad := ccForm()
	bad.Set("client_secret", "wrong")
	a := postKeyed(t, srv, chain, gatewayKey, bad) // an OAuth error behind the gateway
	require.Equal(t, http.StatusBadRequest, a.status)
	requireEveryPolicy(a, "49998", "998")

	// The third request in the slice: the spike arrest refuses, after the
	// quota and the rate limit counted it and said what is left.
	a = postKeyed(t, srv, chain, gatewayKey, ccForm())
	requireLimited(t, a, clock.Now(), "X-Spike-Arrest", "Spike limit exceeded ! You reach the limit of 2 requests per 100 ms.", 2)
	requireEveryPolicy(a, "49997", "997")
}
