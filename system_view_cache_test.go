package resamania

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// countingSystemView counts the questions that cost an external plugin a
// gRPC round trip to Vault each.
type countingSystemView struct {
	logical.StaticSystemView
	replication, local atomic.Int32
}

func (c *countingSystemView) ReplicationState() consts.ReplicationState {
	c.replication.Add(1)
	return c.StaticSystemView.ReplicationState()
}

func (c *countingSystemView) LocalMount() bool {
	c.local.Add(1)
	return c.StaticSystemView.LocalMount()
}

// TestCachedReadsAskVaultNothing: the framework asks the system view about
// replication before every request to a path that forwards; the answers come
// from memory, so a run of cached reads costs no round trip to Vault, and a
// change of state is seen within replicationStateFor.
func TestCachedReadsAskVaultNothing(t *testing.T) {
	env := getTestBackend(t)
	sys := &countingSystemView{}
	config := logical.TestBackendConfig()
	config.StorageView = env.storage
	config.System = sys
	config.Logger = env.b.Logger()
	b := newBackend(env.clock.Now)
	require.NoError(t, b.Setup(t.Context(), config))
	env.b = b
	env.configure(nil)
	for range 100 {
		env.readToken(nil)
	}
	require.Equal(t, int32(1), sys.replication.Load(), "asked once")
	require.Equal(t, int32(1), sys.local.Load(), "asked once: a mount stays local or not")

	sys.ReplicationStateVal = consts.ReplicationPerformanceStandby
	env.clock.Advance(replicationStateFor)
	_, err := env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.ErrorIs(t, err, logical.ErrReadOnly, "a performance standby forwards the read")
	require.Equal(t, int32(2), sys.replication.Load())
	env.clock.Advance(-time.Minute) // a clock that went back asks again
	_, err = env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.ErrorIs(t, err, logical.ErrReadOnly)
	require.Equal(t, int32(3), sys.replication.Load())
}
