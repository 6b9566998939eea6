package resamania

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// refreshSource gets a member's access tokens with the refresh_token grant.
// Refresh tokens are single use: each refresh's new one is stored before
// anything else is done with the answer.
type refreshSource struct {
	b           *backend
	chain, name string
	storage     logical.Storage
	timeout     time.Duration // the chain's request_timeout when the read began
}

func (s *refreshSource) key() string { return credKey(s.chain, s.name) }

func (s *refreshSource) budget() time.Duration { return mintBudget(s.timeout) }

func (s *refreshSource) load(ctx context.Context) (*cachedToken, error) {
	c, _, err := s.b.unsaved.current(ctx, s.storage, s.key())
	if err != nil {
		return nil, err
	}
	if c == nil || c.State != credActive {
		return nil, nil
	}
	return c.AccessToken, nil
}

// mint runs under the key's lock: it re-reads the credential, so that two
// refreshes can never send the same refresh token.
func (s *refreshSource) mint(ctx context.Context) (*cachedToken, error) {
	key := s.key()
	held, err := s.b.unsaved.save(ctx, s.storage, key)
	if err != nil {
		// Sending the held token's predecessor would spend a dead token, and
		// the held one cannot be trusted to survive a crash: do neither.
		return nil, &storageFailedError{key: key, err: err}
	}
	c := held
	if c == nil {
		if c, err = getCredential(ctx, s.storage, key); err != nil {
			return nil, err
		}
	}
	if c == nil {
		return nil, &credNotFoundError{chain: s.chain, name: s.name}
	}
	if c.State != credActive {
		return nil, &credStateError{chain: s.chain, name: s.name, state: c.State, reason: c.StateReason, since: c.StateSince}
	}
	client, err := s.b.chainClient(ctx, s.storage, s.chain)
	if err != nil {
		return nil, err
	}
	t, err := client.Refresh(ctx, c.RefreshToken)
	now := s.b.now()
	if err != nil {
		return nil, s.refreshFailed(ctx, c, err, now)
	}
	applyGrant(c, t, now)
	c.LastRefreshedAt = now
	c.Refreshes++
	if err := putCredential(ctx, s.storage, key, c); err != nil {
		s.b.unsaved.put(key, c)
		s.b.Logger().Error("a rotated refresh token could not be stored; holding it in memory", "credential", key, "error", err)
		return nil, &storageFailedError{key: key, err: err}
	}
	s.b.Logger().Debug("refreshed a credential", "credential", key, "expires_at", c.AccessToken.ExpiresAt.UTC())
	return c.AccessToken, nil
}

// refreshFailed records what a failed refresh means for the credential.
func (s *refreshSource) refreshFailed(ctx context.Context, c *credential, err error, now time.Time) error {
	key := s.key()
	if rt := upstream.RotatedRefreshToken(err); rt != "" && rt != c.RefreshToken {
		// The answer was unusable but carried the rotated refresh token: keep
		// it, so the next read can refresh with it.
		c.RefreshToken, c.RefreshTokenIssuedAt, c.AccessToken = rt, now, nil
		if perr := putCredential(ctx, s.storage, key, c); perr != nil {
			s.b.unsaved.put(key, c)
			return &storageFailedError{key: key, err: perr}
		}
		s.b.Logger().Warn("refresh answer unusable; kept its new refresh token", "credential", key, "error", err)
		return &upstreamError{chain: s.chain, grant: "refresh_token", err: err}
	}
	var state credState
	switch {
	case upstream.IsRejected(err, "invalid_grant"):
		state = credSignInRequired
	case upstream.MaySpendGrant(err):
		state = credUncertain
	default:
		// Not sent, or refused before the grant was looked at: the refresh
		// token is untouched and the next read may try again.
		s.b.Logger().Warn("refresh failed", "credential", key, "error", err)
		return &upstreamError{chain: s.chain, grant: "refresh_token", err: err}
	}
	c.setState(state, err.Error(), now)
	s.b.Logger().Warn("credential needs attention", "credential", key, "state", state, "error", err)
	if perr := putCredential(ctx, s.storage, key, c); perr != nil {
		s.b.Logger().Error("could not record the credential's state", "credential", key, "error", perr)
	}
	return &credStateError{chain: s.chain, name: s.name, state: state, reason: c.StateReason, since: now, justLost: state == credUncertain}
}

// applyGrant puts a successful grant's tokens on c. Without a new refresh
// token the old one stays valid (RFC 6749 6), and oauth2 hands it back.
func applyGrant(c *credential, t *upstream.Token, now time.Time) {
	if t.RefreshToken != c.RefreshToken {
		c.RefreshToken, c.RefreshTokenIssuedAt = t.RefreshToken, now
	}
	c.AccessToken = nil
	if t.AccessToken != "" {
		c.AccessToken = &cachedToken{AccessToken: t.AccessToken, TokenType: t.TokenType, Scope: t.Scope, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt}
		c.Scope = t.Scope
	}
	c.setState(credActive, "", now)
}

type credNotFoundError struct{ chain, name string }

func (e *credNotFoundError) Error() string {
	return fmt.Sprintf("no credential %q for chain %q: sign the member in (auth-code-url/%s, then write creds/%s/%s with the code) or import a refresh token", e.name, e.chain, e.chain, e.chain, e.name)
}

// credStateError: the credential cannot be refreshed until someone acts.
type credStateError struct {
	chain, name string
	state       credState
	reason      string
	since       time.Time
	// justLost: this very read's refresh was lost in transit (a 502), as
	// opposed to a later read finding the credential already uncertain (a 400).
	justLost bool
}

func (e *credStateError) noFallback() {}

func (e *credStateError) Error() string {
	what := "Resamania refused its refresh token"
	if e.state == credUncertain {
		what = "the answer to its last refresh was lost after the request reached Resamania, so its refresh token may have been replaced"
	}
	return fmt.Sprintf("credential %q of chain %q needs the member to sign in again: %s (%s, since %s); write creds/%s/%s with a new code or refresh_token",
		e.name, e.chain, what, e.reason, e.since.UTC().Format(time.RFC3339), e.chain, e.name)
}

// storageFailedError: a rotated refresh token is held in memory only.
type storageFailedError struct {
	key string
	err error
}

func (e *storageFailedError) noFallback() {}

func (e *storageFailedError) Unwrap() error { return e.err }

func (e *storageFailedError) Error() string {
	return fmt.Sprintf("credential %q was refreshed but could not be stored; the new refresh token is held in memory and will be stored at the next read: %v", e.key, e.err)
}
