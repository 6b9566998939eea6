package resamania

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// failureCooldown: after a failed mint, readers are served the still-valid
// cached token at once for this long, instead of each waiting on Resamania.
const failureCooldown = 5 * time.Second

// tokenCache holds one token per key and answers "a token with at least N
// seconds left": from memory, else from storage, else minted, with exactly one
// mint in flight per key however many readers wait for it.
type tokenCache struct {
	now func() time.Time // set once at construction

	mu      sync.Mutex
	entries map[string]*cacheEntry // guarded by mu; an entry stays only while it holds something (holdsNothing)
	closed  bool                   // guarded by mu; set by drain: no flight starts after it

	// flying counts the flights' goroutines, so that unloading the mount
	// can wait for a refresh whose answer is on its way to store the new
	// refresh token. Add only under mu while !closed.
	flying sync.WaitGroup
}

// errUnloading: the mount is being unloaded (a plugin reload or a seal).
var errUnloading = errors.New("the mount is being unloaded; read again")

type cacheEntry struct {
	// keyLock is held while the key's token is loaded and minted, and while its
	// source (config, stored credential) changes: the two never overlap.
	keyLock sync.Mutex

	// All fields below are guarded by tokenCache.mu.
	key      string
	busy     int          // flights running and changeKey calls holding the entry: it may not be removed
	removed  bool         // forgotten while busy: removed when the last user is done
	token    *cachedToken // last known token; nil when none
	loaded   bool         // storage has been read since the last change
	gen      uint64       // bumped by every change: an older flight's result is not kept
	flight   *flight      // the mint in progress, if any
	failure  error        // the last mint's error, cleared by a success
	failedAt time.Time
	lastRead time.Time
	forcedAt time.Time   // when the last forced mint started (forcedMintSpacing)
	src      tokenSource // the source of the last read, for refreshing ahead in the background
}

// flight is one load-and-mint that any number of readers wait on.
type flight struct {
	done   chan struct{}
	token  *cachedToken // set before done is closed, nil on error
	minted bool         // the token is new, not loaded from storage
	forced bool         // started for a reader's minimum alone; guarded by tokenCache.mu
	err    error
}

func newTokenCache(now func() time.Time) *tokenCache {
	return &tokenCache{now: now, entries: make(map[string]*cacheEntry)}
}

func (c *tokenCache) entryLocked(key string) *cacheEntry {
	e := c.entries[key]
	if e == nil {
		e = &cacheEntry{key: key}
		c.entries[key] = e
	}
	return e
}

// removeLocked drops what memory holds of e and removes the entry, at once
// when idle, else when its last user is done: a deleted chain or credential
// leaves nothing behind. An entry whose keyLock someone holds or awaits
// (busy) must stay, or a new entry's lock would let a mint overlap a change.
func (c *tokenCache) removeLocked(e *cacheEntry) {
	e.clear()
	if e.busy > 0 {
		e.removed = true
		return
	}
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
}

// releaseLocked ends one use of e, removing it if it was forgotten meanwhile.
func (c *tokenCache) releaseLocked(e *cacheEntry) {
	e.busy--
	if e.busy == 0 && e.removed && c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
}

// dropIfEmptyLocked removes e when it holds nothing, so that memory holds no
// more entries than keys worth keeping: a reader cannot grow it with made-up
// keys (club ids Resamania refuses), nor readAhead's scan with them.
func (c *tokenCache) dropIfEmptyLocked(e *cacheEntry, now time.Time) (dropped bool) {
	if !e.holdsNothing(now) || c.entries[e.key] != e {
		return false
	}
	delete(c.entries, e.key)
	return true
}

// holdsNothing: no one uses e (no flight, no change), it has no live token
// to serve, and it bars no token. A blocked key keeps its entry until its
// source changes: the entry is what stops a token loaded from storage being
// served (only a stored credential can be blocked, so these are bounded).
// Guarded by tokenCache.mu.
func (e *cacheEntry) holdsNothing(now time.Time) bool {
	live := e.token != nil && now.Before(e.token.ExpiresAt)
	blocked := e.failure != nil && keyBlocked(e.failure)
	return e.busy == 0 && !live && !blocked
}

// tokenAnswer is what a read gets of the cache: the token, whether the
// flight this read started or joined minted it, and, when Resamania failed
// and a still-valid cached token is served instead, the warning that says so.
type tokenAnswer struct {
	token   *cachedToken
	minted  bool
	warning string
}

// get returns a token of key with at least minLeft left, a reader's
// minimum: a mint it alone forces is spaced (forcedMintSpacing).
func (c *tokenCache) get(ctx context.Context, key string, src tokenSource, minLeft time.Duration) (tokenAnswer, error) {
	return c.getFor(ctx, key, src, minLeft, true)
}

