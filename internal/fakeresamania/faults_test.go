package fakeresamania_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// codeGrant returns a refresh token from a fresh code exchange.
func codeGrant(t *testing.T, srv *fakeresamania.Server) string {
	t.Helper()
	_, refresh := requireToken(t, postForm(t, srv, codeForm(srv.IssueCode(chain, clientID, redirectURI, member), redirectURI)))
	return refresh
}

func TestFaultStatus(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.InjectFault(fakeresamania.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "7", Count: 1})

	a := postForm(t, srv, ccForm())
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.Equal(t, "7", a.header.Get("Retry-After"))
	require.Contains(t, a.header.Get("Content-Type"), "text/html")
	require.Contains(t, a.raw, "<html>")
	require.Nil(t, a.json)
	require.Empty(t, srv.IssuedAccessTokens(), "the server never saw it")

	requireToken(t, postForm(t, srv, ccForm())) // Count 1: used up
	require.Equal(t, 2, srv.TokenRequests(chain, ""))
	require.Equal(t, http.StatusServiceUnavailable, srv.Requests()[0].Status)

	srv.InjectFault(fakeresamania.Fault{Status: 500, Body: "PHP Fatal error", ContentType: "text/plain"})
	for range 3 { // Count 0: until cleared
		a = postForm(t, srv, ccForm())
		require.Equal(t, 500, a.status)
		require.Equal(t, "PHP Fatal error", a.raw)
		require.Equal(t, "text/plain", a.header.Get("Content-Type"))
	}
	srv.ClearFaults()
	requireToken(t, postForm(t, srv, ccForm()))
}

func TestFaultCountAndGrantType(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.InjectFault(fakeresamania.Fault{Status: http.StatusTooManyRequests, GrantType: "refresh_token", Count: 2})
	requireToken(t, postForm(t, srv, ccForm())) // other grant: untouched
	refresh := codeGrant(t, srv)
	require.Equal(t, 429, postForm(t, srv, refreshForm(refresh)).status)
	require.Equal(t, 429, postForm(t, srv, refreshForm(refresh)).status)
	requireToken(t, postForm(t, srv, refreshForm(refresh))) // the faults never rotated it
}

