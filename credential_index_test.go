package resamania

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// TestKeepAliveTickReadsNoCredentialOnceIndexed: the first tick of a process
// reads every credential once; from then on a tick with nothing due reads no
// credential, and one with some due reads only those (through their refresh).
// Writes and deletes made meanwhile are in the index without a read.
func TestKeepAliveTickReadsNoCredentialOnceIndexed(t *testing.T) {
	env := getCredsBackend(t, 3600, map[string]any{"refresh_token_ttl": "1h"})
	const n = 30
	for i := range n {
		resp, err := env.request(logical.CreateOperation, fmt.Sprintf("creds/%s/m%02d", testChain, i), map[string]any{"refresh_token": env.refreshTokenFromFake(t)})
		require.NoError(t, err)
		require.False(t, resp.IsError(), "%v", resp)
	}
	reloadBackend(t, env) // a new process: nothing in memory
	counter := countStorage(env)
	env.tick(t)
	require.GreaterOrEqual(t, counter.gets.Load(), int64(n), "the first tick reads every credential")

	counter.reset()
	env.tick(t)
	require.Zero(t, counter.gets.Load(), "nothing due: no credential read")
	require.Zero(t, counter.lists.Load()-otherListsPerTick, "and no credential or chain listed")

	// One more, signed in after the index was built, and one deleted.
	resp, err := env.request(logical.CreateOperation, "creds/"+testChain+"/late", map[string]any{"refresh_token": env.refreshTokenFromFake(t)})
	require.NoError(t, err)
	require.False(t, resp.IsError())
	_, err = env.request(logical.DeleteOperation, "creds/"+testChain+"/m00", nil)
	require.NoError(t, err)

	imports := env.fake.TokenRequests(testChain, "refresh_token")
	env.clock.Advance(31 * time.Minute) // every credential past half its refresh token's life
	counter.reset()
	env.tick(t)
	require.Equal(t, n, env.fake.TokenRequests(testChain, "refresh_token")-imports, "the 29 left and the late one, not the deleted one")
	require.LessOrEqual(t, counter.gets.Load(), int64(3*n), "a refresh's own reads, no scan")
	counter.reset()
	env.tick(t)
	require.Zero(t, counter.gets.Load(), "refreshed: nothing due again")
	require.Equal(t, n, env.fake.TokenRequests(testChain, "refresh_token")-imports)
}

// otherListsPerTick: a tick lists the stored gateway holds and the sign-in
// states, which are few.
const otherListsPerTick = 2
