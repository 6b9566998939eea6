package fakeresamania

import (
	"crypto/subtle"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Grant types the library knows, and Resamania's two extension grants.
const (
	GrantClientCredentials  = "client_credentials"
	GrantAuthorizationCode  = "authorization_code"
	GrantRefreshToken       = "refresh_token"
	GrantClubCredentials    = "http://clubclientcredentials"
	GrantContactCredentials = "http://contactclientcredentials"
)

// Library defaults (oauth2-php OAuth2::DEFAULT_*).
const (
	defaultExpiresIn       = 3600
	defaultRefreshTokenTTL = 1209600 * time.Second
	codeLifetime           = 30 * time.Second
)

// forbiddenScope is refused by clients without a scope allow-list.
const forbiddenScope = "forbidden"

// Client is an OAuth client registered for one chain (client_token).
type Client struct {
	ClientToken                       string        // the chain, first path segment after the prefix
	ClientID                          string        // "{id}_{randomId}"; without "_" it can never be found
	ClientSecret                      string        // "" accepts any secret, as the bundle does for a null secret
	ExpiresIn                         int           // access-token lifetime in seconds; 0 means 3600
	RefreshTokenTTL                   time.Duration // 0 means 14 days
	AllowedGrants                     []string      // nil means client_credentials, authorization_code, refresh_token
	RedirectURIs                      []string      // registered redirect URIs for the code flow
	RefreshTokenWithClientCredentials bool          // docs say cc returns a refresh token; the stock library does not
	Scopes                            []string      // scopes it may request; nil means any but "forbidden"
}

// AddClient registers (or replaces) a client, filling in the defaults.
func (s *Server) AddClient(c Client) {
	if c.ExpiresIn == 0 {
		c.ExpiresIn = defaultExpiresIn
	}
	if c.RefreshTokenTTL == 0 {
		c.RefreshTokenTTL = defaultRefreshTokenTTL
	}
	if c.AllowedGrants == nil {
		c.AllowedGrants = []string{GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken}
	}
	// Copies, so the caller's slices can change without a data race.
	c.AllowedGrants, c.RedirectURIs, c.Scopes = slices.Clone(c.AllowedGrants), slices.Clone(c.RedirectURIs), slices.Clone(c.Scopes)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients[c.ClientToken] == nil {
		s.clients[c.ClientToken] = map[string]Client{}
	}
	s.clients[c.ClientToken][c.ClientID] = c
}

// AddMember registers a user who can sign in on the chain's login page.
func (s *Server) AddMember(clientToken, username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[clientToken] == nil {
		s.members[clientToken] = map[string]string{}
	}
	s.members[clientToken][username] = password
}

// AddClub registers a club of the chain, so the club grant knows it: its IRI
// is /{client_token}/clubs/{id}.
func (s *Server) AddClub(clientToken string, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clubs[clientToken] == nil {
		s.clubs[clientToken] = map[string]bool{}
	}
	s.clubs[clientToken][strconv.Itoa(id)] = true
}

// findClientLocked looks a client up the way the bundle does: the public id
// is "{id}_{randomId}", anything else is unknown. Caller holds s.mu.
func (s *Server) findClientLocked(clientToken, clientID string) (Client, bool) {
	if !strings.Contains(clientID, "_") {
		return Client{}, false
	}
	c, ok := s.clients[clientToken][clientID]
	return c, ok
}

// memberValidLocked checks a member's password. Caller holds s.mu.
func (s *Server) memberValidLocked(clientToken, username, password string) bool {
	want, ok := s.members[clientToken][username]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1
}

func (c Client) secretMatches(secret string) bool {
	return c.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(c.ClientSecret), []byte(secret)) == 1
}

func (c Client) allowsGrant(grantType string) bool {
	return slices.Contains(c.AllowedGrants, grantType)
}

// allowsScopes reports whether every space-separated scope may be requested.
func (c Client) allowsScopes(requested string) bool {
	for _, sc := range strings.Fields(requested) {
		allowed := sc != forbiddenScope
		if c.Scopes != nil {
			allowed = slices.Contains(c.Scopes, sc)
		}
		if !allowed {
			return false
		}
	}
	return true
}

// scopeSubset is the library's checkScope: every requested scope is available.
func scopeSubset(requested, available string) bool {
	have := strings.Fields(available)
	for _, sc := range strings.Fields(requested) {
		if !slices.Contains(have, sc) {
			return false
		}
	}
	return true
}

var pathTraversal = regexp.MustCompile(`/\.\.?(/|$)`)

// redirectURIValid copies the library's validateRedirectUri, quirk
// included: a registered URI matches any input that starts with it,
// ignoring case, unless the input path climbs with "." or "..".
func redirectURIValid(input string, registered []string) bool {
	if input == "" || len(registered) == 0 {
		return false
	}
	u, err := url.Parse(input)
	if err != nil {
		return false
	}
	if pathTraversal.MatchString(u.Path) {
		return false
	}
	for _, reg := range registered {
		if len(input) >= len(reg) && strings.EqualFold(input[:len(reg)], reg) {
			return true
		}
	}
	return false
}
