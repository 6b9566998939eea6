package fakeresamania_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

func TestClientCredentialsForm(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	form := ccForm()
	form.Set("refresh_token", "copy-and-paste-slip") // in the docs' example; ignored
	a := postForm(t, srv, form)

	access, refresh := requireToken(t, a)
	require.Empty(t, refresh, "the stock library issues no refresh token for client_credentials")
	require.NotContains(t, a.json, "refresh_token")
	require.Nil(t, a.json["scope"])
	require.EqualValues(t, 3600, a.json["expires_in"])
	require.True(t, srv.AccessTokenValid(access))
	require.Equal(t, []string{access}, srv.IssuedAccessTokens())

	c := claims(t, access)
	require.Equal(t, clientID, c["client_id"])
	require.Equal(t, clientID, c["sub"])
	require.NotEmpty(t, c["jti"])
	require.EqualValues(t, c["iat"].(float64)+3600, c["exp"])
}

func TestClientCredentialsJSON(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	a := postJSON(t, srv, map[string]any{"grant_type": "client_credentials", "client_id": clientID, "client_secret": secret})
	requireToken(t, a)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	require.True(t, reqs[0].JSONBody)
	require.Equal(t, secret, reqs[0].Form.Get("client_secret"))
}

func TestClientCredentialsRefreshTokenOption(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: "3_rt", ClientSecret: "x",
		ExpiresIn: 60, RefreshTokenWithClientCredentials: true})
	a := postForm(t, srv, url.Values{"grant_type": {"client_credentials"}, "client_id": {"3_rt"}, "client_secret": {"x"}})
	_, refresh := requireToken(t, a)
	require.NotEmpty(t, refresh)
	require.EqualValues(t, 60, a.json["expires_in"])
	require.Equal(t, []string{refresh}, srv.IssuedRefreshTokens())
}

func TestBasicAuthWinsOverBody(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})

	// Right credentials in Basic, wrong ones in the body: success.
	form := ccForm()
	form.Set("client_secret", "wrong")
	req := formRequest(t, srv.TokenURL(chain), form)
	req.SetBasicAuth(clientID, secret)
	requireToken(t, send(t, req))

	// Wrong credentials in Basic, right ones in the body: failure.
	req = formRequest(t, srv.TokenURL(chain), ccForm())
	req.SetBasicAuth(clientID, "wrong")
	requireOAuthError(t, send(t, req), "invalid_client")

	reqs := srv.Requests()
	require.True(t, reqs[0].UsedBasicAuth)
	require.True(t, reqs[1].UsedBasicAuth)
}

