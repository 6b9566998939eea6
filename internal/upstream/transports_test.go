package upstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
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