// getAhead is get for a minimum the plugin sets, not the reader: a
// renewable lease's, which forces at most one mint per token.
func (c *tokenCache) getAhead(ctx context.Context, key string, src tokenSource, minLeft time.Duration) (tokenAnswer, error) {
	return c.getFor(ctx, key, src, minLeft, false)
}

func (c *tokenCache) getFor(ctx context.Context, key string, src tokenSource, minLeft time.Duration, spaced bool) (tokenAnswer, error) {
	// A second round is needed only when the first joined a flight that
	// loaded a stored token too short for this reader.
	for round := 0; round < 2; round++ {
		now := c.now()
		c.mu.Lock()
		e := c.entryLocked(key)
		e.lastRead, e.src = now, src
		if t := e.token; t != nil && isFresh(t, now, minLeft) {
			c.mu.Unlock()
			return tokenAnswer{token: t}, nil
		}
		if t := e.token; t != nil && minLeft > lifetimeOf(t) {
			// No token of this key ever lives that long: asking Resamania
			// would only spend the gateway's budget, every chain's.
			c.mu.Unlock()
			return tokenAnswer{}, &errTooShort{lifetime: lifetimeOf(t), minLeft: minLeft, unasked: true}
		}
		if t := e.token; t != nil && e.failure != nil && allowsFallback(e.failure) && now.Sub(e.failedAt) < failureCooldown && isUsable(t, now, minLeft) {
			failure := e.failure
			c.mu.Unlock()
			return tokenAnswer{token: t, warning: staleWarning(failure, t)}, nil
		}
		forced := false
		if t := e.token; spaced && t != nil && e.flight == nil && forcesMint(t, now, minLeft) {
			// A mint only this reader's minimum asks for: one per key per
			// spacing, whatever the readers, for the gateway's budget.
			if wait := e.forcedAt.Add(forcedMintSpacing(t)).Sub(now); !e.forcedAt.IsZero() && wait > 0 {
				c.mu.Unlock()
				return tokenAnswer{}, &forcedMintSpacedError{minLeft: minLeft, left: t.ExpiresAt.Sub(now), spacing: forcedMintSpacing(t), retryIn: wait}
			}
			e.forcedAt, forced = now, true
		}
		f, err := c.flightLocked(ctx, e, src, minLeft, false)
		if err != nil {
			c.dropIfEmptyLocked(e, now)
			c.mu.Unlock()
			return tokenAnswer{}, err
		}
		if forced {
			f.forced = true
		}
		c.mu.Unlock()

		select {
		case <-f.done:
		case <-ctx.Done():
			return tokenAnswer{}, fmt.Errorf("waiting for a token: %w", ctx.Err())
		}

		now = c.now()
		if f.err != nil {
			c.mu.Lock()
			t := e.token
			c.mu.Unlock()
			if t != nil && allowsFallback(f.err) && isUsable(t, now, minLeft) {
				return tokenAnswer{token: t, warning: staleWarning(f.err, t)}, nil
			}
			return tokenAnswer{}, f.err
		}
		if isUsable(f.token, now, minLeft) && (f.minted || isFresh(f.token, now, minLeft)) {
			return tokenAnswer{token: f.token, minted: f.minted}, nil
		}
		if f.minted {
			return tokenAnswer{}, &errTooShort{lifetime: lifetimeOf(f.token), minLeft: minLeft}
		}
	}
	return tokenAnswer{}, fmt.Errorf("no token with %s left could be obtained", minLeft)
}

// flightLocked is the one place a flight starts: the key's flight under way,
// or a new one, unless the mount is unloading. Called with c.mu held.
func (c *tokenCache) flightLocked(ctx context.Context, e *cacheEntry, src tokenSource, minLeft time.Duration, force bool) (*flight, error) {
	if e.flight != nil {
		return e.flight, nil
	}
	if c.closed {
		return nil, errUnloading
	}
	f := &flight{done: make(chan struct{})}
	e.flight = f
	e.busy++
	c.flying.Add(1)
	go c.fly(ctx, e, f, src, minLeft, force)
	return f, nil
}

// fly loads and, if need be, mints under the key's lock, detached from the
// first reader's cancellation (others may be waiting) but bounded in time.
// force skips the stored token and always mints.
func (c *tokenCache) fly(reqCtx context.Context, e *cacheEntry, f *flight, src tokenSource, minLeft time.Duration, force bool) {
	defer c.flying.Done()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), src.budget())
	defer cancel()

	e.keyLock.Lock()
	c.mu.Lock()
	gen, loaded := e.gen, e.loaded || force
	c.mu.Unlock()
	tok, minted, err := c.obtain(ctx, src, loaded, minLeft)
	e.keyLock.Unlock()

	c.mu.Lock()
	if gen == e.gen {
		if tok != nil {
			e.token, e.loaded = tok, true
		}
		if keyBlocked(err) {
			e.token = nil // no token of the key may be served until its source changes
		}
		if err != nil {
			e.failure, e.failedAt = err, c.now()
		} else {
			e.failure = nil
		}
		if f.forced && sentNothing(err) {
			e.forcedAt = time.Time{} // spent none of the gateway's budget
		}
	}
	if e.flight == f {
		e.flight = nil
	}
	if err == nil {
		f.token, f.minted = tok, minted
	}
	f.err = err
	c.releaseLocked(e)
	c.dropIfEmptyLocked(e, c.now())
	c.mu.Unlock()
	close(f.done)
}

