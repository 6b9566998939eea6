// Package resamania is a Vault secrets engine that brokers OAuth access tokens
// for the Resamania API: it holds each club chain's OAuth client and hands out
// cached tokens under leases that end before the tokens do.
package resamania

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"
)

// Version is set at build time (-ldflags "-X main.version=...", copied here by
// main) so that `vault plugin register -version` can match the binary.
var Version = "v0.0.0-dev"

// operationPrefix names the plugin in OpenAPI operation ids.
const operationPrefix = "resamania"

// backend is one mount of the plugin.
type backend struct {
	*framework.Backend

	// chains caches each chain's config and upstream client; its own locks.
	chains *chainCache

	// tokens is the token cache; its own locks.
	tokens *tokenCache

	// creds owns members' credentials, in storage and held in memory; its own lock.
	creds *credentialStore

	// refusals remembers the club and member grants Resamania refused; its own lock.
	refusals *refusedScopes

	// guards keep a chain's deletion apart from the work that writes under
	// the chain; their own lock.
	guards *chainGuards

	// stateLocks serialise, per chain, the count and the write of a new
	// sign-in state, so concurrent auth-code-url calls cannot pass the cap.
	stateLocks []*locksutil.LockEntry

	// health is what this node saw of each chain's and credential's grants; its own lock.
	health *healthBook

	// metrics are the mount's Prometheus metrics, in a registry of its own;
	// safe for concurrent use. Set once in newBackend.
	metrics *metrics

	// keepAliveScan finds the credentials due for a keep-alive refresh. Set
	// once in newBackend.
	keepAliveScan credentialScanner

	// now is the clock, injectable by tests. Set once in newBackend.
	now func() time.Time

	// storage is the mount's storage, for what is written outside a
	// request's own work (a gateway hold). Set once by Setup.
	storage logical.Storage
}

// Setup keeps the mount's storage, then sets the framework up with a system
// view that answers its per-request questions from memory.
func (b *backend) Setup(ctx context.Context, conf *logical.BackendConfig) error {
	b.storage = conf.StorageView
	c := *conf
	if c.System != nil {
		c.System = newCachedSystemView(c.System, b.now)
	}
	return b.Backend.Setup(ctx, &c)
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
		tokens:     newTokenCache(now),
		guards:     newChainGuards(),
		stateLocks: locksutil.CreateLocks(),
		refusals:   newRefusedScopes(now),
		health:     newHealthBook(),
		now:        now,
	}
	// The allow-list is read once: the environment is the registration's,
	// fixed for the plugin process's life.
	b.chains = newChainCache(now, b.upstreamObserver, allowedHostsFromEnv())
	b.metrics = newMetrics(func() float64 { return float64(b.tokens.cachedCount()) },
		func() (float64, float64) { return lowestBudgetRatios(b.chains.budgets.All(), b.now()) },
		func() float64 { return float64(b.chains.inFlight.ShareWaits()) })
	index := newCredentialIndex(b.chains)
	b.creds = newCredentialStore(b.metrics.refreshTokensRotated, b.metrics.refreshAnswersLost, index)
	b.creds.lostAfterUnload = b.logLostOnUnload
	b.keepAliveScan = index
	b.chains.holds.OnClose(b.storeGatewayHold)
	b.Backend = &framework.Backend{
		BackendType: logical.TypeLogical,
		Help:        strings.TrimSpace(backendHelp),
		PathsSpecial: &logical.Paths{
			SealWrapStorage: []string{configStoragePrefix, tokenStoragePrefix, clubTokenStoragePrefix, contactTokenStoragePrefix, contactsStoragePrefix, credsStoragePrefix},
		},
		Paths: framework.PathAppend(
			pathConfig(b),
			pathToken(b),
			pathScopedToken(b),
			pathContacts(b),
			pathAuthCodeURL(b),
			pathCreds(b),
			pathMetrics(b),
		),
		Secrets:        []*framework.Secret{secretAccessToken(b)},
		PeriodicFunc:   b.periodic,
		InitializeFunc: b.initialize,
		Invalidate:     b.invalidate,
		Clean:          b.clean,
		RunningVersion: Version,
	}
	return b
}

// mintDeps is what the token sources and the sign-in get of this mount.
func (b *backend) mintDeps(s logical.Storage) mintDeps {
	return mintDeps{storage: s, chains: b.chains, guards: b.guards, health: b.health, now: b.now, log: b.Logger()}
}

const backendHelp = `
The Resamania secrets engine brokers OAuth access tokens for the Resamania API.

Write a club chain's OAuth client to config/<client_token>, then read:

  token/<client_token>                   a token of the chain (client_credentials)
  token/<client_token>/clubs/<club_id>   a token scoped to one club
  token/<client_token>/contacts/<name>   a token scoped to one member, named
                                         first under contacts/<client_token>/
  creds/<client_token>/<name>            a signed-in member's token: start at
                                         auth-code-url/<client_token>

Tokens are cached and shared by all readers; each read's lease ends a safety
margin before the token expires. Run path-help on any path below for more.
`
