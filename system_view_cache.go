package resamania

import (
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
)

// replicationStateFor is how long a replication state read from Vault is
// reused. A node changes state rarely (a promotion, a demotion); for that
// long after one, a write the plugin tries where it may not is refused by
// Vault's storage as read-only, and Vault forwards the request, as it does
// when the framework says so.
const replicationStateFor = time.Second

// cachedSystemView answers from memory the two questions the framework asks
// Vault before every request to a path that forwards from performance
// standbys and secondaries: ReplicationState and LocalMount. For an external
// plugin each is a gRPC round trip to Vault, together most of what a cached
// token read costs beyond the floor. Whether the mount is local never
// changes while it is mounted. Everything else goes to Vault.
type cachedSystemView struct {
	logical.SystemView
	now func() time.Time

	localOnce sync.Once
	local     bool

	mu      sync.Mutex
	state   consts.ReplicationState // guarded by mu
	stateAt time.Time               // guarded by mu; zero before the first read
}

func newCachedSystemView(sys logical.SystemView, now func() time.Time) *cachedSystemView {
	return &cachedSystemView{SystemView: sys, now: now}
}

func (c *cachedSystemView) LocalMount() bool {
	c.localOnce.Do(func() { c.local = c.SystemView.LocalMount() })
	return c.local
}

func (c *cachedSystemView) ReplicationState() consts.ReplicationState {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stateAt.IsZero() || now.Sub(c.stateAt) >= replicationStateFor || now.Before(c.stateAt) {
		c.state, c.stateAt = c.SystemView.ReplicationState(), now
	}
	return c.state
}
