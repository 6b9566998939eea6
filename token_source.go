package resamania

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
)

// tokenSource is how one key gets its tokens. The cache does the locking,
// sharing and expiry maths; a source only loads what storage holds and mints
// (and persists) a new token. Both run under the key's lock, so a source reads
// what it mints from after any change to it has finished.
type tokenSource interface {
	load(ctx context.Context) (*cachedToken, error)
	// mint may return a token with an error: the token is good but what
	// must follow it failed (storage); readers get it with a warning.
	mint(ctx context.Context) (*cachedToken, error)
	// budget bounds one load-and-mint, retries included.
	budget() time.Duration
}

// mintDeps is all a token source or a sign-in uses of the mount.
type mintDeps struct {
	storage logical.Storage
	chains  chainLookup
	guards  *chainGuards // a mint that stores holds its chain's guard: see chainGuards
	health  *healthBook
	now     func() time.Time
	log     hclog.Logger
}

// keepMinted stores a token just minted under key. A failure is only logged:
// the token is good and in memory; only a later reload would mint again.
func (d mintDeps) keepMinted(ctx context.Context, key, chain string, tok *cachedToken) {
	if err := putJSON(ctx, d.storage, key, "the minted token", tok); err != nil {
		d.log.Warn("could not persist the minted token; it is kept in memory", "chain", chain, "error", err)
	}
}

// noteHealth records a grant's outcome in subject's health.
func (d mintDeps) noteHealth(subject string, err error) {
	d.health.record(subject, err, d.now())
}

// mintBudget bounds one grant, retries included: three request timeouts.
func mintBudget(requestTimeout time.Duration) time.Duration { return 3 * requestTimeout }
