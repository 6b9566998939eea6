package resamania

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
)

// Deleting a chain removes everything stored under it: its config, its
// tokens of every scope, its members' credentials (live refresh tokens), its
// contacts (members' emails: personal data) and its pending sign-in states,
// in storage and in memory. A chain configured again under the same name
// starts from nothing.

// chainDeletion counts what a chain's deletion took with it, for the warning.
type chainDeletion struct{ credentials, contacts int }

// deleteChain removes the chain. The config goes first, under the chain's
// lock, so that no read, sign-in or refresh starts with it afterwards; then
// each credential and contact under its own key's lock, so that a refresh
// running at that moment finishes before its credential is deleted, and
// writes nothing back after.
func (b *backend) deleteChain(ctx context.Context, s logical.Storage, chain string) (chainDeletion, error) {
	var done chainDeletion
	err := b.changeChain(chain, func() error {
		if err := deleteKey(ctx, s, configKey(chain)); err != nil {
			return err
		}
		for _, dir := range []string{chainDir(clubTokenStoragePrefix, chain), chainDir(contactTokenStoragePrefix, chain)} {
			if err := deleteUnder(ctx, s, dir); err != nil {
				return err
			}
		}
		return deleteKey(ctx, s, chainTokenKey(chain))
	})
	if err != nil {
		return done, err
	}
	if done.credentials, err = b.deleteChainCredentials(ctx, s, chain); err != nil {
		return done, err
	}
	if done.contacts, err = b.deleteChainContacts(ctx, s, chain); err != nil {
		return done, err
	}
	return done, deleteUnder(ctx, s, chainDir(authStateStoragePrefix, chain))
}

// deleteChainCredentials deletes each credential of the chain under its key's
// lock. A sign-in that looked the config up just before it went may store
// one more while the first pass runs: a second pass finds it.
func (b *backend) deleteChainCredentials(ctx context.Context, s logical.Storage, chain string) (int, error) {
	n := 0
	for range 2 {
		names, err := s.List(ctx, chainDir(credsStoragePrefix, chain))
		if err != nil {
			return n, fmt.Errorf("listing the credentials of chain %q: %w", chain, err)
		}
		for _, name := range names {
			key := credKey(chain, name)
			if err := b.tokens.changeKey(key, func() error { return b.creds.delete(ctx, s, key) }); err != nil {
				return n, err
			}
			b.health.forget(key)
			n++
		}
	}
	return n, nil
}

// deleteChainContacts deletes each contact of the chain and its token under
// the token key's lock.
func (b *backend) deleteChainContacts(ctx context.Context, s logical.Storage, chain string) (int, error) {
	names, err := s.List(ctx, chainDir(contactsStoragePrefix, chain))
	if err != nil {
		return 0, fmt.Errorf("listing the contacts of chain %q: %w", chain, err)
	}
	for _, name := range names {
		tokenKey := tokenScope{contact: name}.storageKey(chain)
		err := b.tokens.changeKey(tokenKey, func() error {
			if err := deleteKey(ctx, s, contactKey(chain, name)); err != nil {
				return err
			}
			return deleteKey(ctx, s, tokenKey)
		})
		if err != nil {
			return 0, err
		}
	}
	return len(names), nil
}

// deleteUnder deletes every entry directly under prefix.
func deleteUnder(ctx context.Context, s logical.Storage, prefix string) error {
	_, err := countAndDeleteUnder(ctx, s, prefix)
	return err
}

// warnings are what a deletion's response says it took with it.
func (d chainDeletion) warnings(chain string) []string {
	if d.credentials == 0 && d.contacts == 0 {
		return nil
	}
	return []string{fmt.Sprintf("deleted with chain %q: %d member credential(s) and %d contact(s); members must sign in again if the chain is configured again", chain, d.credentials, d.contacts)}
}

// removeOrphans deletes what earlier versions, whose chain deletion kept
// them, left under chains deleted since: credentials, contacts, tokens and
// sign-in states with no config. It runs as the mount starts on the node that
// owns storage; once they are gone, it only lists.
func (b *backend) removeOrphans(ctx context.Context, s logical.Storage) error {
	if !b.ownsStorage() {
		return nil
	}
	removed := 0
	orphan := func(chain string) (bool, error) {
		cfg, err := getChainConfig(ctx, s, chain)
		return cfg == nil && err == nil, err
	}
	for _, prefix := range chainScopedPrefixes {
		chains, err := s.List(ctx, prefix)
		if err != nil {
			return fmt.Errorf("listing %s: %w", prefix, err)
		}
		for _, dir := range chains {
			chain, isDir := strings.CutSuffix(dir, "/")
			if !isDir {
				continue
			}
			gone, err := orphan(chain)
			if err != nil {
				return err
			}
			if !gone {
				continue
			}
			n, err := countAndDeleteUnder(ctx, s, prefix+dir)
			removed += n
			if err != nil {
				return err
			}
		}
	}
	tokens, err := s.List(ctx, tokenStoragePrefix)
	if err != nil {
		return fmt.Errorf("listing %s: %w", tokenStoragePrefix, err)
	}
	for _, chain := range tokens {
		gone, err := orphan(chain)
		if err != nil {
			return err
		}
		if !gone {
			continue
		}
		if err := deleteKey(ctx, s, chainTokenKey(chain)); err != nil {
			return err
		}
		removed++
	}
	if removed > 0 {
		b.Logger().Info("removed entries that an earlier version left behind for chains deleted since", "entries", removed)
	}
	return nil
}

// countAndDeleteUnder deletes every entry directly under prefix and says how many.
func countAndDeleteUnder(ctx context.Context, s logical.Storage, prefix string) (int, error) {
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return 0, fmt.Errorf("listing %s: %w", prefix, err)
	}
	n := 0
	for _, k := range keys {
		if strings.HasSuffix(k, "/") {
			continue
		}
		if err := deleteKey(ctx, s, prefix+k); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
