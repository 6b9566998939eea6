package resamania

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// TestRefusedWriteForgetsNothing: a write that verification refuses leaves
// the chain as it was, in memory too: its cached token and its health.
func TestRefusedWriteForgetsNothing(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"verify_connection": true})
	env.readToken(nil)
	before := env.chainHealth(t)
	require.Equal(t, "ok", before["health"])

	resp, err := env.writeConfig(testChain, map[string]any{"client_secret": "SENTINEL-wrong-secret"})
	require.NoError(t, err)
	require.True(t, resp.IsError())
	after := env.chainHealth(t)
	for _, field := range []string{"health", "last_success_at", "last_error", "last_error_at", "consecutive_failures"} {
		require.Equal(t, before[field], after[field], "the chain's %s is what its last grants said", field)
	}
	require.Equal(t, 1, env.b.tokens.cachedCount(), "its token stays in memory")
}

// TestVerificationHoldsNoLock: while a config update's verification waits
// on Resamania, a read of the same chain that must mint is served with the
// stored config, rather than waiting for the verification.
func TestVerificationHoldsNoLock(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil) // unverified: nothing cached, so the read below mints
	env.fake.InjectFault(fakeresamania.Fault{Delay: time.Minute, GrantType: "client_credentials", Count: 1})
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		_, _ = env.writeConfig(testChain, map[string]any{"scope": "read", "request_timeout": 60})
	}()
	require.Eventually(t, func() bool { return env.fake.TokenRequests(testChain, "client_credentials") == 1 }, 10*time.Second, time.Millisecond)

	resp, err := env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp.Error())
	select {
	case <-writeDone:
		t.Fatal("the read waited for the verification to end")
	default:
	}
	env.fake.Close() // ends the verification's wait
	<-writeDone
}
