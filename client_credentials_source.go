package resamania

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// clientCredentialsSource mints a chain's tokens with the client_credentials
// grant, and keeps the last one in storage (cache/token/<client_token>).
type clientCredentialsSource struct {
	mintDeps
	chain   string
	timeout time.Duration // the chain's request_timeout when the read began
}

func (s *clientCredentialsSource) key() string { return chainTokenKey(s.chain) }

func (s *clientCredentialsSource) budget() time.Duration { return mintBudget(s.timeout) }

func (s *clientCredentialsSource) load(ctx context.Context) (*cachedToken, error) {
	ch, err := s.chains.get(ctx, s.storage, s.chain)
	if err != nil {
		return nil, err
	}
	tok, err := getJSON[cachedToken](ctx, s.storage, s.key(), fmt.Sprintf("the cached token of chain %q", s.chain))
	switch {
	case errors.Is(err, errUndecodable):
		// A token that cannot be read is only a cache miss.
		s.log.Warn("ignoring an unreadable cached token", "chain", s.chain)
		return nil, nil
	case tok.staleForConfig(ch.fingerprint):
		return nil, nil // minted with another config: a miss
	}
	return tok, err
}

// mint looks the chain up under the key's lock, which a config change holds
// too, so a token is never minted with a config that a write has replaced.
func (s *clientCredentialsSource) mint(ctx context.Context) (*cachedToken, error) {
	defer s.guards.use(s.chain)()
	ch, err := s.chains.get(ctx, s.storage, s.chain)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	t, err := ch.client.ClientCredentials(ctx)
	s.noteHealth(chainHealthSubject(s.chain), err)
	if err != nil {
		s.log.Warn("client_credentials grant failed", "chain", s.chain, "error", err, "duration", time.Since(start))
		return nil, &upstreamError{chain: s.chain, grant: "client_credentials", err: err}
	}
	tok := newCachedToken(t)
	tok.ConfigFingerprint = ch.fingerprint
	if s.log.IsDebug() {
		s.log.Debug("minted a token", "chain", s.chain, "expires_at", tok.ExpiresAt.UTC(), "duration", time.Since(start))
	}
	s.keepMinted(ctx, s.key(), s.chain, tok)
	return tok, nil
}
