package fakeresamania_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

func TestGatewayKey(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{GatewayKey: "gk-123"})

	for _, key := range []string{"", "wrong"} {
		req := formRequest(t, srv.TokenURL(chain), ccForm())
		if key != "" {
			req.Header.Set("x-gravitee-api-key", key)
		}
		a := send(t, req)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "Unauthorized", a.raw, "a gateway body, not an OAuth error")
		require.Nil(t, a.json)
		require.True(t, strings.HasPrefix(a.header.Get("Content-Type"), "text/plain"))
	}
	resp, err := noRedirects.Get(loginURL(srv, nil))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "a member's browser reaches the login page without the key")
	require.Zero(t, srv.TokenRequests("", ""), "gateway rejections never reach the OAuth server")

	req := formRequest(t, srv.TokenURL(chain), ccForm())
	req.Header.Set("x-gravitee-api-key", "gk-123")
	requireToken(t, send(t, req))
	require.Equal(t, "gk-123", srv.Requests()[0].GatewayKey)
}

func TestPathPrefix(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{PathPrefix: "integration/"})
	require.True(t, strings.HasSuffix(srv.URL(), "/integration"), srv.URL())
	require.Equal(t, "/integration", srv.PathPrefix())
	require.Equal(t, srv.URL()+"/"+chain+"/oauth/v2/token", srv.TokenURL(chain))
	requireToken(t, postForm(t, srv, ccForm()))

	withoutPrefix := strings.TrimSuffix(srv.URL(), "/integration") + "/" + chain + "/oauth/v2/token"
	a := send(t, formRequest(t, withoutPrefix, ccForm()))
	require.Equal(t, http.StatusNotFound, a.status)
	require.Equal(t, "No context-path matches the request URI.", a.raw, "Gravitee's answer for a path no API is deployed on")
	require.Equal(t, 1, srv.TokenRequests("", ""))
}

func TestUnknownRouteAndChain(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	a := send(t, formRequest(t, srv.URL()+"/"+chain+"/oauth/v2/other", ccForm()))
	require.Equal(t, http.StatusNotFound, a.status)
	// An unknown client_token: Resamania's 404, before any OAuth.
	a = send(t, formRequest(t, srv.TokenURL("nochain"), ccForm()))
	require.Equal(t, http.StatusNotFound, a.status)
	require.Equal(t, map[string]any{"code": float64(404), "message": "Item not found"}, a.json)
}

func TestEndpointOutsideTheKeysPlan(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.LeaveOutOfPlan(chain)
	a := postForm(t, srv, ccForm())
	require.Equal(t, http.StatusForbidden, a.status)
	require.Equal(t, "api.error.scope.unauthorized-endpoint", a.json["message"])
	require.Empty(t, srv.IssuedAccessTokens())
}

func TestGatewayKeyIsCheckedAfterTheContextPath(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{PathPrefix: "/prod", GatewayKey: "gk-123"})
	a := send(t, formRequest(t, strings.TrimSuffix(srv.URL(), "/prod")+"/staging/"+chain+"/oauth/v2/token", ccForm()))
	require.Equal(t, http.StatusNotFound, a.status, "a wrong environment path is a 404 even without the key")
	require.Equal(t, "No context-path matches the request URI.", a.raw)
}

func TestTLS(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{TLS: true})
	require.True(t, strings.HasPrefix(srv.URL(), "https://127.0.0.1:"))
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM([]byte(srv.CACertPEM())))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	resp, err := client.PostForm(srv.TokenURL(chain), ccForm())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	_, err = http.PostForm(srv.TokenURL(chain), ccForm())
	require.Error(t, err, "the certificate is not in the system pool")

	plain := newServer(t, fakeresamania.Options{})
	require.Empty(t, plain.CACertPEM())
}

func TestLogsCarryNoSecrets(t *testing.T) {
	var mu sync.Mutex
	var logs strings.Builder
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&logs, format+"\n", args...)
	}
	srv := newServer(t, fakeresamania.Options{Logf: logf, GatewayKey: "gk-secret"})
	post := func(form url.Values, key string) answer {
		req := formRequest(t, srv.TokenURL(chain), form)
		req.Header.Set("x-gravitee-api-key", key)
		return send(t, req)
	}
	post(ccForm(), "wrong")
	_, refresh := requireToken(t, post(codeForm(srv.IssueCode(chain, clientID, redirectURI, member), redirectURI), "gk-secret"))
	requireToken(t, post(refreshForm(refresh), "gk-secret"))
	post(refreshForm(refresh), "gk-secret")
	req, err := http.NewRequest(http.MethodPost, loginURL(srv, nil), strings.NewReader("username=alice&password=nope"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("x-gravitee-api-key", "gk-secret")
	send(t, req)

	mu.Lock()
	out := logs.String()
	mu.Unlock()
	require.Contains(t, out, "status=400")
	secrets := append([]string{secret, memberPass, "nope", "gk-secret"}, srv.IssuedAccessTokens()...)
	secrets = append(secrets, srv.IssuedRefreshTokens()...)
	secrets = append(secrets, srv.IssuedCodes()...)
	for _, s := range secrets {
		require.NotContains(t, out, s)
	}
}
