package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// scriptedGateway answers each request with the next of its answers, and
// then with a token carrying the plan's headers, as Gravitee would.
type scriptedGateway struct {
	srv      *httptest.Server
	requests atomic.Int32
}

type gatewayAnswer struct {
	status      int
	headers     http.Header
	contentType string
	body        string
}

func newScriptedGateway(t *testing.T, answers ...func(now time.Time) gatewayAnswer) *scriptedGateway {
	g := &scriptedGateway{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(g.requests.Add(1))
		a := gatewayAnswer{status: http.StatusOK, contentType: "application/json",
			headers: newGravitee(time.Now()).quota(50000, 41000, 9*time.Hour).rate(1000, 800, 40*time.Second).spike(16, 50*time.Millisecond).h,
			body:    `{"access_token":"tok","token_type":"bearer","expires_in":3600,"scope":null}`}
		if n <= len(answers) {
			a = answers[n-1](time.Now())
		}
		for k, v := range a.headers {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", a.contentType)
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *scriptedGateway) client(t *testing.T, chain string, holds *GatewayHolds, budgets *GatewayBudgets) *Client {
	c, err := New(Config{TokenURL: g.srv.URL + "/" + chain + "/oauth/v2/token", ClientID: "1_a", ClientSecret: "secret-1234", APIKey: "gateway-key-1",
		AttemptTimeout: 2 * time.Second, Holds: holds, Budgets: budgets})
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func graviteeRefusal(headers *gravitee, message string) gatewayAnswer {
	return gatewayAnswer{status: http.StatusTooManyRequests, headers: headers.h, contentType: "application/json",
		body: fmt.Sprintf(`{"message":%q,"http_status_code":429}`, message)}
}

func TestSpikeArrestRefusalWithEveryPolicysHeadersCostsOneShortWait(t *testing.T) {
	g := newScriptedGateway(t, func(now time.Time) gatewayAnswer {
		return graviteeRefusal(newGravitee(now).quota(50000, 41234, 9*time.Hour).rate(1000, 812, 40*time.Second).spike(16, 80*time.Millisecond), spikeMessage)
	})
	holds := NewGatewayHolds()
	var told []LimitWindow
	holds.OnClose(func(_ GatewayKeyID, w LimitWindow) { told = append(told, w) })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	tok, err := g.client(t, "c1", holds, nil).ClientCredentials(ctx)
	require.NoError(t, err, "a wait of the spike's slice, not of the quota's day or the rate limit's 40 s, which are not waited for")
	require.Equal(t, "tok", tok.AccessToken)
	require.Equal(t, int32(2), g.requests.Load(), "one 429, then one request once the slice ended")
	require.Len(t, told, 1)
	require.Equal(t, "spike arrest", told[0].Limit)
	require.Less(t, time.Until(told[0].Until), 200*time.Millisecond)

	// Another chain on the key is not held back: it mints at once.
	tok, err = g.client(t, "c2", holds, nil).ClientCredentials(ctx)
	require.NoError(t, err)
	require.Equal(t, "tok", tok.AccessToken)
	require.Equal(t, int32(3), g.requests.Load())
}

func TestRateLimitRefusalHoldsTheKeyUntilTheRateLimitsReset(t *testing.T) {
	var reset time.Time
	g := newScriptedGateway(t, func(now time.Time) gatewayAnswer {
		reset = now.Add(50 * time.Second)
		return graviteeRefusal(newGravitee(now).quota(50000, 41234, 9*time.Hour).rate(1000, 0, 50*time.Second), rateMessage)
	})
	holds := NewGatewayHolds()
	_, err := g.client(t, "c1", holds, nil).ClientCredentials(t.Context())
	require.ErrorContains(t, err, "its rate limit is reached until "+time.UnixMilli(reset.UnixMilli()).UTC().Format(time.RFC3339))
	_, err = g.client(t, "c2", holds, nil).ClientCredentials(t.Context())
	require.ErrorContains(t, err, "was not sent")
	require.Equal(t, int32(1), g.requests.Load())
	w, closed := holds.closed(g.client(t, "c3", holds, nil).key, time.Now())
	require.True(t, closed)
	require.WithinDuration(t, reset, w.Until, time.Millisecond, "the rate limit's reset, not the quota's hours away")
}

func TestEveryAnswerKeepsTheKeysBudget(t *testing.T) {
	var quotaReset time.Time
	g := newScriptedGateway(t,
		func(now time.Time) gatewayAnswer {
			quotaReset = now.Add(9 * time.Hour)
			return gatewayAnswer{status: http.StatusOK, contentType: "application/json",
				headers: newGravitee(now).quota(50000, 4000, 9*time.Hour).rate(1000, 800, 40*time.Second).spike(16, 50*time.Millisecond).h,
				body:    `{"access_token":"tok","token_type":"bearer","expires_in":3600,"scope":null}`}
		},
		func(time.Time) gatewayAnswer { // the gateway's 401 runs before any policy: no headers
			return gatewayAnswer{status: http.StatusUnauthorized, contentType: "application/json", body: `{"message":"Unauthorized","http_status_code":401}`}
		},
		func(now time.Time) gatewayAnswer { // a refusal: the rate limit's headers only
			return graviteeRefusal(newGravitee(now).rate(1000, 0, 2*time.Minute), rateMessage) // too far off to wait for
		})
	budgets := NewGatewayBudgets()
	c := g.client(t, "c1", nil, budgets)
	_, ok := c.Budget()
	require.False(t, ok, "nothing known before an answer")

	_, err := c.ClientCredentials(t.Context())
	require.NoError(t, err)
	b, ok := g.client(t, "another-chain-on-the-key", nil, budgets).Budget()
	require.True(t, ok, "the budget is the key's, whichever chain's answer told it")
	require.Equal(t, LimitBudget{Limit: 1000, Remaining: 800, Reset: b.Rate.Reset}, *b.Rate)
	require.Equal(t, int64(4000), b.Quota.Remaining)
	require.WithinDuration(t, quotaReset, b.Quota.Reset, time.Millisecond)
	require.InDelta(t, 0.08, b.Quota.Ratio(), 1e-9)

	_, err = c.ClientCredentials(t.Context())
	require.Error(t, err)
	after, _ := c.Budget()
	require.Equal(t, b, after, "an answer without the headers changes nothing")

	_, err = c.ClientCredentials(t.Context())
	require.Error(t, err)
	after, _ = c.Budget()
	require.Equal(t, int64(0), after.Rate.Remaining, "the refusal's rate limit")
	require.Equal(t, b.Quota, after.Quota, "the quota it did not report stays as last told")
	require.Equal(t, after.Rate.Limit, after.Rate.At(after.Rate.Reset).Remaining, "from its reset on, the window is whole again")
}

func TestGatewayAndServerRefusalsNameWhatToFix(t *testing.T) {
	const echoed = "SENTINEL-echoed-by-a-body"
	for _, tc := range []struct {
		name     string
		answer   gatewayAnswer
		kind     Kind
		contains string
		outcome  string
	}{
		{"the gateway's 401: the key", gatewayAnswer{status: 401, contentType: "application/json", body: `{"message":"Unauthorized","http_status_code":401}`},
			KindGateway, "the gateway key (api_key) is missing or wrong", "gateway_refused"},
		{"the gateway's 403: the plan", gatewayAnswer{status: 403, contentType: "application/json", body: `{"message":"api.error.scope.unauthorized-endpoint ` + echoed + `","http_status_code":403}`},
			KindNotInPlan, "the gateway key was accepted, but this endpoint is not in its plan (api.error.scope.unauthorized-endpoint)", "gateway_refused"},
		{"a bare 403", gatewayAnswer{status: 403, contentType: "text/plain", body: "Forbidden " + echoed},
			KindNotInPlan, "not in its plan", "gateway_refused"},
		{"the gateway's 404: no context path", gatewayAnswer{status: 404, contentType: "text/plain", body: "No context-path matches the request URI."},
			KindWrongPath, `serves no API at this path (HTTP 404: "No context-path matches the request URI.")`, "gateway_refused"},
		{"Resamania's 404: no such chain", gatewayAnswer{status: 404, contentType: "application/json", body: `{"code":404,"message":"Item not found ` + echoed + `"}`},
			KindNotFound, "Resamania knows no club chain by this client_token", "protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newScriptedGateway(t, func(time.Time) gatewayAnswer { return tc.answer })
			_, err := g.client(t, "c1", nil, nil).Refresh(t.Context(), "refresh-token-1234")
			e := asError(t, err)
			require.Equal(t, tc.kind, e.Kind)
			require.Contains(t, err.Error(), tc.contains)
			require.NotContains(t, err.Error(), echoed, "no body is echoed beyond the known texts")
			require.Equal(t, tc.outcome, Outcome(e))
			require.False(t, MaySpendGrant(err), "the grant never reached the OAuth server")
			require.Equal(t, int32(1), g.requests.Load(), "not retried: the same request gets the same answer")
			if tc.kind != KindGateway {
				require.NotContains(t, err.Error(), "missing or wrong")
			}
		})
	}
}
