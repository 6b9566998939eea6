package fakeresamania_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// loginURL is the login page URL with the usual query plus extra.
func loginURL(srv *fakeresamania.Server, extra url.Values) string {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI}}
	for k, v := range extra {
		q[k] = v
	}
	return srv.URL() + "/" + chain + "/oauth/login?" + q.Encode()
}

// location returns the redirect target of a 302 answer.
func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	u, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return u
}

func TestLoginFormThenPost(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	page := loginURL(srv, url.Values{"state": {"xyz"}})

	resp, err := noRedirects.Get(page)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	require.Contains(t, string(body), `<form method="post"`)
	require.Contains(t, string(body), `name="password"`)

	resp, err = noRedirects.PostForm(page, url.Values{"username": {member}, "password": {memberPass}})
	require.NoError(t, err)
	resp.Body.Close()
	loc := location(t, resp)
	require.Equal(t, "https://app.example/callback", loc.Scheme+"://"+loc.Host+loc.Path)
	require.Equal(t, "xyz", loc.Query().Get("state"))
	code := loc.Query().Get("code")
	require.Equal(t, []string{code}, srv.IssuedCodes())

	access, _ := requireToken(t, postForm(t, srv, codeForm(code, redirectURI)))
	require.Equal(t, member, claims(t, access)["sub"])
}

func TestLoginGetShortcut(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	resp, err := noRedirects.Get(loginURL(srv, url.Values{"username": {member}, "password": {memberPass}}))
	require.NoError(t, err)
	resp.Body.Close()
	loc := location(t, resp)
	require.NotEmpty(t, loc.Query().Get("code"))
	require.False(t, loc.Query().Has("state"), "state only when given")
}

func TestLoginWrongPassword(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	resp, err := noRedirects.PostForm(loginURL(srv, nil), url.Values{"username": {member}, "password": {"nope"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Location"))
	require.Contains(t, string(body), "invalide")
	require.Empty(t, srv.IssuedCodes())
}

func TestLoginRejectsBadClientOrRedirect(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	cases := []struct {
		name  string
		query url.Values
		want  string
	}{
		{"no client_id", url.Values{"client_id": {""}}, "invalid_request"},
		{"unknown client", url.Values{"client_id": {"99_nobody"}}, "invalid_client"},
		{"no redirect_uri", url.Values{"redirect_uri": {""}}, "redirect_uri_mismatch"},
		{"unregistered redirect_uri", url.Values{"redirect_uri": {"https://evil.example/cb"}}, "redirect_uri_mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := noRedirects.Get(loginURL(srv, tc.query))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Contains(t, string(body), `"error":"`+tc.want+`"`)
		})
	}
}

func TestLoginErrorsGoBackToRedirectURI(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	for query, want := range map[string]string{
		"response_type=token":                "unsupported_response_type",
		"response_type=code&scope=forbidden": "invalid_scope",
	} {
		extra, _ := url.ParseQuery(query + "&state=s1&username=" + member + "&password=" + memberPass)
		resp, err := noRedirects.Get(loginURL(srv, extra))
		require.NoError(t, err)
		resp.Body.Close()
		loc := location(t, resp)
		require.True(t, strings.HasPrefix(loc.String(), redirectURI+"?"))
		require.Equal(t, want, loc.Query().Get("error"))
		require.Equal(t, "s1", loc.Query().Get("state"))
		require.False(t, loc.Query().Has("code"))
	}
	require.Empty(t, srv.IssuedCodes())
}
