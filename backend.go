// Package resamania is a Vault secrets engine that brokers OAuth access tokens
// for the Resamania API: it holds each club chain's OAuth client and hands out
// cached tokens under leases that end before the tokens do.
package resamania

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// Version is set at build time (-ldflags "-X main.version=...", copied here by
// main) so that `vault plugin register -version` can match the binary.
var Version = "v0.0.0-dev"

// operationPrefix names the plugin in OpenAPI operation ids.
const operationPrefix = "resamania"

// backend is one mount of the plugin.
type backend struct {
	*framework.Backend

	// clients caches one upstream client per chain, so connections are reused,
	// with the fingerprint of the config it was built from: a reader holding an
	// older config can never leave a stale client behind. Guarded by clientsMu;
	// dropped on config change, Invalidate and Clean.
	clientsMu sync.RWMutex
	clients   map[string]cachedClient

	// tokens is the token cache; it has its own locks.
	tokens *tokenCache

	// unsaved holds rotated refresh tokens that storage refused; its own lock.
	unsaved unsavedCredentials

	// now is the clock, injectable by tests. Set once in newBackend.
	now func() time.Time
}

// Factory is what Vault calls to create a mount of the plugin.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := newBackend(time.Now)
	if err := b.Setup(ctx, conf); err != nil {
		return nil, fmt.Errorf("setting up the resamania backend: %w", err)
	}
	return b, nil
}

func newBackend(now func() time.Time) *backend {
	b := &backend{
		clients: make(map[string]cachedClient),
		now:     now,
	}
	b.tokens = newTokenCache(now)
	b.Backend = &framework.Backend{
		BackendType: logical.TypeLogical,
		Help:        strings.TrimSpace(backendHelp),
		PathsSpecial: &logical.Paths{
			// Every prefix that holds a secret is seal-wrapped.
			SealWrapStorage: []string{configStoragePrefix, tokenStoragePrefix, credsStoragePrefix},
		},
		Paths: framework.PathAppend(
			pathConfig(b),
			pathToken(b),
			pathAuthCodeURL(b),
			pathCreds(b),
		),
		Secrets:        []*framework.Secret{secretAccessToken(b)},
		PeriodicFunc:   b.periodic,
		Invalidate:     b.invalidate,
		Clean:          b.clean,
		RunningVersion: Version,
	}
	return b
}

// invalidate runs on nodes that did not make a storage change (standbys,
// performance secondaries): forget what was cached from the changed key.
func (b *backend) invalidate(_ context.Context, key string) {
	switch {
	case strings.HasPrefix(key, configStoragePrefix):
		chain := strings.TrimPrefix(key, configStoragePrefix)
		b.dropClient(chain)
		b.tokens.forget(tokenStoragePrefix + chain)
	case strings.HasPrefix(key, tokenStoragePrefix), strings.HasPrefix(key, credsStoragePrefix):
		b.tokens.forget(key)
	}
}

// clean runs when the mount is unloaded.
func (b *backend) clean(context.Context) {
	b.clientsMu.Lock()
	old := b.clients
	b.clients = make(map[string]cachedClient)
	b.clientsMu.Unlock()
	for _, c := range old {
		c.client.CloseIdleConnections()
	}
	b.tokens.reset()
}

type cachedClient struct {
	fingerprint [32]byte
	client      *upstream.Client
}

// client returns the cached upstream client of a chain, building it from cfg on
// a miss (read lock, miss, write lock, check again).
func (b *backend) client(chain string, cfg *chainConfig) (*upstream.Client, error) {
	fp := cfg.fingerprint()
	b.clientsMu.RLock()
	c, ok := b.clients[chain]
	b.clientsMu.RUnlock()
	if ok && c.fingerprint == fp {
		return c.client, nil
	}
	b.clientsMu.Lock()
	defer b.clientsMu.Unlock()
	if c, ok = b.clients[chain]; ok && c.fingerprint == fp {
		return c.client, nil
	}
	client, err := upstream.New(cfg.upstreamConfig(chain, b.now))
	if err != nil {
		return nil, fmt.Errorf("building the client of chain %q: %w", chain, err)
	}
	if ok {
		c.client.CloseIdleConnections() // replaced: its config changed
	}
	b.clients[chain] = cachedClient{fingerprint: fp, client: client}
	return client, nil
}

func (b *backend) dropClient(chain string) {
	b.clientsMu.Lock()
	c, ok := b.clients[chain]
	delete(b.clients, chain)
	b.clientsMu.Unlock()
	if ok {
		c.client.CloseIdleConnections()
	}
}

const backendHelp = `
The Resamania secrets engine brokers OAuth access tokens for the Resamania API.

Write a club chain's OAuth client to config/<client_token>, then read
token/<client_token> for an access token minted with the client_credentials
grant. Tokens are cached and shared by all readers; each read's lease ends a
safety margin before the token expires.
`
