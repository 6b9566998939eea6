package resamania

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// The background work, run by Vault's PeriodicFunc (about once a minute).

const (
	// keepAliveBatch bounds the credentials refreshed per tick, so a large
	// backlog spreads over time. 100,000 credentials need about 10 a minute
	// (one refresh per half of a 14-day refresh token); 100 catches up ten
	// times that fast after an outage, and stays at a tenth of the 1,000
	// requests a minute Resamania's gateway allows a key.
	keepAliveBatch = 100
	// keepAliveParallel bounds the upstream calls in flight at once.
	keepAliveParallel = 4
)

// periodic does the background work, only on the node that owns storage
// (never on a standby or a secondary, which would send the same refresh
// tokens as the primary).
func (b *backend) periodic(ctx context.Context, req *logical.Request) error {
	if !b.ownsStorage() {
		return nil
	}
	b.saveHeldCredentials(ctx, req.Storage)
	b.refreshReadAhead(ctx)
	b.keepCredentialsAlive(ctx, req.Storage)
	expireAuthStates(ctx, req.Storage, b.now())
	if err := b.restoreGatewayHolds(ctx, req.Storage); err != nil {
		b.Logger().Warn("could not list the stored gateway holds", "error", err)
	}
	return nil
}

// saveHeldCredentials retries writing rotated refresh tokens that storage
// refused, each under its chain's guard: a chain deleted meanwhile took its
// held credentials with it, and none is written back.
func (b *backend) saveHeldCredentials(ctx context.Context, s logical.Storage) {
	for _, key := range b.creds.heldKeys() {
		err := b.tokens.changeKey(key, func() error {
			defer b.guards.use(credKeyChain(key))()
			_, err := b.creds.saveHeld(ctx, s, key)
			return err
		})
		if err != nil {
			b.Logger().Error("a rotated refresh token is still only in memory", "credential", key, "error", err)
		}
	}
}

// refreshReadAhead renews the tokens that readers use, before they have to wait.
func (b *backend) refreshReadAhead(ctx context.Context) {
	due := b.tokens.readAhead(b.now())
	jobs := make([]func(), 0, len(due))
	for key, src := range due {
		// A failure is logged once, by its source; readers will retry.
		jobs = append(jobs, func() { _ = b.tokens.refresh(ctx, key, src) })
	}
	runBounded(ctx, jobs, keepAliveParallel)
}

// keepCredentialsAlive refreshes the active credentials whose refresh token
// is past half its lifetime, so a member who opens the app once a month keeps
// the grant. Oldest first, at most keepAliveBatch per tick. The scan's count
// of credentials by state is the credentials gauge.
func (b *backend) keepCredentialsAlive(ctx context.Context, s logical.Storage) {
	scan, err := b.keepAliveScan.scan(ctx, s, b.now())
	if err != nil {
		b.Logger().Error("keep-alive: finding the credentials due", "error", err)
		return
	}
	b.metrics.countCredentials(scan.byState)
	due := scan.due
	sort.Slice(due, func(i, j int) bool { return due[i].lapseAt.Before(due[j].lapseAt) })
	if len(due) > keepAliveBatch {
		b.Logger().Info("keep-alive: more credentials due than one tick refreshes; the rest wait for the next", "due", len(due))
		due = due[:keepAliveBatch]
	}
	// Once storage refuses a fence, the tick sends nothing more: the rest
	// stay due, and the first tick whose writes commit catches up.
	var fenced atomic.Bool
	jobs := make([]func(), 0, len(due))
	for _, d := range due {
		src := &refreshSource{mintDeps: b.mintDeps(s), creds: b.creds, chain: d.chain, name: d.name, timeout: d.timeout}
		jobs = append(jobs, func() {
			if fenced.Load() {
				return
			}
			// Any other failure is logged once, by the source.
			err := b.tokens.refresh(ctx, src.key(), src)
			var fe *fenceError
			if errors.As(err, &fe) && !fenced.Swap(true) {
				b.Logger().Warn("keep-alive: Vault's storage cannot commit, so no refresh is sent this tick; the credentials due wait for the next", "due", len(due), "error", fe.err)
			}
		})
	}
	runBounded(ctx, jobs, keepAliveParallel)
}

// runBounded runs jobs with at most n at once and waits for those started.
// Once ctx ends (Vault cuts a tick off after 90 s) it starts no more: the
// rest wait for the next tick.
func runBounded(ctx context.Context, jobs []func(), n int) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, job := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			job()
		}()
	}
	wg.Wait()
}

// dueCredential is a credential whose refresh token is past half its life.
type dueCredential struct {
	chain, name string
	lapseAt     time.Time     // when its refresh token lapses
	timeout     time.Duration // its chain's request_timeout
}

// credentialScan is what a scan found: the credentials due, and how many
// credentials there are in each state.
type credentialScan struct {
	due     []dueCredential
	byState map[credState]int
}

// credentialScanner finds the credentials due for a keep-alive refresh:
// credentialIndex, or a fake in tests.
type credentialScanner interface {
	scan(ctx context.Context, s logical.Storage, now time.Time) (credentialScan, error)
}
