package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// Values the tests put in requests; every one of them must stay out of error
// messages. They are long enough for the scrubber (>= 4 characters).
const (
	testChain    = "chain1"
	testClientID = "12_abcdefghij"
	testSecret   = "cs-Very-Secret-7f3a9c"
	testAPIKey   = "gw-Api-Key-55e1d0b2"
	testRedirect = "https://app.example/callback"
	testMember   = "alice"
)

// hangGuard is the deadline of a call whose duration a test does not
// judge: only a hang reaches it, and it is longer than any wait the client
// may choose (a Retry-After of up to 120 s in the tests), so it never
// decides what the client does. How long a call took is never checked
// against an upper bound: under -race on a loaded machine anything is slow.
const hangGuard = 3 * time.Minute

// env is one fake Resamania with one client, and the Config that reaches it.
type env struct {
	t   *testing.T
	srv *fakeresamania.Server
	cfg Config
}

// newEnv starts a fake server (closed at the end of the test) with one client
// on testChain. The Config trusts the fake's CA when it serves TLS and carries
// the gateway key when it wants one, else testAPIKey.
func newEnv(t *testing.T, opts fakeresamania.Options, client ...func(*fakeresamania.Client)) *env {
	t.Helper()
	srv := fakeresamania.Start(opts)
	t.Cleanup(srv.Close)
	c := fakeresamania.Client{
		ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret,
		RedirectURIs: []string{testRedirect},
	}
	for _, f := range client {
		f(&c)
	}
	srv.AddClient(c)
	srv.AddMember(testChain, testMember, "wonderland")

	base, err := NormalizeBaseURL(srv.URL())
	require.NoError(t, err)
	cfg := Config{
		TokenURL:       TokenURL(base, testChain),
		ClientID:       testClientID,
		ClientSecret:   testSecret,
		APIKey:         testAPIKey,
		CAPEM:          srv.CACertPEM(),
		AttemptTimeout: 10 * time.Second, // the default: a TLS handshake under -race on a loaded machine may take a second; tests of slowness set their own
		MaxAttempts:    2,
		UserAgent:      "upstream-test/1",
	}
	if opts.GatewayKey != "" {
		cfg.APIKey = opts.GatewayKey
	}
	return &env{t: t, srv: srv, cfg: cfg}
}

// client builds a Client from the env's Config changed by mods; its idle
// connections are closed at the end of the test.
func (e *env) client(mods ...func(*Config)) *Client {
	e.t.Helper()
	cfg := e.cfg
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	require.NoError(e.t, err)
	e.t.Cleanup(c.CloseIdleConnections)
	return c
}

// code is a fresh authorization code for testMember, sent to testRedirect.
func (e *env) code() string {
	return e.srv.IssueCode(testChain, testClientID, testRedirect, testMember)
}

// refreshToken is a live refresh token, got through a clean code exchange;
// the fake's request counters are reset afterwards.
func (e *env) refreshToken() string {
	e.t.Helper()
	tok, err := e.client().ExchangeCode(context.Background(), e.code(), testRedirect)
	require.NoError(e.t, err)
	require.NotEmpty(e.t, tok.RefreshToken)
	e.srv.ResetCounters()
	return tok.RefreshToken
}

// grant is one of the three token requests, with what it spends.
type grant struct {
	name      string
	grantType string
	retries   bool // transient failures after sending are retried
	// prepare returns the call and the single-use value it spends ("" for none).
	prepare func(e *env) (call func(context.Context, *Client) (*Token, error), spent string)
}

var grants = []grant{
	{
		name: "client_credentials", grantType: "client_credentials", retries: true,
		prepare: func(*env) (func(context.Context, *Client) (*Token, error), string) {
			return func(ctx context.Context, c *Client) (*Token, error) { return c.ClientCredentials(ctx) }, ""
		},
	},
	{
		name: "refresh_token", grantType: "refresh_token",
		prepare: func(e *env) (func(context.Context, *Client) (*Token, error), string) {
			rt := e.refreshToken()
			return func(ctx context.Context, c *Client) (*Token, error) { return c.Refresh(ctx, rt) }, rt
		},
	},
	{
		name: "authorization_code", grantType: "authorization_code",
		prepare: func(e *env) (func(context.Context, *Client) (*Token, error), string) {
			code := e.code()
			return func(ctx context.Context, c *Client) (*Token, error) {
				return c.ExchangeCode(ctx, code, testRedirect)
			}, code
		},
	},
}

// asError requires err to be an *Error and returns it.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	require.Error(t, err)
	var ue *Error
	require.True(t, errors.As(err, &ue), "error %T %q is not an *upstream.Error", err, err)
	return ue
}

// requireNoSecret checks that no secret appears in an error's text, nor in
// any of its fields.
func requireNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	texts := []string{err.Error()}
	var ue *Error
	if errors.As(err, &ue) {
		texts = append(texts, ue.Code, ue.Description, ue.Detail)
	}
	for _, s := range append(secrets, testSecret, testAPIKey) {
		if s == "" {
			continue
		}
		for _, text := range texts {
			require.NotContains(t, text, s, "a secret leaked into the error")
		}
	}
}

// hitCounter is an HTTP server that must never be called: it counts requests.
type hitCounter struct {
	*httptest.Server
	hits atomic.Int32
}

func newHitCounter(t *testing.T) *hitCounter {
	t.Helper()
	h := &hitCounter{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"stolen","token_type":"bearer","expires_in":3600}`))
	}))
	t.Cleanup(h.Close)
	return h
}

func hostOf(rawURL string) string {
	rest, _ := strings.CutPrefix(rawURL, "http://")
	rest, _ = strings.CutPrefix(rest, "https://")
	host, _, _ := strings.Cut(rest, "/")
	return host
}
