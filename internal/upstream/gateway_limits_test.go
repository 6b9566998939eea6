package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// limitedGateway answers 429 with Gravitee's headers (no Retry-After) while
// its window is closed, then a token: it counts every request it receives.
type limitedGateway struct {
	srv      *httptest.Server
	header   string // X-Rate-Limit, X-Quota or X-Spike-Arrest
	until    atomic.Int64
	requests atomic.Int32
}

// refusalMessages are Gravitee's 429 messages, by the refusing policy.
var refusalMessages = map[string]string{"X-Rate-Limit": rateMessage, "X-Quota": quotaMessage}

func newLimitedGateway(t *testing.T, header string, closedFor time.Duration) *limitedGateway {
	g := &limitedGateway{header: header}
	g.until.Store(time.Now().Add(closedFor).UnixMilli())
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		if until := g.until.Load(); time.Now().UnixMilli() < until {
			w.Header().Set(g.header+"-Limit", "10")
			w.Header().Set(g.header+"-Remaining", "0")
			w.Header().Set(g.header+"-Reset", strconv.FormatInt(until, 10))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprintf(w, `{"message":%q,"http_status_code":429}`, refusalMessages[g.header])
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok","token_type":"bearer","expires_in":3600,"scope":null}`)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *limitedGateway) client(t *testing.T, chain string, holds *GatewayHolds) *Client {
	c, err := New(Config{TokenURL: g.srv.URL + "/" + chain + "/oauth/v2/token", ClientID: "1_a", ClientSecret: "secret-1234", APIKey: "gateway-key-1", AttemptTimeout: 2 * time.Second, Holds: holds})
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestNearGatewayResetIsWaitedFor(t *testing.T) {
	g := newLimitedGateway(t, "X-Rate-Limit", 1500*time.Millisecond) // a minute's window in its last moments
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	tok, err := g.client(t, "c1", NewGatewayHolds()).ClientCredentials(ctx)
	require.NoError(t, err)
	require.Equal(t, "tok", tok.AccessToken)
	require.Equal(t, int32(2), g.requests.Load(), "one 429, then one request once the window ended: no loop inside it")
	require.GreaterOrEqual(t, time.Since(start), time.Second)
}

func TestFarGatewayResetFailsAtOnceAndHoldsTheKey(t *testing.T) {
	g := newLimitedGateway(t, "X-Quota", 2*time.Hour)
	holds := NewGatewayHolds()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := g.client(t, "c1", holds).ClientCredentials(ctx)
	require.Error(t, err)
	ue := asError(t, err)
	require.Equal(t, KindTransient, ue.Kind)
	require.Equal(t, 1, ue.Attempts, "no wait for a window hours away, and no second attempt")
	require.NoError(t, ctx.Err(), "it failed at once, not at the deadline")
	require.Contains(t, err.Error(), "daily quota is reached until "+time.UnixMilli(g.until.Load()).UTC().Format(time.RFC3339))
	require.NotContains(t, err.Error(), "gateway-key-1")
	require.Equal(t, int32(1), g.requests.Load())

	// Another chain on the same gateway key: not sent at all while it is closed.
	_, err = g.client(t, "c2", holds).ClientCredentials(ctx)
	require.ErrorContains(t, err, "was not sent")
	require.False(t, asError(t, err).Sent)
	require.False(t, MaySpendGrant(err), "a held refresh spends nothing")
	require.Equal(t, int32(1), g.requests.Load(), "no request while the key's window is closed")

	// Once the window ends, the key is open again.
	id := gatewayKeyID(g.srv.URL+"/c2/oauth/v2/token", "gateway-key-1")
	_, closed := holds.closed(id, time.UnixMilli(g.until.Load()))
	require.False(t, closed, "open from the reset on")
}

func TestClosedWindowIsToldOnceAndRestoredSilently(t *testing.T) {
	g := newLimitedGateway(t, "X-Rate-Limit", time.Hour)
	holds := NewGatewayHolds()
	type told struct {
		id GatewayKeyID
		w  LimitWindow
	}
	var windows []told
	holds.OnClose(func(id GatewayKeyID, w LimitWindow) { windows = append(windows, told{id, w}) })
	ctx := t.Context()
	_, err := g.client(t, "c1", holds).ClientCredentials(ctx)
	require.Error(t, err)
	_, err = g.client(t, "c2", holds).ClientCredentials(ctx)
	require.ErrorContains(t, err, "was not sent")

	require.Len(t, windows, 1, "told of the window the 429 closed, not of the request it held back")
	require.Equal(t, "rate limit", windows[0].w.Limit)
	require.Equal(t, time.UnixMilli(g.until.Load()), windows[0].w.Until)
	require.Equal(t, gatewayKeyID(g.srv.URL+"/c1/oauth/v2/token", "gateway-key-1"), windows[0].id)
	require.NotContains(t, windows[0].id.String(), "gateway-key-1")
	parsed, ok := ParseGatewayKeyID(windows[0].id.String())
	require.True(t, ok)
	require.Equal(t, windows[0].id, parsed)
	_, ok = ParseGatewayKeyID("not-hex")
	require.False(t, ok)

	// A new process (a reload) restores the window from what was told: its
	// clients send nothing until it ends, and nothing is told again.
	restarted := NewGatewayHolds()
	restarted.OnClose(func(id GatewayKeyID, w LimitWindow) { windows = append(windows, told{id, w}) })
	restarted.Restore(parsed, windows[0].w)
	_, err = g.client(t, "c3", restarted).ClientCredentials(ctx)
	require.ErrorContains(t, err, "was not sent")
	require.Equal(t, int32(1), g.requests.Load(), "one request in all: the 429")
	require.Len(t, windows, 1)
}