func TestTokenEndpointTakesGETAndMultipartAsTheBundleDoes(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	req, err := http.NewRequest(http.MethodGet, srv.TokenURL(chain)+"?"+ccForm().Encode(), nil)
	require.NoError(t, err)
	requireToken(t, send(t, req))

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range ccForm() {
		require.NoError(t, mw.WriteField(k, v[0]))
	}
	require.NoError(t, mw.Close())
	req, err = http.NewRequest(http.MethodPost, srv.TokenURL(chain), &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	requireToken(t, send(t, req))

	req, err = http.NewRequest(http.MethodPut, srv.TokenURL(chain), strings.NewReader(ccForm().Encode()))
	require.NoError(t, err)
	a := send(t, req)
	require.Equal(t, http.StatusMethodNotAllowed, a.status)
	require.Equal(t, "GET, POST", a.header.Get("Allow"))
	require.Equal(t, 3, srv.TokenRequests(chain, ""))
}

func TestQueryParametersAreIgnored(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	req := formRequest(t, srv.TokenURL(chain)+"?"+ccForm().Encode(), url.Values{})
	requireOAuthError(t, send(t, req), "invalid_request")
}

func TestTokenErrors(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: "nounderscore", ClientSecret: secret})
	srv.AddClient(fakeresamania.Client{ClientToken: "other", ClientID: "20_other", ClientSecret: secret})
	srv.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: "21_codeonly", ClientSecret: secret,
		AllowedGrants: []string{"authorization_code"}})
	srv.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: "22_pw", ClientSecret: secret,
		AllowedGrants: []string{"password"}, RedirectURIs: []string{redirectURI}})
	srv.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: "23_scoped", ClientSecret: secret,
		Scopes: []string{"read"}})

	// A refresh token and a code belonging to another client of the chain.
	requireToken(t, postForm(t, srv, codeForm(srv.IssueCode(chain, clientID, redirectURI, member), redirectURI)))
	otherRefresh := srv.IssuedRefreshTokens()[0]
	otherCode := srv.IssueCode(chain, "21_codeonly", redirectURI, member)

	with := func(base url.Values, kv ...string) url.Values {
		f := url.Values{}
		for k, v := range base {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	cases := []struct {
		name string
		form url.Values
		want string
	}{
		{"missing grant_type", with(ccForm(), "grant_type", ""), "invalid_request"},
		{"unknown grant_type", with(ccForm(), "grant_type", "magic"), "invalid_request"},
		{"known grant type the server cannot do", with(ccForm(), "client_id", "22_pw", "grant_type", "password"), "unsupported_grant_type"},
		{"missing client_id", with(ccForm(), "client_id", ""), "invalid_client"},
		{"unknown client", with(ccForm(), "client_id", "99_nobody"), "invalid_client"},
		{"client_id without underscore", with(ccForm(), "client_id", "nounderscore"), "invalid_client"},
		{"wrong secret", with(ccForm(), "client_secret", "wrong"), "invalid_client"},
		{"missing secret", with(ccForm(), "client_secret", ""), "invalid_client"},
		{"client of another client_token", with(ccForm(), "client_id", "20_other"), "invalid_client"},
		{"grant not allowed", with(ccForm(), "client_id", "21_codeonly"), "unauthorized_client"},
		{"password grant not allowed", with(ccForm(), "grant_type", "password"), "unauthorized_client"},
		{"missing refresh_token", with(refreshForm(""), "refresh_token", ""), "invalid_request"},
		{"unknown refresh token", refreshForm("nope"), "invalid_grant"},
		{"refresh token of another client", with(refreshForm(otherRefresh), "client_id", "23_scoped"), "invalid_grant"},
		{"missing code", with(codeForm("", redirectURI), "code", ""), "invalid_request"},
		{"missing redirect_uri", with(codeForm("x", ""), "redirect_uri", ""), "invalid_request"},
		{"unknown code", codeForm("nope", redirectURI), "invalid_grant"},
		{"code of another client", codeForm(otherCode, redirectURI), "invalid_grant"},
		{"redirect_uri mismatch", codeForm(srv.IssueCode(chain, clientID, redirectURI, member), "https://evil.example/cb"), "redirect_uri_mismatch"},
		{"forbidden scope", with(ccForm(), "scope", "read forbidden"), "invalid_scope"},
		{"scope outside allow-list", with(ccForm(), "client_id", "23_scoped", "scope", "write"), "invalid_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireOAuthError(t, postForm(t, srv, tc.form), tc.want)
		})
	}

	t.Run("description may be null", func(t *testing.T) {
		a := postForm(t, srv, with(ccForm(), "client_id", "22_pw", "grant_type", "password"))
		require.Nil(t, a.json["error_description"])
		require.True(t, strings.Contains(a.raw, `"error_description":null`))
	})
	t.Run("allowed scope is echoed", func(t *testing.T) {
		a := postForm(t, srv, with(ccForm(), "client_id", "23_scoped", "scope", "read"))
		requireToken(t, a)
		require.Equal(t, "read", a.json["scope"])
	})
}

func TestExtensionGrants(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: "30_ext", ClientSecret: secret,
		AllowedGrants: []string{fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials}})
	form := func(kv ...string) url.Values {
		f := url.Values{"client_id": {"30_ext"}, "client_secret": {secret}}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}

	srv.AddClub(chain, 1234)
	a := postForm(t, srv, form("grant_type", "http://clubclientcredentials", "clubId", "/"+chain+"/clubs/1234"))
	access, refresh := requireToken(t, a)
	require.Equal(t, "/"+chain+"/clubs/1234", claims(t, access)["club_id"])
	require.NotEmpty(t, refresh, "extension grants issue a refresh token by default")
	requireOAuthError(t, postForm(t, srv, form("grant_type", "http://clubclientcredentials", "clubId", "/other/clubs/1")), "invalid_grant")
	requireOAuthError(t, postForm(t, srv, form("grant_type", "http://clubclientcredentials", "clubId", "/"+chain+"/clubs/999")), "invalid_grant")

	a = postForm(t, srv, form("grant_type", "http://contactclientcredentials", "email", member))
	access, refresh = requireToken(t, a)
	require.Equal(t, member, claims(t, access)["sub"])
	require.NotEmpty(t, refresh)
	requireOAuthError(t, postForm(t, srv, form("grant_type", "http://contactclientcredentials", "email", "bob")), "invalid_grant")

	// Not allowed for the default client.
	requireOAuthError(t, postForm(t, srv, url.Values{"grant_type": {"http://clubclientcredentials"},
		"client_id": {clientID}, "client_secret": {secret}}), "unauthorized_client")
}
