package resamania

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// tokenScope is what a server-to-server token is scoped to, beyond its chain:
// one club, or one member named by an operator (never by email).
type tokenScope struct {
	club    string // the club's number, as in its IRI; "" for a member scope
	contact string // the contact's name; "" for a club scope
}

func (sc tokenScope) storageKey(chain string) string {
	if sc.club != "" {
		return clubTokenKey(chain, sc.club)
	}
	return contactTokenKey(chain, sc.contact)
}

func (sc tokenScope) readKind() string {
	if sc.club != "" {
		return readKindClub
	}
	return readKindContact
}

func (sc tokenScope) grant() string {
	if sc.club != "" {
		return upstream.GrantClub
	}
	return upstream.GrantContact
}

// clubIRI is how Resamania names a club: /{client_token}/clubs/{id}.
func clubIRI(chain, club string) string { return "/" + chain + "/clubs/" + club }

// validateClubID: a club's number, as Resamania's IRIs carry it.
func validateClubID(club string) error {
	if n, err := strconv.ParseUint(club, 10, 63); err != nil || n == 0 || club[0] == '0' {
		return fmt.Errorf("club_id must be a club's number, such as 1234")
	}
	return nil
}

// scopedSource mints club- and member-scoped tokens with Resamania's extension
// grants, and keeps the last one in storage with the fingerprint of the config
// it was minted with: a token minted before a config change is never loaded.
type scopedSource struct {
	mintDeps
	refusals *refusedScopes // Resamania's refusals of this mount's scoped grants
	chain    string
	scope    tokenScope
	timeout  time.Duration // the chain's request_timeout when the read began
}

func (s *scopedSource) key() string { return s.scope.storageKey(s.chain) }

func (s *scopedSource) budget() time.Duration { return mintBudget(s.timeout) }

func (s *scopedSource) load(ctx context.Context) (*cachedToken, error) {
	ch, err := s.chains.get(ctx, s.storage, s.chain)
	if err != nil {
		return nil, err
	}
	tok, err := getJSON[cachedToken](ctx, s.storage, s.key(), "a cached scoped token")
	if errors.Is(err, errUndecodable) || tok.staleForConfig(ch.fingerprint) {
		return nil, nil // a miss: unreadable, or minted with another config
	}
	return tok, err
}

// mint runs under the key's lock, which a contact's change holds too, and
// under the chain's guard, so that a deletion leaves no token behind.
func (s *scopedSource) mint(ctx context.Context) (*cachedToken, error) {
	defer s.guards.use(s.chain)()
	ch, err := s.chains.get(ctx, s.storage, s.chain)
	if err != nil {
		return nil, err
	}
	if err := s.refusals.recall(s.key(), ch.fingerprint); err != nil {
		return nil, err
	}
	start := time.Now()
	t, err := s.send(ctx, ch)
	if !upstream.IsRejected(err, "invalid_grant") {
		// An unknown club or email is the reader's mistake, not the chain's health.
		s.noteHealth(chainHealthSubject(s.chain), err)
	}
	if err != nil {
		s.log.Warn("scoped grant failed", "chain", s.chain, "club", s.scope.club, "contact", s.scope.contact, "error", err, "duration", time.Since(start))
		failed := s.failed(err)
		if refused, ok := failed.(*scopeRefusedError); ok {
			s.refusals.remember(s.key(), ch.fingerprint, refused)
		}
		return nil, failed
	}
	tok := newCachedToken(t)
	tok.ConfigFingerprint = ch.fingerprint
	s.log.Debug("minted a scoped token", "chain", s.chain, "club", s.scope.club, "contact", s.scope.contact, "expires_at", tok.ExpiresAt.UTC())
	s.keepMinted(ctx, s.key(), s.chain, tok)
	return tok, nil
}

func (s *scopedSource) send(ctx context.Context, ch *chainEntry) (*upstream.Token, error) {
	if s.scope.club != "" {
		return ch.client.ClubCredentials(ctx, clubIRI(s.chain, s.scope.club))
	}
	c, err := getContact(ctx, s.storage, s.chain, s.scope.contact)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, &contactNotFoundError{chain: s.chain, name: s.scope.contact}
	}
	return ch.client.ContactCredentials(ctx, c.Email)
}

// failed tells what a failed scoped grant means: Resamania refuses an unknown
// club or email with invalid_grant, which the reader can fix.
func (s *scopedSource) failed(err error) error {
	var ue *upstream.Error
	switch {
	case upstream.IsRejected(err, "invalid_grant") && s.scope.club != "":
		return &scopeRefusedError{msg: fmt.Sprintf("Resamania does not know club %s of chain %q (it answered invalid_grant): check club_id", s.scope.club, s.chain)}
	case upstream.IsRejected(err, "invalid_grant"):
		return &scopeRefusedError{msg: fmt.Sprintf("Resamania knows no member by the email of contact %q of chain %q (it answered invalid_grant): check the email at contacts/%s/%s", s.scope.contact, s.chain, s.chain, s.scope.contact)}
	case errors.As(err, &ue):
		return &upstreamError{chain: s.chain, grant: s.scope.grant(), err: err}
	}
	return err
}
