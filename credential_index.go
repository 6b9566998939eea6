package resamania

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// credentialIndex keeps in memory what the keep-alive needs of each member
// credential (its state, when its refresh token was issued), so that a
// background tick with nothing due reads no storage, however many credentials
// the mount holds. It is built by one full read of the credentials on the
// first tick of a process (a reload or a failover starts a new one), then
// kept up to date by the credential store's every write and delete. A write
// made on another node (Invalidate) makes the next tick rebuild it.
type credentialIndex struct {
	chains chainLookup

	mu      sync.Mutex
	built   bool                  // guarded by mu
	entries map[string]indexEntry // guarded by mu, by storage key
	// building, while a build reads storage: keys written or deleted meanwhile,
	// which the build must not overwrite with what it read before.
	building map[string]bool // guarded by mu; nil when no build runs
}

// indexEntry is what the keep-alive needs of one credential.
type indexEntry struct {
	state    credState
	issuedAt time.Time // of its refresh token
}

func newCredentialIndex(chains chainLookup) *credentialIndex {
	return &credentialIndex{chains: chains, entries: make(map[string]indexEntry)}
}

// note records a credential that was just stored.
func (x *credentialIndex) note(key string, c *credential) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.entries[key] = indexEntry{state: c.State, issuedAt: c.RefreshTokenIssuedAt}
	if x.building != nil {
		x.building[key] = true
	}
}

// forget drops a deleted credential.
func (x *credentialIndex) forget(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.entries, key)
	if x.building != nil {
		x.building[key] = true
	}
}

// invalidate makes the next scan rebuild the index from storage.
func (x *credentialIndex) invalidate() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.built = false
}

// scan finds the active credentials whose refresh token is past half its
// life, and counts the credentials by state: from memory, once built.
func (x *credentialIndex) scan(ctx context.Context, s logical.Storage, now time.Time) (credentialScan, error) {
	found := credentialScan{byState: make(map[credState]int)}
	if err := x.buildOnce(ctx, s); err != nil {
		return found, err
	}
	x.mu.Lock()
	entries := make(map[string]indexEntry, len(x.entries))
	for k, e := range x.entries {
		entries[k] = e
	}
	x.mu.Unlock()

	ttls := map[string]*chainEntry{}
	for key, e := range entries {
		found.byState[e.state]++
		if e.state != credActive {
			continue
		}
		chain, name, _ := strings.Cut(strings.TrimPrefix(key, credsStoragePrefix), "/")
		ch, seen := ttls[chain]
		if !seen {
			ch, _ = x.chains.get(ctx, s, chain) // from memory once read; nil for a chain deleted since
			ttls[chain] = ch
		}
		if ch == nil {
			continue
		}
		ttl := ch.config.refreshTokenTTL()
		if now.Sub(e.issuedAt) >= ttl/2 {
			found.due = append(found.due, dueCredential{chain: chain, name: name, lapseAt: e.issuedAt.Add(ttl), timeout: ch.config.RequestTimeout})
		}
	}
	return found, nil
}

// buildOnce reads every credential of every configured chain, unless the
// index is built already.
func (x *credentialIndex) buildOnce(ctx context.Context, s logical.Storage) error {
	x.mu.Lock()
	if x.built {
		x.mu.Unlock()
		return nil
	}
	x.building = map[string]bool{}
	x.mu.Unlock()

	read, err := readAllCredentials(ctx, s)

	x.mu.Lock()
	defer x.mu.Unlock()
	changed := x.building
	x.building = nil
	if err != nil {
		return err
	}
	entries := make(map[string]indexEntry, len(read))
	for key, e := range read {
		if !changed[key] {
			entries[key] = e
		}
	}
	for key := range changed { // written or deleted during the build: as noted
		if e, ok := x.entries[key]; ok {
			entries[key] = e
		}
	}
	x.entries, x.built = entries, true
	return nil
}

// readAllCredentials reads the credentials of every configured chain.
func readAllCredentials(ctx context.Context, s logical.Storage) (map[string]indexEntry, error) {
	chains, err := s.List(ctx, configStoragePrefix)
	if err != nil {
		return nil, err
	}
	read := make(map[string]indexEntry)
	for _, chain := range chains {
		names, err := s.List(ctx, chainDir(credsStoragePrefix, chain))
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			key := credKey(chain, name)
			c, err := getCredential(ctx, s, key)
			if err != nil || c == nil {
				continue // deleted since the list, or unreadable: its reads say why
			}
			read[key] = indexEntry{state: c.State, issuedAt: c.RefreshTokenIssuedAt}
		}
	}
	return read, nil
}
