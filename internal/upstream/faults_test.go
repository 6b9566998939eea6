package upstream

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// faultCase is one way the token endpoint misbehaves, and what the client
// must make of it. The env's Config has MaxAttempts 2 and AttemptTimeout
// 10s unless cfg changes them.
type faultCase struct {
	name  string
	opts  fakeresamania.Options
	fault *fakeresamania.Fault                                                     // injected once the grant is prepared
	cfg   func(*Config)                                                            // changes to the client under test
	setup func(t *testing.T, f *fakeresamania.Fault) func(t *testing.T, err error) // optional; the returned check runs last

	kind      Kind
	status    int
	code      string
	desc      string
	msg       []string // substrings Error() must hold
	reachesOA bool     // the request reaches the OAuth server (counted by TokenRequests)
	sent      bool     // Error.Sent

	// The least time one attempt, and a grant that retries, takes (defaults:
	// the same). No upper bound: a loaded machine is slow, and how many
	// requests were sent says whether the client waited or retried.
	minDur, minRetry time.Duration
	success          bool
}

func faultCases() []faultCase {
	return []faultCase{
		{
			name: "500 HTML", fault: &fakeresamania.Fault{Status: 500},
			kind: KindTransient, status: 500, msg: []string{"HTTP 500", "text/html"}, reachesOA: true, sent: true,
		},
		{
			name: "502 plain text", fault: &fakeresamania.Fault{Status: 502, Body: "Bad Gateway", ContentType: "text/plain"},
			kind: KindTransient, status: 502, msg: []string{"HTTP 502", "text/plain"}, reachesOA: true, sent: true,
		},
		{
			// Retry-After is honoured: the retry waits the second asked for.
			name: "503 Retry-After 1", fault: &fakeresamania.Fault{Status: 503, RetryAfter: "1"},
			kind: KindTransient, status: 503, msg: []string{"HTTP 503", "Retry-After 1s"}, reachesOA: true, sent: true, minRetry: time.Second,
		},
		{
			// Gravitee's 429: no Retry-After, the rate limit's reset 1 s away,
			// waited for; the gateway answered, the OAuth server never saw it.
			name: "429 from the gateway", fault: &fakeresamania.Fault{Status: 429},
			kind: KindTransient, status: 429, msg: []string{"its rate limit is reached until", "HTTP 429"}, sent: true, minRetry: 900 * time.Millisecond,
		},
		{
			name: "slower than AttemptTimeout", fault: &fakeresamania.Fault{Delay: 5 * time.Second},
			cfg:  func(c *Config) { c.AttemptTimeout = 300 * time.Millisecond },
			kind: KindTransient, msg: []string{"no answer within 300ms"}, reachesOA: true, sent: true,
			minDur: 300 * time.Millisecond, minRetry: 600 * time.Millisecond,
		},
		{
			name: "connection reset", fault: &fakeresamania.Fault{Reset: true},
			kind: KindTransient, msg: []string{"Resamania is unavailable"}, reachesOA: true, sent: true,
		},
		{
			// The server granted, then the answer was cut in transit.
			name: "truncated body", fault: &fakeresamania.Fault{Truncate: true},
			kind: KindTransient, status: 200, msg: []string{"HTTP 200", "cut short"}, reachesOA: true, sent: true,
		},
		{
			name: "200 garbage", fault: &fakeresamania.Fault{Garbage: true},
			kind: KindProtocol, status: 200, msg: []string{"HTTP 200", "text/html"}, reachesOA: true, sent: true,
		},
		{
			name: "200 without access_token", fault: &fakeresamania.Fault{Override: map[string]any{"access_token": nil}},
			kind: KindProtocol, status: 200, msg: []string{"HTTP 200 without an access_token"}, reachesOA: true, sent: true,
		},
		{
			name: "400 invalid_client, null description",
			fault: &fakeresamania.Fault{Status: 400, ContentType: "application/json",
				Body: `{"error":"invalid_client","error_description":null}`},
			kind: KindRejected, status: 400, code: "invalid_client", msg: []string{"rejected the request: invalid_client"},
			reachesOA: true, sent: true,
		},
		{
			name: "400 invalid_grant",
			fault: &fakeresamania.Fault{Status: 400, ContentType: "application/json",
				Body: `{"error":"invalid_grant","error_description":"Invalid refresh token"}`},
			kind: KindRejected, status: 400, code: "invalid_grant", desc: "Invalid refresh token", msg: []string{"invalid_grant (Invalid refresh token)"},
			reachesOA: true, sent: true,
		},
		{
			// The gateway answers before the OAuth server sees anything.
			name: "401 from the gateway", opts: fakeresamania.Options{GatewayKey: "gateway-Key-9d8c7b"},
			cfg:  func(c *Config) { c.APIKey = "" },
			kind: KindGateway, status: 401, msg: []string{"HTTP 401", "api_key"}, sent: true,
		},
		{
			name: "307 redirect to another host",
			setup: func(t *testing.T, f *fakeresamania.Fault) func(*testing.T, error) {
				other := newHitCounter(t)
				f.RedirectTo = other.URL + "/chain1/oauth/v2/token"
				return func(t *testing.T, err error) {
					require.Zero(t, other.hits.Load(), "credentials were sent to the redirect target")
					require.Error(t, err)
					require.Contains(t, err.Error(), "to host "+hostOf(other.URL))
				}
			},
			fault: &fakeresamania.Fault{},
			kind:  KindProtocol, status: 307, msg: []string{"HTTP 307 redirect", "refused"}, reachesOA: true, sent: true,
		},
		{
			name: "302 redirect to another host",
			setup: func(t *testing.T, f *fakeresamania.Fault) func(*testing.T, error) {
				other := newHitCounter(t)
				f.RedirectTo = other.URL + "/steal"
				return func(t *testing.T, err error) {
					require.Zero(t, other.hits.Load(), "credentials were sent to the redirect target")
					require.Error(t, err)
					require.Contains(t, err.Error(), "to host "+hostOf(other.URL))
				}
			},
			fault: &fakeresamania.Fault{Status: 302},
			kind:  KindProtocol, status: 302, msg: []string{"HTTP 302 redirect"}, reachesOA: true, sent: true,
		},
		{
			name: "untrusted TLS certificate", opts: fakeresamania.Options{TLS: true},
			cfg:  func(c *Config) { c.CAPEM = "" },
			kind: KindTLS, msg: []string{"not trusted", "ca_pem"},
		},
		{
			name: "TLS with ca_pem", opts: fakeresamania.Options{TLS: true},
			success: true, reachesOA: true,
		},
		{
			name: "body over 1 MB", fault: &fakeresamania.Fault{Oversize: 2 << 20},
			kind: KindProtocol, status: 200, msg: []string{"HTTP 200", "larger than 256 KiB"}, reachesOA: true, sent: true,
		},
	}
}

