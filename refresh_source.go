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
// refreshes can never send the same refresh token, and fences the refresh
// behind a storage write, so that no node sends a refresh token whose
// successor it cannot store. It holds the chain's guard, so that a chain's
// deletion never races the write of a new refresh token.
func (s *refreshSource) mint(ctx context.Context) (*cachedToken, error) {
	defer s.guards.use(s.chain)()
	key := s.key()
	c, err := s.creds.saveHeld(ctx, s.storage, key)
	if err != nil {
		// Sending the held token's predecessor would spend a dead token, and
		// the held one cannot be trusted to survive a crash: do neither. The
		// held access token still serves.
		return usableAccessToken(c), err
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
	found := c.GrantSent // a record left by a refresh whose answer was never stored
	if err := s.creds.fence(ctx, s.storage, key, c, grantRefreshToken, c.RefreshToken, s.now()); err != nil {
		s.log.Warn("storage cannot commit: no refresh sent", "credential", key, "error", err)
		return nil, err
	}
	t, err := ch.client.Refresh(ctx, c.RefreshToken)
	c.GrantSent = nil // its outcome is known: every write from here records it
	s.noteHealth(key, err)
	now := s.now()
	ctx, cancel := answerContext(ctx)
	defer cancel()
	if err != nil {
		return nil, s.refreshFailed(ctx, c, t, err, now, found)
	}
	if found != nil && found.Instance != s.creds.instance {
		s.log.Info("a refresh recorded as sent by another plugin instance never stored its answer; the refresh token was still good", "credential", key, "sent_at", found.At.UTC(), "sent_from", found.Node)
	}
	c.LastRefreshedAt = now
	c.Refreshes++
	if err := s.creds.storeGrant(ctx, s.storage, key, c, t, now); err != nil {
		s.log.Error("a rotated refresh token could not be stored; holding it in memory", "credential", key, "error", err)
		return usableAccessToken(c), err
	}
	s.log.Debug("refreshed a credential", "credential", key, "expires_at", c.AccessToken.ExpiresAt.UTC())
	return c.AccessToken, nil
}

// usableAccessToken is the access token of a credential held in memory, when
// it may still be handed out: the plugin never answers an error while it
// holds a valid new token.
func usableAccessToken(c *credential) *cachedToken {
	if c == nil || c.State != credActive {
		return nil
	}
	return c.AccessToken
}

// refreshFailed records what a failed refresh means for the credential.
// rotated is the refresh token an unusable answer still carried, if any;
// found, the grantSent record the refresh's fence replaced.
func (s *refreshSource) refreshFailed(ctx context.Context, c *credential, rotated *upstream.Token, err error, now time.Time, found *grantSent) error {
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
	reason := err.Error()
	switch {
	case upstream.IsRejected(err, "invalid_grant"):
		state = credSignInRequired
		if lost := s.creds.lostAnswer(c, found); lost != "" {
			reason = lost + " (" + reason + ")"
		}
	case upstream.MaySpendGrant(err):
		state = credUncertain
	default:
		// Not sent, or refused before the grant was looked at: the refresh
		// token is untouched and the next read may try again. The fence's
		// record goes, lest a later refusal be blamed on this refresh.
		s.log.Warn("refresh failed", "credential", key, "error", err)
		if perr := putCredential(ctx, s.storage, key, c); perr != nil {
			s.log.Warn("could not clear the record of a refresh that spent nothing", "credential", key, "error", perr)
		}
		return failed
	}
	c.setState(state, reason, now)
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
