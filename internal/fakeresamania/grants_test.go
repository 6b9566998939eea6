package fakeresamania_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

func TestCodeExchange(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	code := srv.IssueCode(chain, clientID, redirectURI, member)

	// The docs show a JSON body for this exchange.
	a := postJSON(t, srv, map[string]any{"grant_type": "authorization_code", "client_id": clientID,
		"client_secret": secret, "code": code, "redirect_uri": redirectURI})
	access, refresh := requireToken(t, a)
	require.NotEmpty(t, refresh)
	require.Equal(t, member, claims(t, access)["sub"])
	require.Equal(t, []string{code}, srv.IssuedCodes())

	// Single use: a second exchange is invalid_grant.
	requireOAuthError(t, postForm(t, srv, codeForm(code, redirectURI)), "invalid_grant")
}

func TestCodeExpiresAfter30Seconds(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now})

	fresh := srv.IssueCode(chain, clientID, redirectURI, member)
	clock.Advance(30 * time.Second)
	requireToken(t, postForm(t, srv, codeForm(fresh, redirectURI))) // still valid at exactly 30 s

	stale := srv.IssueCode(chain, clientID, redirectURI, member)
	clock.Advance(31 * time.Second)
	a := postForm(t, srv, codeForm(stale, redirectURI))
	requireOAuthError(t, a, "invalid_grant")
	require.Equal(t, "The authorization code has expired", a.json["error_description"])
}

func TestCodeRedirectURIIsPrefixMatched(t *testing.T) {
	// The library's quirk: the input only has to start with the stored URI.
	srv := newServer(t, fakeresamania.Options{})
	code := srv.IssueCode(chain, clientID, redirectURI, member)
	requireToken(t, postForm(t, srv, codeForm(code, redirectURI+"/extra?x=1")))

	code = srv.IssueCode(chain, clientID, redirectURI, member)
	requireOAuthError(t, postForm(t, srv, codeForm(code, redirectURI+"/../evil")), "redirect_uri_mismatch")
	// A failed exchange does not use the code up.
	requireToken(t, postForm(t, srv, codeForm(code, redirectURI)))
}

func TestRefreshTokenIsSingleUse(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	access1, refresh1 := requireToken(t, postForm(t, srv, codeForm(srv.IssueCode(chain, clientID, redirectURI, member), redirectURI)))

	a := postForm(t, srv, refreshForm(refresh1))
	access2, refresh2 := requireToken(t, a)
	require.NotEqual(t, refresh1, refresh2)
	require.NotEqual(t, access1, access2)
	require.Equal(t, member, claims(t, access2)["sub"])

	// The old refresh token died at once; the old access token lives on.
	a = postForm(t, srv, refreshForm(refresh1))
	requireOAuthError(t, a, "invalid_grant")
	require.Equal(t, "Invalid refresh token", a.json["error_description"])
	require.True(t, srv.AccessTokenValid(access1))
	require.True(t, srv.AccessTokenValid(access2))

	requireToken(t, postForm(t, srv, refreshForm(refresh2)))
	require.Len(t, srv.IssuedRefreshTokens(), 3)
}

func TestRefreshTokenExpiry(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now})
	srv.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: "5_short", ClientSecret: "x",
		ExpiresIn: 60, RefreshTokenTTL: time.Hour, RedirectURIs: []string{redirectURI}})
	form := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "client_id": {"5_short"}, "client_secret": {"x"}, "refresh_token": {rt}}
	}
	code := srv.IssueCode(chain, "5_short", redirectURI, member)
	access, refresh := requireToken(t, postForm(t, srv, url.Values{"grant_type": {"authorization_code"},
		"client_id": {"5_short"}, "client_secret": {"x"}, "code": {code}, "redirect_uri": {redirectURI}}))

	exp, ok := srv.AccessTokenExpiry(access)
	require.True(t, ok)
	require.Equal(t, clock.Now().Add(60*time.Second), exp)
	_, known := srv.AccessTokenExpiry("never-issued")
	require.False(t, known)

	clock.Advance(61 * time.Second)
	require.False(t, srv.AccessTokenValid(access), "access token expired by the server's clock")
	require.Equal(t, 1, srv.LiveRefreshTokens(chain))
	_, refresh = requireToken(t, postForm(t, srv, form(refresh)))
	require.Equal(t, 1, srv.LiveRefreshTokens(chain), "the used one died as the new one was born")

	clock.Advance(time.Hour + time.Second)
	require.Zero(t, srv.LiveRefreshTokens(chain), "an expired refresh token is not live")
	a := postForm(t, srv, form(refresh))
	requireOAuthError(t, a, "invalid_grant")
	require.Equal(t, "Refresh token has expired", a.json["error_description"])
}

func TestExpireRefreshTokens(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	_, refresh := requireToken(t, postForm(t, srv, codeForm(srv.IssueCode(chain, clientID, redirectURI, member), redirectURI)))
	srv.ExpireRefreshTokens(chain)
	requireOAuthError(t, postForm(t, srv, refreshForm(refresh)), "invalid_grant")

	_, refresh = requireToken(t, postForm(t, srv, codeForm(srv.IssueCode(chain, clientID, redirectURI, member), redirectURI)))
	srv.RevokeRefreshToken(refresh)
	requireOAuthError(t, postForm(t, srv, refreshForm(refresh)), "invalid_grant")
}

func TestRefreshScope(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	// Login with a scope: the code, then the refresh token, carry it.
	resp, err := noRedirects.Get(loginURL(srv, url.Values{"scope": {"read write"}, "username": {member}, "password": {memberPass}}))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)

	a := postForm(t, srv, codeForm(loc.Query().Get("code"), redirectURI))
	_, refresh := requireToken(t, a)
	require.Equal(t, "read write", a.json["scope"])

	form := refreshForm(refresh)
	form.Set("scope", "admin")
	requireOAuthError(t, postForm(t, srv, form), "invalid_scope")

	form.Set("scope", "read") // narrowing is fine, and the failed try did not rotate
	a = postForm(t, srv, form)
	requireToken(t, a)
	require.Equal(t, "read", a.json["scope"])
}

func TestConcurrentRefreshesWithOneToken(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	_, refresh := requireToken(t, postForm(t, srv, codeForm(srv.IssueCode(chain, clientID, redirectURI, member), redirectURI)))

	const n = 100
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- postForm(t, srv, refreshForm(refresh)).status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	require.Equal(t, map[int]int{http.StatusOK: 1, http.StatusBadRequest: n - 1}, count)
	require.Equal(t, n, srv.TokenRequests(chain, "refresh_token"))
}
