package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// TestGrantCutByTheDeadlineAfterA429MaySpend: attempt 1 meets the gateway's
// 429 (refused unprocessed), attempt 2 reaches Resamania, which processes it,
// and the overall deadline cuts it before the answer. The error must say the
// grant may be spent: reporting the 429 instead would let the next read send
// the spent refresh token or code again.
func TestGrantCutByTheDeadlineAfterA429MaySpend(t *testing.T) {
	for _, g := range grants[1:] {
		t.Run(g.name, func(t *testing.T) {
			e := newEnv(t, fakeresamania.Options{})
			call, spent := g.prepare(e)
			e.srv.InjectFault(fakeresamania.Fault{Status: 429, Limit: fakeresamania.LimitSpikeArrest, Count: 1})
			e.srv.InjectFault(fakeresamania.Fault{AfterProcessing: true, Delay: time.Minute, Count: 1})
			c := e.client(func(c *Config) { c.MaxAttempts = 4; c.AttemptTimeout = time.Minute })
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()

			_, err := call(ctx, c)
			ue := asError(t, err)
			require.Equal(t, 1, e.srv.GatewayRefusals(testAPIKey), "the 429")
			require.Equal(t, 1, e.srv.TokenRequests("", g.grantType), "then the attempt the deadline cut")
			require.True(t, ue.Sent)
			require.True(t, MaySpendGrant(err), "the second attempt was processed: %v", err)
			require.NotContains(t, err.Error(), "Spike", "the 429 is not what happened to the grant")
			requireNoSecret(t, err, spent)
		})
	}
}