// obtain returns the stored token when it is fresh enough, else a minted one.
// On a failed mint it still returns what storage held, as a fallback.
func (c *tokenCache) obtain(ctx context.Context, src tokenSource, loaded bool, minLeft time.Duration) (tok *cachedToken, minted bool, err error) {
	if !loaded {
		stored, err := src.load(ctx)
		if err != nil {
			return nil, false, err
		}
		if stored != nil && isFresh(stored, c.now(), minLeft) {
			return stored, false, nil
		}
		tok = stored
	}
	fresh, err := src.mint(ctx)
	if err != nil && fresh != nil {
		return fresh, true, err // a good token whose storage failed: the fallback
	}
	if err != nil {
		return tok, false, err
	}
	return fresh, true, nil
}

// refresh mints a new token for key now, whatever the cached one's age (the
// background keep-alive and refresh ahead), or waits for a flight under way.
func (c *tokenCache) refresh(ctx context.Context, key string, src tokenSource) error {
	if err := ctx.Err(); err != nil {
		return err // the tick is over: start nothing it could not wait for
	}
	c.mu.Lock()
	e := c.entryLocked(key)
	f, err := c.flightLocked(ctx, e, src, 0, true)
	if err != nil {
		c.dropIfEmptyLocked(e, c.now())
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readAhead lists the keys in use (read since their token was issued) whose
// token is past half its life: refreshing them now keeps steady-state reads,
// Vault Agent's once-per-lease ones included, from waiting on Resamania. A key
// no one reads any more gets at most one such refresh. On its way it removes
// the idle entries whose token has expired (the periodic tick calls it): an
// expired token is past refreshing ahead, so the next reader mints.
func (c *tokenCache) readAhead(now time.Time) map[string]tokenSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	due := make(map[string]tokenSource)
	for key, e := range c.entries {
		if c.dropIfEmptyLocked(e, now) {
			continue
		}
		t := e.token
		if e.src == nil || e.flight != nil || t == nil || e.lastRead.Before(t.IssuedAt) {
			continue
		}
		if t.ExpiresAt.Sub(now) < lifetimeOf(t)/2 {
			due[key] = e.src
		}
	}
	return due
}

// changeKey runs fn, a change of the key's source, while no load or mint of
// the key runs, then drops what memory held of it.
func (c *tokenCache) changeKey(key string, fn func() error) error {
	c.mu.Lock()
	e := c.entryLocked(key)
	e.busy++
	c.mu.Unlock()

	e.keyLock.Lock()
	err := fn()
	c.mu.Lock()
	c.removeLocked(e)
	c.mu.Unlock()
	e.keyLock.Unlock()

	c.mu.Lock()
	c.releaseLocked(e)
	c.mu.Unlock()
	return err
}

// forget drops what memory holds of key, so the next read goes to storage,
// and removes its entry.
func (c *tokenCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		c.removeLocked(e)
	}
}

// forgetPrefix forgets every key under prefix, as forget does.
func (c *tokenCache) forgetPrefix(prefix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, e := range c.entries {
		if strings.HasPrefix(key, prefix) {
			c.removeLocked(e)
		}
	}
}

// clear forgets the entry's token, and the flight under way: its result came
// from the source as it was, so a reader from now on waits for a new flight.
// Guarded by tokenCache.mu.
func (e *cacheEntry) clear() {
	e.gen++
	e.token, e.loaded, e.failure, e.flight = nil, false, nil, nil
}

// drain stops new flights and waits, up to limit, for those under way; it
// reports whether they all ended. A flight ends within its source's budget,
// so a limit above every budget never cuts one short.
func (c *tokenCache) drain(limit time.Duration) bool {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.flying.Wait()
		close(done)
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// cachedCount is how many keys hold a token in memory.
func (c *tokenCache) cachedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.entries {
		if e.token != nil {
			n++
		}
	}
	return n
}

// entryCount is how many keys the cache holds an entry for.
func (c *tokenCache) entryCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// reset drops everything (the mount is being unloaded).
func (c *tokenCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		c.removeLocked(e)
	}
}

// staleWarning tells a reader served t after err why no newer token came.
func staleWarning(err error, t *cachedToken) string {
	until := t.ExpiresAt.UTC().Format(time.RFC3339)
	if held := (*storageFailedError)(nil); errors.As(err, &held) {
		return fmt.Sprintf("%v; returning the newest token, valid until %s", err, until)
	}
	return fmt.Sprintf("could not get a new token (%v); returning the cached token, valid until %s", err, until)
}
