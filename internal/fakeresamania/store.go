package fakeresamania

import (
	"slices"
	"time"
)

// accessToken is what an issued access token was granted for.
type accessToken struct {
	clientToken, clientID string
	expires               time.Time
}

// grantRecord is a live refresh token or an unused authorization code.
type grantRecord struct {
	clientToken, clientID string
	subject               string // member username, "" for client grants
	scope                 string // "" for none
	redirectURI           string // codes only: where the code was sent
	expires               time.Time
}

// issueLocked mints an access token, and a refresh token when asked.
// Caller holds s.mu.
func (s *Server) issueLocked(c Client, g granted, scope string, now time.Time) map[string]any {
	expires := now.Add(time.Duration(c.ExpiresIn) * time.Second)
	subject := g.subject
	if subject == "" {
		subject = c.ClientID
	}
	claims := map[string]any{
		"iat": now.Unix(), "exp": expires.Unix(), "jti": randomString(16),
		"client_id": c.ClientID, "client_token": c.ClientToken, "sub": subject,
	}
	if scope != "" {
		claims["scope"] = scope
	}
	for k, v := range g.claims {
		claims[k] = v
	}
	token := s.signJWT(claims)
	s.access[token] = accessToken{clientToken: c.ClientToken, clientID: c.ClientID, expires: expires}
	s.issuedAccess = append(s.issuedAccess, token)

	resp := map[string]any{"access_token": token, "expires_in": c.ExpiresIn, "token_type": "bearer", "scope": nil}
	if scope != "" {
		resp["scope"] = scope
	}
	if g.withRefresh {
		rt := randomString(48)
		s.refresh[rt] = &grantRecord{
			clientToken: c.ClientToken, clientID: c.ClientID, subject: g.subject,
			scope: scope, expires: now.Add(c.RefreshTokenTTL),
		}
		s.issuedRefresh = append(s.issuedRefresh, rt)
		resp["refresh_token"] = rt
	}
	return resp
}

// newCodeLocked stores a fresh authorization code. Caller holds s.mu.
func (s *Server) newCodeLocked(clientToken, clientID, redirectURI, username, scope string) string {
	code := randomString(48)
	s.codes[code] = &grantRecord{
		clientToken: clientToken, clientID: clientID, subject: username,
		scope: scope, redirectURI: redirectURI, expires: s.now().Add(codeLifetime),
	}
	s.issuedCodes = append(s.issuedCodes, code)
	return code
}

// IssueCode is a shortcut past the login page: a code as if username had
// signed in and been sent to redirectURI. Nothing is validated.
func (s *Server) IssueCode(clientToken, clientID, redirectURI, username string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newCodeLocked(clientToken, clientID, redirectURI, username, "")
}

// IssueRefreshToken is a shortcut past the sign-in and the code exchange: a
// live refresh token of username, as an app that signed the member in would
// hold one to import. The client must be registered.
func (s *Server) IssueRefreshToken(clientToken, clientID, username string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, _ := s.findClientLocked(clientToken, clientID)
	rt := randomString(48)
	s.refresh[rt] = &grantRecord{clientToken: clientToken, clientID: clientID, subject: username, expires: s.now().Add(c.RefreshTokenTTL)}
	s.issuedRefresh = append(s.issuedRefresh, rt)
	return rt
}

// ExpireRefreshTokens makes every live refresh token of a chain expired,
// so the next refresh gets invalid_grant "Refresh token has expired".
func (s *Server) ExpireRefreshTokens(clientToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.now().Add(-time.Second)
	for _, rec := range s.refresh {
		if rec.clientToken == clientToken {
			rec.expires = past
		}
	}
}

// RevokeRefreshToken deletes one refresh token, as an admin or another
// racing client would.
func (s *Server) RevokeRefreshToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refresh, token)
}

// AccessTokenValid reports whether the server issued token and it has not
// expired by the server's clock.
func (s *Server) AccessTokenValid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[token]
	return ok && !s.now().After(at.expires)
}

// AccessTokenExpiry returns when an access token the server issued expires.
func (s *Server) AccessTokenExpiry(token string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[token]
	return at.expires, ok
}

// LiveRefreshTokens counts a chain's refresh tokens that are neither used
// nor expired: one per credential the plugin holds, when none was orphaned.
func (s *Server) LiveRefreshTokens(clientToken string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, n := s.now(), 0
	for _, rec := range s.refresh {
		if rec.clientToken == clientToken && !now.After(rec.expires) {
			n++
		}
	}
	return n
}

// IssuedAccessTokens lists every access token issued, so tests can grep logs.
func (s *Server) IssuedAccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issuedAccess)
}

// IssuedRefreshTokens lists every refresh token issued.
func (s *Server) IssuedRefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issuedRefresh)
}

// IssuedCodes lists every authorization code issued.
func (s *Server) IssuedCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issuedCodes)
}

// IssuedSecrets lists every access token, refresh token and code issued: what
// a test scans logs and outputs for.
func (s *Server) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Concat(s.issuedAccess, s.issuedRefresh, s.issuedCodes)
}
