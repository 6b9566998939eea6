package resamania

import "time"

// What the simulation (sim_*_test.go, package resamania_test) may reach
// inside the plugin: a backend on its clock, and two views of its memory.

// NewBackend is a backend on the clock now, not set up: call Setup, then
// Initialize, as Vault does.
var NewBackend = newBackend

// TokenCacheSizes counts the token cache's entries, and those of them that
// hold a token, have a flight under way or bar a blocked key's stored token
// (a credential that needs a sign-in: bounded by the stored credentials):
// once nothing runs, any other entry is memory the cache should have let go.
func (b *backend) TokenCacheSizes() (entries, inUse int) {
	c := b.tokens
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		entries++
		if e.token != nil || e.flight != nil || (e.failure != nil && keyBlocked(e.failure)) {
			inUse++
		}
	}
	return entries, inUse
}

// WaitForFlights waits, up to limit, for the token requests under way (a
// flight outlives a reader who hung up), and reports whether they ended.
// Call it only when no request is coming.
func (b *backend) WaitForFlights(limit time.Duration) bool {
	done := make(chan struct{})
	go func() {
		b.tokens.flying.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// HeldCredentials lists the credentials held in memory only, because
// storage refused them.
func (b *backend) HeldCredentials() []string { return b.creds.heldKeys() }

// MintBudget is how long a grant may take, all retries included.
func MintBudget(requestTimeout time.Duration) time.Duration { return mintBudget(requestTimeout) }