// TestFaults runs every fault against every grant: error kind, status, code,
// message, secrets absent, requests made, time taken, and no goroutine left.
func TestFaults(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	for _, fc := range faultCases() {
		for _, g := range grants {
			t.Run(fc.name+"/"+g.name, func(t *testing.T) {
				runFault(t, fc, g)
			})
		}
	}
	goleak.VerifyNone(t, leaks)
}

func runFault(t *testing.T, fc faultCase, g grant) {
	e := newEnv(t, fc.opts)
	call, spent := g.prepare(e)
	c := e.client(func(c *Config) {
		if fc.cfg != nil {
			fc.cfg(c)
		}
	})
	var check func(*testing.T, error)
	if fc.fault != nil {
		f := *fc.fault
		if fc.setup != nil {
			check = fc.setup(t, &f)
		}
		e.srv.InjectFault(f)
	}

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	start := time.Now()
	tok, err := call(ctx, c)
	took := time.Since(start)
	if check != nil {
		check(t, err)
	}

	// A 429 was refused unprocessed: every grant may retry it.
	retried := (g.retries || fc.status == 429) && fc.kind == KindTransient && fc.sent
	minDur := fc.minDur
	if retried && fc.minRetry > 0 {
		minDur = fc.minRetry
	}
	require.GreaterOrEqual(t, took, minDur, "returned too soon")

	if fc.success {
		require.NoError(t, err)
		require.NotEmpty(t, tok.AccessToken)
		require.Equal(t, 1, e.srv.TokenRequests("", ""))
		return
	}
	if tok != nil {
		// Beside an error, a Token carries only a rotated refresh token.
		require.Empty(t, tok.AccessToken)
		require.NotEmpty(t, tok.RefreshToken)
	}
	if fc.name == "200 without access_token" && g.name != "client_credentials" {
		require.NotNil(t, tok, "the answer's rotated refresh token comes back beside the error")
	}
	ue := asError(t, err)
	require.Equal(t, fc.kind, ue.Kind, "error: %s", err)
	require.Equal(t, fc.status, ue.Status)
	require.Equal(t, fc.code, ue.Code)
	require.Equal(t, fc.desc, ue.Description)
	require.Equal(t, fc.sent, ue.Sent)
	for _, m := range fc.msg {
		require.Contains(t, err.Error(), m)
	}
	requireNoSecret(t, err, spent, fc.opts.GatewayKey)

	attempts := 1
	if retried {
		attempts = e.cfg.MaxAttempts
		require.Contains(t, err.Error(), "after 2 attempts")
	}
	require.Equal(t, attempts, ue.Attempts)
	reached := 0
	if fc.reachesOA {
		reached = attempts
	}
	require.Equal(t, reached, e.srv.TokenRequests("", ""), "requests that reached the OAuth server")
	for _, r := range e.srv.Requests() {
		require.Equal(t, g.grantType, r.GrantType)
	}

	if spent != "" {
		// A refresh token or code whose request may have been processed is
		// possibly gone; an OAuth or gateway refusal, or a request that never
		// left, spent nothing.
		want := fc.sent && fc.kind != KindRejected && fc.kind != KindGateway && fc.status != 429
		require.Equal(t, want, MaySpendGrant(err))
	}
}

