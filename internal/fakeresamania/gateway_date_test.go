package fakeresamania_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
)

// The gateway's Date is its own clock, the one its resets are on: a test can
// put the fake's clock apart from the plugin's and see the plugin read the
// resets through the Date.
func TestGatewayAnswersAreDatedByTheServersClock(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now})
	srv.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 1})
	for _, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		a := postKeyed(t, srv, chain, gatewayKey, ccForm())
		require.Equal(t, want, a.status, a.raw)
		require.Equal(t, clock.Now().Format(http.TimeFormat), a.header.Get("Date"))
		clock.Advance(time.Second)
	}
}
