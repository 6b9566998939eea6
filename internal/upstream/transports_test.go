package upstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestChainsShareTheMountsConnections: clients of many chains sharing
// Transports reuse one connection to the gateway, one after the other;
// clients of their own each open one.
func TestChainsShareTheMountsConnections(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok","token_type":"bearer","expires_in":3600,"scope":null}`)
	}))
	t.Cleanup(srv.Close)
	connections := func(shared *Transports) int {
		mu.Lock()
		clear(conns)
		mu.Unlock()
		for i := range 10 {
			c, err := New(Config{TokenURL: fmt.Sprintf("%s/c%d/oauth/v2/token", srv.URL, i), ClientID: "1_a", ClientSecret: "s", AttemptTimeout: time.Second, Transports: shared})
			require.NoError(t, err)
			_, err = c.ClientCredentials(t.Context())
			require.NoError(t, err)
			c.CloseIdleConnections() // a dropped chain leaves a shared pool alone
		}
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
	shared := NewTransports()
	require.Equal(t, 1, connections(shared), "ten chains, one connection")
	require.Equal(t, 10, connections(nil), "a pool each: a connection each")
	shared.CloseIdleConnections()

	same, err := shared.pool("")
	require.NoError(t, err)
	again, err := shared.pool("")
	require.NoError(t, err)
	require.Same(t, same, again)
	_, err = shared.pool("not a certificate")
	require.ErrorContains(t, err, "no PEM certificate")
}

// TestHugeAnswerHeadersAreRefused: a failed answer's headers are kept with
// its error, so an answer may not make the client hold megabytes of them. A
// gateway whose headers pass the cap is refused once, not asked again.
func TestHugeAnswerHeadersAreRefused(t *testing.T) {
	var hits, status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		filler := strings.Repeat("x", 1<<10)
		for i := range 1 << 10 { // 1 MiB of headers
			w.Header().Set(fmt.Sprintf("X-Filler-%d", i), filler)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, `{"access_token":"tok","token_type":"bearer","expires_in":3600}`)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name   string
		status int32
		shared *Transports
	}{{"a token, own pool", 200, nil}, {"a token, shared pool", 200, NewTransports()}, {"a 503, own pool", 503, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			status.Store(tc.status)
			shared := tc.shared
			c, err := New(Config{TokenURL: srv.URL + "/c/oauth/v2/token", ClientID: "1_a", ClientSecret: "s", AttemptTimeout: 5 * time.Second, MaxAttempts: 3, Transports: shared})
			require.NoError(t, err)
			t.Cleanup(c.CloseIdleConnections)
			_, err = c.ClientCredentials(t.Context())
			ue := asError(t, err)
			require.Equal(t, KindProtocol, ue.Kind, "error: %s", err)
			require.Contains(t, err.Error(), "headers too large")
			require.Nil(t, ue.header, "nothing of the answer is kept")
			require.Equal(t, int32(1), hits.Load(), "not asked again")
			require.Less(t, len(err.Error()), 300)
		})
	}
}
