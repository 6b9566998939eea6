package resamania

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// chainEntry is a configured club chain as a read uses it: its config and the
// upstream client built from it. Both are shared: never modify them.
type chainEntry struct {
	name        string
	config      *chainConfig
	fingerprint string // of config: scoped tokens minted with another are stale
	client      *upstream.Client
}

// chainLookup finds a configured chain; a chainNotFoundError when it is not.
type chainLookup interface {
	get(ctx context.Context, s logical.Storage, name string) (*chainEntry, error)
}

// chainCache holds each chain's config and client in memory, so a read that
// the token cache answers touches no storage, and connections are reused.
// A chain is dropped when its config changes here (change), on another node
// (Invalidate), and when the mount is unloaded.
type chainCache struct {
	now func() time.Time // the clients' clock; set once

	// holds is shared by every client of the mount: a 429 that closes a
	// gateway key's window holds back every chain that uses the key.
	holds *upstream.GatewayHolds

	// budgets is shared by every client of the mount: what the gateway's
	// latest answer said was left of each key's rate limit and quota.
	budgets *upstream.GatewayBudgets

	// inFlight is shared by every client of the mount: at most
	// maxUpstreamInFlight requests to Resamania at once, reads and background
	// work alike.
	inFlight *upstream.InFlightLimit

	// transports pools the connections of every client of the mount.
	transports *upstream.Transports

	// observer gives each chain's client what it tells of every request it
	// sends (metrics, logs); set once.
	observer func(chain string) upstream.Observer

	// allowed are the hosts a config may reach (allowedHostsEnv), checked
	// when a config is written (config_write.go) and when a stored one is
	// loaded: one stored before the list was set, or narrowed, is not
	// served; set once.
	allowed allowedHosts

	// locks serialise, per chain, a lookup's storage read with a config
	// change, so a lookup can never cache a config that a change replaced.
	locks []*locksutil.LockEntry

	mu     sync.RWMutex
	chains map[string]*chainEntry // guarded by mu
}

func newChainCache(now func() time.Time, observer func(chain string) upstream.Observer, allowed allowedHosts) *chainCache {
	return &chainCache{now: now, allowed: allowed, holds: upstream.NewGatewayHolds(), budgets: upstream.NewGatewayBudgets(), inFlight: upstream.NewInFlightLimit(maxUpstreamInFlight, maxChainInFlight), transports: upstream.NewTransports(),
		observer: observer, locks: locksutil.CreateLocks(), chains: make(map[string]*chainEntry)}
}

// maxUpstreamInFlight bounds a mount's requests to Resamania at once. A read
// beyond it waits for a slot within its budget; background work takes at most
// keepAliveParallel of them. 32 keeps a cold start of thousands of chains
// from opening thousands of connections to the gateway, and is far above
// what steady reads need (one request per chain per token life).
const maxUpstreamInFlight = 32

// maxChainInFlight is one chain's share of those: readers looping on one
// chain (made-up club ids, forced reads) wait for their own chain's slots,
// and every other chain keeps three quarters of the mount's.
const maxChainInFlight = 8

func (c *chainCache) cached(name string) *chainEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.chains[name]
}

// get returns the chain from memory, else reads its config and builds its client.
func (c *chainCache) get(ctx context.Context, s logical.Storage, name string) (*chainEntry, error) {
	if ch := c.cached(name); ch != nil {
		return ch, nil
	}
	lock := locksutil.LockForKey(c.locks, name)
	lock.Lock()
	defer lock.Unlock()
	if ch := c.cached(name); ch != nil {
		return ch, nil
	}
	cfg, err := getChainConfig(ctx, s, name)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, &chainNotFoundError{chain: name}
	}
	if err := c.allowed.check(cfg, name); err != nil {
		return nil, &hostNotAllowedError{chain: name, err: err}
	}
	client, err := c.newClient(name, cfg)
	if err != nil {
		return nil, err
	}
	ch := &chainEntry{name: name, config: cfg, fingerprint: cfg.fingerprint(), client: client}
	c.mu.Lock()
	c.chains[name] = ch
	c.mu.Unlock()
	return ch, nil
}

// newClient builds a client of the chain with cfg, sharing the mount's
// gateway holds and budgets, request bound and connection pools.
func (c *chainCache) newClient(name string, cfg *chainConfig) (*upstream.Client, error) {
	ucfg := cfg.upstreamConfig(name, c.now, c.holds)
	ucfg.Observe = c.observer(name)
	ucfg.InFlight, ucfg.InFlightShare, ucfg.Transports, ucfg.Budgets = c.inFlight, name, c.transports, c.budgets
	client, err := upstream.New(ucfg)
	if err != nil {
		return nil, fmt.Errorf("building the client of chain %q: %w", name, err)
	}
	return client, nil
}

// configuredChain looks up the chain a request names; when it is missing, the
// error names the config path to write on the request's mount.
func (b *backend) configuredChain(ctx context.Context, req *logical.Request, name string) (*chainEntry, error) {
	ch, err := b.chains.get(ctx, req.Storage, name)
	var missing *chainNotFoundError
	if errors.As(err, &missing) {
		missing.mount = req.MountPoint
	}
	return ch, err
}

// change runs fn, a write or delete of the chain's config, while no lookup of
// the chain reads storage, then forgets the chain.
func (c *chainCache) change(name string, fn func() error) error {
	lock := locksutil.LockForKey(c.locks, name)
	lock.Lock()
	defer lock.Unlock()
	defer c.forget(name)
	return fn()
}

// invalidate forgets a chain whose config another node changed.
func (c *chainCache) invalidate(name string) {
	lock := locksutil.LockForKey(c.locks, name)
	lock.Lock()
	defer lock.Unlock()
	c.forget(name)
}

func (c *chainCache) forget(name string) {
	c.mu.Lock()
	ch := c.chains[name]
	delete(c.chains, name)
	c.mu.Unlock()
	if ch != nil {
		ch.client.CloseIdleConnections()
	}
}

// reset forgets every chain (the mount is being unloaded).
func (c *chainCache) reset() {
	c.mu.Lock()
	old := c.chains
	c.chains = make(map[string]*chainEntry)
	c.mu.Unlock()
	for _, ch := range old {
		ch.client.CloseIdleConnections()
	}
	c.transports.CloseIdleConnections()
}
