package fakeresamania

import (
	"net/url"
	"regexp"
	"time"
)

// grantTypePattern is the library's GRANT_TYPE_REGEXP; anything else is
// invalid_request, not unsupported_grant_type.
var grantTypePattern = regexp.MustCompile(`^(authorization_code|token|password|client_credentials|refresh_token|https?://.+|urn:.+)$`)

// clubIRIPattern matches a club IRI such as "/{client_token}/clubs/1234".
var clubIRIPattern = regexp.MustCompile(`^/([^/]+)/clubs/([0-9]+)$`)

// tokenRequest is a token-endpoint request, already parsed.
type tokenRequest struct {
	clientToken string
	form        url.Values // body parameters (form or JSON)
	basicUser   string     // HTTP Basic user; when set, Basic wins over the body
	basicPass   string
}

// granted is what a successful grant check hands to token issuance.
type granted struct {
	subject     string         // member username, "" for client grants
	scope       string         // scope attached to the code or refresh token
	clientScope bool           // scope checked against the client's allow-list, not the grant's
	withRefresh bool           // issue a refresh token
	claims      map[string]any // extra JWT claims
	consume     func()         // deletes the used code or refresh token
}

// grant runs the library's grantAccessToken, checks in the same order.
// It holds s.mu throughout, so a code or refresh token is used at most once.
func (s *Server) grant(req tokenRequest) (map[string]any, *oauthError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()

	grantType := req.form.Get("grant_type")
	if !grantTypePattern.MatchString(grantType) {
		return nil, errorf("invalid_request", "Invalid grant_type parameter or parameter missing")
	}
	c, secret, oerr := s.authenticateClientLocked(req, grantType)
	if oerr != nil {
		return nil, oerr
	}

	var g granted
	switch grantType {
	case GrantClientCredentials:
		g, oerr = clientCredentials(c, secret)
	case GrantAuthorizationCode:
		g, oerr = s.authorizationCodeLocked(c, req.form, now)
	case GrantRefreshToken:
		g, oerr = s.refreshTokenLocked(c, req.form, now)
	case GrantClubCredentials:
		g, oerr = s.clubCredentialsLocked(c, req.form)
	case GrantContactCredentials:
		g, oerr = s.contactCredentialsLocked(c, req.form)
	default: // password, token, other extension URIs: no storage for them
		oerr = errorf("unsupported_grant_type", "")
	}
	if oerr != nil {
		return nil, oerr
	}

	scope := g.scope
	if requested := req.form.Get("scope"); requested != "" {
		allowed := scopeSubset(requested, g.scope)
		if g.clientScope {
			allowed = c.allowsScopes(requested)
		}
		if !allowed {
			return nil, errorf("invalid_scope", "An unsupported scope was requested.")
		}
		scope = requested
	}
	resp := s.issueLocked(c, g, scope, now)
	if g.consume != nil {
		g.consume() // only now: a failed request leaves the code or token usable
	}
	return resp, nil
}

// authenticateClientLocked finds the client by Basic credentials, else by the
// form's, and checks it may use the grant.
func (s *Server) authenticateClientLocked(req tokenRequest, grantType string) (Client, string, *oauthError) {
	clientID, secret := req.basicUser, req.basicPass
	if clientID == "" {
		clientID, secret = req.form.Get("client_id"), req.form.Get("client_secret")
		if clientID == "" {
			return Client{}, "", errorf("invalid_client", "Client id was not found in the headers or body")
		}
	}
	c, ok := s.findClientLocked(req.clientToken, clientID)
	if !ok || !c.secretMatches(secret) {
		return Client{}, "", errorf("invalid_client", "The client credentials are invalid")
	}
	if !c.allowsGrant(grantType) {
		return Client{}, "", errorf("unauthorized_client", "The grant type is unauthorized for this client_id")
	}
	return c, secret, nil
}

func clientCredentials(c Client, secret string) (granted, *oauthError) {
	if secret == "" {
		return granted{}, errorf("invalid_client", `The client_secret is mandatory for the "client_credentials" grant type`)
	}
	return granted{clientScope: true, withRefresh: c.RefreshTokenWithClientCredentials}, nil
}

func (s *Server) authorizationCodeLocked(c Client, form url.Values, now time.Time) (granted, *oauthError) {
	code, redirectURI := form.Get("code"), form.Get("redirect_uri")
	if code == "" {
		return granted{}, errorf("invalid_request", `Missing parameter. "code" is required`)
	}
	if redirectURI == "" {
		return granted{}, errorf("invalid_request", "The redirect URI parameter is required.")
	}
	rec, ok := s.codes[code]
	if !ok || rec.clientToken != c.ClientToken || rec.clientID != c.ClientID {
		return granted{}, errorf("invalid_grant", "Code doesn't exist or is invalid for the client")
	}
	if !redirectURIValid(redirectURI, []string{rec.redirectURI}) {
		return granted{}, errorf("redirect_uri_mismatch", "The redirect URI is missing or do not match")
	}
	if now.After(rec.expires) {
		return granted{}, errorf("invalid_grant", "The authorization code has expired")
	}
	return granted{
		subject: rec.subject, scope: rec.scope, withRefresh: true,
		consume: func() { delete(s.codes, code) },
	}, nil
}

func (s *Server) refreshTokenLocked(c Client, form url.Values, now time.Time) (granted, *oauthError) {
	token := form.Get("refresh_token")
	if token == "" {
		return granted{}, errorf("invalid_request", `No "refresh_token" parameter found`)
	}
	rec, ok := s.refresh[token]
	if !ok || rec.clientToken != c.ClientToken || rec.clientID != c.ClientID {
		return granted{}, errorf("invalid_grant", "Invalid refresh token")
	}
	if now.After(rec.expires) {
		return granted{}, errorf("invalid_grant", "Refresh token has expired")
	}
	// Rotation with no grace window: the old token dies as the new one is born.
	return granted{
		subject: rec.subject, scope: rec.scope, withRefresh: true,
		consume: func() { delete(s.refresh, token) },
	}, nil
}

// clubCredentialsLocked is Resamania's club-scoped server-to-server grant:
// the club must be one of the chain's. Extension grants issue a refresh token
// by default.
func (s *Server) clubCredentialsLocked(c Client, form url.Values) (granted, *oauthError) {
	m := clubIRIPattern.FindStringSubmatch(form.Get("clubId"))
	if m == nil || m[1] != c.ClientToken || !s.clubs[c.ClientToken][m[2]] {
		return granted{}, errorf("invalid_grant", "")
	}
	return granted{
		clientScope: true, withRefresh: true,
		claims: map[string]any{"club_id": form.Get("clubId")},
	}, nil
}

// contactCredentialsLocked is Resamania's grant for a token scoped to one
// member, named by email (a member's username here).
func (s *Server) contactCredentialsLocked(c Client, form url.Values) (granted, *oauthError) {
	email := form.Get("email")
	if _, ok := s.members[c.ClientToken][email]; email == "" || !ok {
		return granted{}, errorf("invalid_grant", "")
	}
	return granted{subject: email, clientScope: true, withRefresh: true}, nil
}