func TestFaultDelay(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.InjectFault(fakeresamania.Fault{Delay: 150 * time.Millisecond, Count: 1})
	start := time.Now()
	requireToken(t, postForm(t, srv, ccForm()))
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	// A client that gives up ends the delay: no 10 s wait here or in Close.
	srv.InjectFault(fakeresamania.Fault{Delay: 10 * time.Second, Count: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req := formRequest(t, srv.TokenURL(chain), ccForm()).WithContext(ctx)
	start = time.Now()
	_, err := http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Eventually(t, func() bool { return len(srv.Requests()) == 2 && srv.Requests()[1].Status == 0 },
		5*time.Second, 10*time.Millisecond)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Len(t, srv.IssuedAccessTokens(), 1, "the slow request never reached the grant")
}

// TestFaultHold: a held request is recorded on arrival and answered only
// once the test lets it go; requests the fault does not match pass.
func TestFaultHold(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	hold := make(chan struct{})
	srv.InjectFault(fakeresamania.Fault{Hold: hold, GrantType: "client_credentials", Count: 1})
	held := make(chan answer, 1)
	go func() { held <- postForm(t, srv, ccForm()) }()
	require.Eventually(t, func() bool { return srv.TokenRequests(chain, "client_credentials") == 1 }, 5*time.Second, time.Millisecond)

	requireToken(t, postForm(t, srv, ccForm())) // Count 1: the next one passes
	require.Len(t, srv.IssuedAccessTokens(), 1, "the held request has not reached the grant")
	require.Empty(t, held)
	close(hold)
	requireToken(t, <-held)
	require.Len(t, srv.IssuedAccessTokens(), 2)
}

func TestFaultReset(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.InjectFault(fakeresamania.Fault{Reset: true, Count: 1})
	_, err := http.PostForm(srv.TokenURL(chain), ccForm())
	require.Error(t, err)
	require.Empty(t, srv.IssuedAccessTokens())
	require.Equal(t, 0, srv.Requests()[0].Status)
}

func TestFaultResetAfterRefreshLosesTheGrant(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	refresh := codeGrant(t, srv)
	srv.InjectFault(fakeresamania.Fault{Reset: true, AfterProcessing: true, GrantType: "refresh_token", Count: 1})

	_, err := http.PostForm(srv.TokenURL(chain), refreshForm(refresh))
	require.Error(t, err)
	require.Len(t, srv.IssuedRefreshTokens(), 2, "the server rotated before the answer was lost")
	requireOAuthError(t, postForm(t, srv, refreshForm(refresh)), "invalid_grant")
}

func TestFault502AfterCodeExchange(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	code := srv.IssueCode(chain, clientID, redirectURI, member)
	srv.InjectFault(fakeresamania.Fault{Status: http.StatusBadGateway, AfterProcessing: true, Count: 1})
	require.Equal(t, http.StatusBadGateway, postForm(t, srv, codeForm(code, redirectURI)).status)
	requireOAuthError(t, postForm(t, srv, codeForm(code, redirectURI)), "invalid_grant")
}

func TestFaultTruncate(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.InjectFault(fakeresamania.Fault{Truncate: true, Count: 1})
	resp, err := http.PostForm(srv.TokenURL(chain), ccForm())
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Less(t, int64(len(body)), resp.ContentLength)
	require.True(t, strings.HasPrefix(string(body), "{"))
	require.Len(t, srv.IssuedAccessTokens(), 1, "the grant happened")
}

func TestFaultGarbage(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.InjectFault(fakeresamania.Fault{Garbage: true, Count: 1})
	a := postForm(t, srv, ccForm())
	require.Equal(t, http.StatusOK, a.status)
	require.False(t, json.Valid([]byte(a.raw)))
}

func TestFaultOversize(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.InjectFault(fakeresamania.Fault{Oversize: 2 << 20, Count: 1})
	a := postForm(t, srv, ccForm())
	require.Equal(t, http.StatusOK, a.status)
	require.Len(t, a.raw, 2<<20)
	require.True(t, json.Valid([]byte(a.raw)))
	require.Equal(t, "bearer", a.json["token_type"])
}

func TestFaultRedirect(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.InjectFault(fakeresamania.Fault{RedirectTo: "https://elsewhere.example/token", Count: 1})
	a := postForm(t, srv, ccForm())
	require.Equal(t, http.StatusTemporaryRedirect, a.status)
	require.Equal(t, "https://elsewhere.example/token", a.header.Get("Location"))

	srv.InjectFault(fakeresamania.Fault{RedirectTo: "/x", Status: http.StatusFound, Count: 1})
	require.Equal(t, http.StatusFound, postForm(t, srv, ccForm()).status)
	require.Empty(t, srv.IssuedAccessTokens())
}

func TestFaultOverride(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	srv.InjectFault(fakeresamania.Fault{Count: 1, Override: map[string]any{
		"expires_in": "3600", "scope": []string{"a", "b"}, "token_type": json.RawMessage("null"),
	}})
	a := postForm(t, srv, ccForm())
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "3600", a.json["expires_in"])
	require.Equal(t, []any{"a", "b"}, a.json["scope"])
	require.Contains(t, a.json, "token_type")
	require.Nil(t, a.json["token_type"])
	require.NotEmpty(t, a.json["access_token"])

	srv.InjectFault(fakeresamania.Fault{Count: 1, Override: map[string]any{"access_token": nil}})
	a = postForm(t, srv, ccForm())
	require.Equal(t, http.StatusOK, a.status)
	require.NotContains(t, a.json, "access_token")
	require.Len(t, srv.IssuedAccessTokens(), 2, "the grant happened both times")
}
