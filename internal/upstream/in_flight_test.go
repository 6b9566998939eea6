package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInFlightLimitBoundsEveryClientSharingIt: 20 chains read at once
// through clients sharing a limit of 3 never have more than 3 requests at the
// server; all get their token.
func TestInFlightLimitBoundsEveryClientSharingIt(t *testing.T) {
	var now, peak atomic.Int32
	full := make(chan struct{}) // closed once 3 requests are at the server together
	var fullOnce sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if n == 3 {
			fullOnce.Do(func() { close(full) })
		}
		select { // the first ones wait for the third, so the limit is reached
		case <-full:
		case <-time.After(5 * time.Second):
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok","token_type":"bearer","expires_in":3600,"scope":null}`)
	}))
	t.Cleanup(srv.Close)
	limit := NewInFlightLimit(3, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		c, err := New(Config{TokenURL: fmt.Sprintf("%s/c%d/oauth/v2/token", srv.URL, i), ClientID: "1_a", ClientSecret: "s", AttemptTimeout: 10 * time.Second, InFlight: limit})
		require.NoError(t, err)
		t.Cleanup(c.CloseIdleConnections)
		wg.Go(func() {
			_, err := c.ClientCredentials(t.Context())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(3), peak.Load(), "the server saw at most, and here exactly, 3 at once")
}

// TestInFlightLimitFullUntilTheReadEnds: a request that finds every slot busy
// until its context ends fails unsent, saying why.
func TestInFlightLimitFullUntilTheReadEnds(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	t.Cleanup(srv.Close)
	limit := NewInFlightLimit(1, 0)
	_, err := limit.acquire(t.Context(), "c0") // another chain's request, under way
	require.NoError(t, err)
	c, err := New(Config{TokenURL: srv.URL + "/c1/oauth/v2/token", ClientID: "1_a", ClientSecret: "s", AttemptTimeout: time.Second, MaxAttempts: 1, InFlight: limit, InFlightShare: "c1"})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Refresh(ctx, "rt-1")
	require.ErrorContains(t, err, "stayed at their limit until the read's time ran out")
	require.False(t, MaySpendGrant(err), "nothing was sent, so the refresh token is untouched")
	require.Zero(t, requests.Load())
}

// TestInFlightShareLeavesRoomForOtherChains: one chain whose share is full
// waits for its own slots, while another chain's request is sent at once.
func TestInFlightShareLeavesRoomForOtherChains(t *testing.T) {
	limit := NewInFlightLimit(4, 2)
	for range 2 {
		_, err := limit.acquire(t.Context(), "busy")
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := limit.acquire(ctx, "busy")
	require.ErrorIs(t, err, context.DeadlineExceeded, "the busy chain's third request waits for its share")
	require.Equal(t, uint64(1), limit.ShareWaits())

	release, err := limit.acquire(context.Background(), "other")
	require.NoError(t, err, "another chain still finds a slot")
	release()
	require.Equal(t, uint64(1), limit.ShareWaits())
}