// TestAfterProcessing: the server rotated the refresh token (or consumed the
// code), then the answer was lost. The client must not retry, and must say
// the grant may be spent.
func TestAfterProcessing(t *testing.T) {
	faults := []struct {
		name  string
		fault fakeresamania.Fault
		kind  Kind
	}{
		{"reset", fakeresamania.Fault{AfterProcessing: true, Reset: true}, KindTransient},
		{"502", fakeresamania.Fault{AfterProcessing: true, Status: 502}, KindTransient},
		{"slow", fakeresamania.Fault{AfterProcessing: true, Delay: 5 * time.Second}, KindTransient},
		{"garbage", fakeresamania.Fault{AfterProcessing: true, Garbage: true}, KindProtocol},
		{"null expires_in and access_token", fakeresamania.Fault{Override: map[string]any{
			"access_token": json.RawMessage("null"), "expires_in": json.RawMessage("null")}}, KindProtocol},
	}
	for _, f := range faults {
		for _, g := range grants[1:] { // refresh_token, authorization_code
			t.Run(f.name+"/"+g.name, func(t *testing.T) {
				e := newEnv(t, fakeresamania.Options{})
				call, spent := g.prepare(e)
				issued := len(e.srv.IssuedRefreshTokens())
				fault := f.fault
				fault.GrantType = g.grantType
				e.srv.InjectFault(fault)
				c := e.client(func(c *Config) { c.MaxAttempts = 4; c.AttemptTimeout = 300 * time.Millisecond })

				ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
				defer cancel()
				_, err := call(ctx, c)
				ue := asError(t, err)
				require.Equal(t, f.kind, ue.Kind, "error: %s", err)
				require.True(t, ue.Sent)
				require.True(t, MaySpendGrant(err))
				require.Equal(t, 1, ue.Attempts)
				require.Equal(t, 1, e.srv.TokenRequests("", ""), "a spent grant was sent again")
				requireNoSecret(t, err, spent)
				require.Len(t, e.srv.IssuedRefreshTokens(), issued+1, "the server did process it")

				// And indeed the old value is gone now.
				e.srv.ClearFaults()
				_, err = call(context.Background(), c)
				require.True(t, IsRejected(err, "invalid_grant"), "got %v", err)
				require.False(t, MaySpendGrant(err))
			})
		}
	}
}

// TestCloseIdleConnections: with the server still up, closing the idle
// connections lets every goroutine of the exchange end; the Client stays usable.
func TestCloseIdleConnections(t *testing.T) {
	e := newEnv(t, fakeresamania.Options{})
	c, err := New(e.cfg)
	require.NoError(t, err)
	leaks := goleak.IgnoreCurrent()
	for range 3 {
		_, err = c.ClientCredentials(context.Background())
		require.NoError(t, err)
	}
	// goleak's own retries wait for stray goroutines to end: the kept-alive
	// connection's never does. (A count of goroutines before and after
	// flaked while other tests' goroutines ended.)
	require.Error(t, goleak.Find(leaks), "a kept-alive connection is open")
	c.CloseIdleConnections()
	goleak.VerifyNone(t, leaks)

	_, err = c.ClientCredentials(context.Background())
	require.NoError(t, err)
	c.CloseIdleConnections()
	goleak.VerifyNone(t, leaks)
}
