package resamania

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// tokenStoragePrefix holds the cached client_credentials token of each chain,
// cache/token/<client_token>, so a plugin reload or a Vault restart does not
// re-mint a token that is still good. Seal-wrapped.
const tokenStoragePrefix = "cache/token/"

// clientCredentialsSource mints a chain's tokens with the client_credentials grant.
type clientCredentialsSource struct {
	b       *backend
	chain   string
	storage logical.Storage
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
		s.b.Logger().Warn("ignoring an unreadable cached token", "chain", s.chain)
		return nil, nil
	}
	return tok, nil
}

// mint reads the chain's config under the key's lock, so a token is never
// minted with a config that a concurrent write has already replaced.
func (s *clientCredentialsSource) mint(ctx context.Context) (*cachedToken, error) {
	client, err := s.b.chainClient(ctx, s.storage, s.chain)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	t, err := client.ClientCredentials(ctx)
	if err != nil {
		s.b.Logger().Warn("client_credentials grant failed", "chain", s.chain, "error", err, "duration", time.Since(start))
		return nil, &upstreamError{chain: s.chain, grant: "client_credentials", err: err}
	}
	tok := &cachedToken{AccessToken: t.AccessToken, TokenType: t.TokenType, Scope: t.Scope, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt}
	if s.b.Logger().IsDebug() {
		s.b.Logger().Debug("minted a token", "chain", s.chain, "expires_at", tok.ExpiresAt.UTC(), "duration", time.Since(start))
	}
	entry, err := logical.StorageEntryJSON(s.key(), tok)
	if err == nil {
		err = s.storage.Put(ctx, entry)
	}
	if err != nil {
		// The token is good; only a later reload would have to mint again.
		s.b.Logger().Warn("could not persist the minted token; it is kept in memory", "chain", s.chain, "error", err)
	}
	return tok, nil
}

func deleteStoredToken(ctx context.Context, s logical.Storage, key string) error {
	if err := s.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting the cached token %q: %w", key, err)
	}
	return nil
}

type chainNotFoundError struct{ chain string }

func (e *chainNotFoundError) Error() string {
	return fmt.Sprintf("chain %q is not configured", e.chain)
}

// upstreamError is a failed grant, told with the chain and what Resamania
// answered (never a body or a secret), with the fix when the operator has one.
type upstreamError struct {
	chain, grant string
	err          error
}

func (e *upstreamError) Unwrap() error { return e.err }

func (e *upstreamError) Error() string {
	msg := fmt.Sprintf("chain %q: %s grant failed: %v", e.chain, e.grant, e.err)
	var ue *upstream.Error
	if errors.As(e.err, &ue) {
		switch {
		case ue.Kind == upstream.KindRejected && (ue.Code == "invalid_client" || ue.Code == "unauthorized_client"):
			msg += "; check client_id and client_secret in this chain's config"
		case ue.Kind == upstream.KindRejected && ue.Code == "invalid_scope":
			msg += "; check scope in this chain's config"
		case ue.Kind == upstream.KindGateway:
			msg += "; set api_key in this chain's config"
		}
	}
	return msg
}

// httpStatus is the status a reader gets for the failure: 502 when Resamania
// answered wrongly, 503 when it could not be reached or asked to wait.
func (e *upstreamError) httpStatus() int {
	var ue *upstream.Error
	if errors.As(e.err, &ue) && ue.Kind == upstream.KindTransient {
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}
