package fakeresamania

// LiveRefreshToken is a refresh token the server would still accept.
type LiveRefreshToken struct {
	Token, ClientToken, Subject string
}

// LiveRefreshTokenList lists every refresh token neither used nor expired,
// with whom it was issued to: what a simulation checks the plugin kept.
func (s *Server) LiveRefreshTokenList() []LiveRefreshToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []LiveRefreshToken
	for token, rec := range s.refresh {
		if !now.After(rec.expires) {
			out = append(out, LiveRefreshToken{Token: token, ClientToken: rec.clientToken, Subject: rec.subject})
		}
	}
	return out
}

// RefreshTokenKnown reports whether token is a refresh token the server
// issued and has not consumed (it may have expired).
func (s *Server) RefreshTokenKnown(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.refresh[token]
	return ok
}
