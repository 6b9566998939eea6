package fakeresamania_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

const (
	chain       = "chain1"
	clientID    = "12_abcdef"
	secret      = "s3cret"
	redirectURI = "https://app.example/callback"
	member      = "alice"
	memberPass  = "wonderland"
)

// newServer starts a server with one client and one member on chain.
func newServer(t *testing.T, opts fakeresamania.Options) *fakeresamania.Server {
	t.Helper()
	srv := fakeresamania.Start(opts)
	t.Cleanup(srv.Close)
	srv.AddClient(fakeresamania.Client{
		ClientToken: chain, ClientID: clientID, ClientSecret: secret,
		RedirectURIs: []string{redirectURI},
	})
	srv.AddMember(chain, member, memberPass)
	return srv
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// answer is a token-endpoint response, body decoded when it is JSON.
type answer struct {
	status int
	header http.Header
	raw    string
	json   map[string]any
}

func send(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.json)
	return a
}

func formRequest(t *testing.T, tokenURL string, form url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func postForm(t *testing.T, srv *fakeresamania.Server, form url.Values) answer {
	t.Helper()
	return send(t, formRequest(t, srv.TokenURL(chain), form))
}

func postJSON(t *testing.T, srv *fakeresamania.Server, body map[string]any) answer {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, srv.TokenURL(chain), bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	return send(t, req)
}

func ccForm() url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
}

func refreshForm(token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "client_secret": {secret}, "refresh_token": {token}}
}

func codeForm(code, redirect string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "client_secret": {secret},
		"code": {code}, "redirect_uri": {redirect}}
}

// requireToken checks a success answer and returns its tokens.
func requireToken(t *testing.T, a answer) (access, refresh string) {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, a.raw)
	require.Equal(t, "application/json", a.header.Get("Content-Type"))
	require.Equal(t, "no-store", a.header.Get("Cache-Control"))
	require.Equal(t, "bearer", a.json["token_type"])
	require.IsType(t, float64(0), a.json["expires_in"])
	require.Contains(t, a.json, "scope")
	access, _ = a.json["access_token"].(string)
	require.Len(t, strings.Split(access, "."), 3, "access token is a JWT")
	refresh, _ = a.json["refresh_token"].(string)
	return access, refresh
}

// requireOAuthError checks a 400 OAuth error answer.
func requireOAuthError(t *testing.T, a answer, code string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, a.status, a.raw)
	require.Equal(t, "application/json", a.header.Get("Content-Type"))
	require.Equal(t, code, a.json["error"], a.raw)
	require.Contains(t, a.json, "error_description")
}

// claims decodes a JWT's payload.
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(payload, &c))
	return c
}
