package resamania

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// clientCredentialsSource mints a chain's tokens with the client_credentials
// grant, and keeps the last one in storage (cache/token/<client_token>).
type clientCredentialsSource struct {
	mintDeps
	chain   string
	timeout time.Duration // the chain's request_timeout when the read began
}

func (s *clientCredentialsSource) key() string { return tokenStoragePrefix + s.chain }

func (s *clientCredentialsSource) budget() time.Duration { return mintBudget(s.timeout) }

func (s *clientCredentialsSource) load(ctx context.Context) (*cachedToken, error) {
	entry, err := s.storage.Get(ctx, s.key())
	if err != nil {
		return nil, fmt.Errorf("reading the cached token of chain %q: %w", s.chain, err)
	}
	if entry == nil {
		return nil, nil
	}
	tok := new(cachedToken)
	if err := entry.DecodeJSON(tok); err != nil {
		// A token that cannot be read is only a cache miss.
		s.log.Warn("ignoring an unreadable cached token", "chain", s.chain)
		return nil, nil
	}
	return tok, nil
}

// mint looks the chain up under the key's lock, which a config change holds
// too, so a token is never minted with a config that a write has replaced.
func (s *clientCredentialsSource) mint(ctx context.Context) (*cachedToken, error) {
	ch, err := s.chains.get(ctx, s.storage, s.chain)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	t, err := ch.client.ClientCredentials(ctx)
	if err != nil {
		s.log.Warn("client_credentials grant failed", "chain", s.chain, "error", err, "duration", time.Since(start))
		return nil, &upstreamError{chain: s.chain, grant: "client_credentials", err: err}
	}
	tok := newCachedToken(t)
	if s.log.IsDebug() {
		s.log.Debug("minted a token", "chain", s.chain, "expires_at", tok.ExpiresAt.UTC(), "duration", time.Since(start))
	}
	entry, err := logical.StorageEntryJSON(s.key(), tok)
	if err == nil {
		err = s.storage.Put(ctx, entry)
	}
	if err != nil {
		// The token is good; only a later reload would have to mint again.
		s.log.Warn("could not persist the minted token; it is kept in memory", "chain", s.chain, "error", err)
	}
	return tok, nil
}

func deleteStoredToken(ctx context.Context, s logical.Storage, chain string) error {
	if err := s.Delete(ctx, tokenStoragePrefix+chain); err != nil {
		return fmt.Errorf("deleting the cached token of chain %q: %w", chain, err)
	}
	return nil
}
