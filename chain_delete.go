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

// deleteChain removes the chain while it holds the chain's guard alone: the
// work under way on the chain (a refresh, a sign-in, a contact write, a
// mint) ends first, and none starts until the cascade is done, when it finds
// no chain. So nothing is stored under the chain after its last listing, and
// a chain configured again starts from nothing. The config goes last: a
// cascade that storage cuts short leaves the chain configured, and the
// error says to delete it again; it never leaves entries that a config
// written again would adopt.
func (b *backend) deleteChain(ctx context.Context, s logical.Storage, chain string) (chainDeletion, error) {
	defer b.guards.exclusive(chain)()
	defer b.forgetChain(chain)
	var done chainDeletion
	for _, prefix := range chainScopedPrefixes {
		n, err := countAndDeleteUnder(ctx, s, chainDir(prefix, chain))
		if err != nil {
			return done, err
		}
		switch prefix {
		case credsStoragePrefix:
			done.credentials = n
			// Only now: a held credential whose stored one a cascade cut
			// short left in storage is that one's successor, never to drop.
			b.creds.forgetChain(chain)
		case contactsStoragePrefix:
			done.contacts = n
		}
	}
	if err := deleteKey(ctx, s, chainTokenKey(chain)); err != nil {
		return done, err
	}
	return done, b.chains.change(chain, func() error { return deleteKey(ctx, s, configKey(chain)) })
}

// forgetChain drops what memory caches of a deleted chain, whether its
// cascade ended or not (what storage still holds is read again): its tokens
// of every scope, its members' access tokens and its health. Held
// credentials go with their stored ones, in the cascade.
func (b *backend) forgetChain(chain string) {
	b.forgetChainTokens(chain)
	credentials := chainDir(credsStoragePrefix, chain)
	b.tokens.forgetPrefix(credentials)
	b.health.forgetPrefix(credentials)
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
