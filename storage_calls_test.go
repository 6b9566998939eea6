package resamania

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// countingStorage counts what a request asks of storage: in a real Vault each
// call is a gRPC round trip from the plugin process.
type countingStorage struct {
	logical.Storage
	gets, puts, lists, deletes atomic.Int64
}

func (c *countingStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	c.gets.Add(1)
	return c.Storage.Get(ctx, key)
}

func (c *countingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	c.puts.Add(1)
	return c.Storage.Put(ctx, e)
}

func (c *countingStorage) List(ctx context.Context, prefix string) ([]string, error) {
	c.lists.Add(1)
	return c.Storage.List(ctx, prefix)
}

func (c *countingStorage) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.Storage.Delete(ctx, key)
}

func (c *countingStorage) total() int64 {
	return c.gets.Load() + c.puts.Load() + c.lists.Load() + c.deletes.Load()
}

func (c *countingStorage) reset() {
	c.gets.Store(0)
	c.puts.Store(0)
	c.lists.Store(0)
	c.deletes.Store(0)
}

// countStorage routes env's requests through a counter from now on.
func countStorage(env *testEnv) *countingStorage {
	counter := &countingStorage{Storage: env.storage}
	env.storage = counter
	return counter
}

func TestCachedTokenReadMakesNoStorageCall(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	counter := countStorage(env)
	env.readToken(nil) // the first read mints and stores the token
	require.NotZero(t, counter.total())

	counter.reset()
	for range 10 {
		env.readToken(nil)
	}
	t.Logf("storage calls of a cached token/ read: %d", counter.total()/10)
	require.Zero(t, counter.total(), "a cached read answers from memory")

	// The same holds for no_lease, whose lease mode is in memory too.
	env.configure(map[string]any{"no_lease": true})
	env.readToken(nil)
	counter.reset()
	require.Nil(t, env.readToken(nil).Secret)
	require.Zero(t, counter.total())
}

func TestColdCredentialReadStorageCalls(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.signIn(t)
	counter := countStorage(env)

	reloadBackend(t, env)
	counter.reset()
	env.readCred(t)
	t.Logf("storage reads of a cold creds/ read, token still fresh: %d", counter.gets.Load())
	require.Equal(t, int64(2), counter.gets.Load(), "the chain's config and the credential")
	require.Zero(t, counter.puts.Load())

	reloadBackend(t, env)
	env.clock.Advance(2 * time.Minute)
	counter.reset()
	env.readCred(t)
	t.Logf("storage reads of a cold creds/ read that refreshes: %d", counter.gets.Load())
	require.Equal(t, int64(3), counter.gets.Load(), "the config, the credential, and its re-read under the key's lock")
	require.Equal(t, int64(2), counter.puts.Load(), "the fence, then the rotated refresh token")

	counter.reset()
	env.readCred(t)
	require.Zero(t, counter.total(), "then cached")
}
