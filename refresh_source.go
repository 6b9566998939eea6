package resamania

import (
	"context"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// refreshSource gets a member's access tokens with the refresh_token grant.
// Refresh tokens are single use: each refresh's new one is stored before
// anything else is done with the answer.
type refreshSource struct {
	mintDeps
	creds       *credentialStore
	chain, name string
	timeout     time.Duration // the chain's request_timeout when the read began
}

func (s *refreshSource) key() string { return credKey(s.chain, s.name) }

func (s *refreshSource) budget() time.Duration { return mintBudget(s.timeout) }

func (s *refreshSource) load(ctx context.Context) (*cachedToken, error) {
	c, _, err := s.creds.current(ctx, s.storage, s.key())
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
	c, err := s.creds.saveHeld(ctx, s.storage, key)
	if err != nil {
		// Sending the held token's predecessor would spend a dead token, and
		// the held one cannot be trusted to survive a crash: do neither.
		return nil, err
	}
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
	ch, err := s.chains.get(ctx, s.storage, s.chain)
	if err != nil {
		return nil, err
	}
	t, err := ch.client.Refresh(ctx, c.RefreshToken)
	s.noteHealth(key, err)
	now := s.now()
	if err != nil {
		return nil, s.refreshFailed(ctx, c, t, err, now)
	}
	c.LastRefreshedAt = now
	c.Refreshes++
	if err := s.creds.storeGrant(ctx, s.storage, key, c, t, now); err != nil {
		s.log.Error("a rotated refresh token could not be stored; holding it in memory", "credential", key, "error", err)
		return nil, err
	}
	s.log.Debug("refreshed a credential", "credential", key, "expires_at", c.AccessToken.ExpiresAt.UTC())
	return c.AccessToken, nil
}

// refreshFailed records what a failed refresh means for the credential.
// rotated is the refresh token an unusable answer still carried, if any.
func (s *refreshSource) refreshFailed(ctx context.Context, c *credential, rotated *upstream.Token, err error, now time.Time) error {
	key := s.key()
	failed := &upstreamError{chain: s.chain, grant: "refresh_token", err: err}
	if rotated != nil && rotated.RefreshToken != c.RefreshToken {
		// Keep the new refresh token, so the next read can refresh with it.
		if serr := s.creds.storeGrant(ctx, s.storage, key, c, rotated, now); serr != nil {
			return serr
		}
		s.log.Warn("refresh answer unusable; kept its new refresh token", "credential", key, "error", err)
		return failed
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
		s.log.Warn("refresh failed", "credential", key, "error", err)
		return failed
	}
	c.setState(state, err.Error(), now)
	s.log.Warn("credential needs attention", "credential", key, "state", state, "error", err)
	if perr := s.creds.storeOrHold(ctx, s.storage, key, c); perr != nil {
		// Held, like a rotated token: until the state is stored, no read
		// sends the refresh token that may be spent.
		s.log.Error("could not store the credential's state; holding it in memory", "credential", key, "error", perr)
	}
	blocked := &credStateError{chain: s.chain, name: s.name, state: state, reason: c.StateReason, since: now}
	if state == credUncertain {
		// This very read's refresh was lost in transit: Resamania's fault.
		return &answerLostError{msg: blocked.Error(), err: failed}
	}
	return blocked
}
