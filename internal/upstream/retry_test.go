package upstream

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// TestRetryClientCredentials: client_credentials spends nothing single-use, so
// transient failures are retried, within MaxAttempts and the caller's deadline.
func TestRetryClientCredentials(t *testing.T) {
	jsonErr := func(code string) fakeresamania.Fault {
		return fakeresamania.Fault{Status: 400, ContentType: "application/json", Body: `{"error":"` + code + `","error_description":null}`, Count: 1}
	}
	cases := []struct {
		name        string
		opts        fakeresamania.Options
		faults      []fakeresamania.Fault
		maxAttempts int
		timeout     time.Duration // the caller's deadline; 0 for none
		cfg         func(*Config)

		requests int  // token requests the fake received
		ok       bool // the call succeeded
		kind     Kind
		minDur   time.Duration // the least the call takes; no upper bound, the request count tells
	}{
		{name: "503 once, then success", faults: []fakeresamania.Fault{{Status: 503, Count: 1}},
			requests: 2, ok: true},
		{name: "502 twice, then success", faults: []fakeresamania.Fault{{Status: 502, Count: 2}},
			requests: 3, ok: true, minDur: 375 * time.Millisecond},
		{name: "reset once, then success", faults: []fakeresamania.Fault{{Reset: true, Count: 1}},
			requests: 2, ok: true},
		{name: "truncated once, then success", faults: []fakeresamania.Fault{{Truncate: true, Count: 1}},
			requests: 2, ok: true},
		{name: "slow once, then success", faults: []fakeresamania.Fault{{Delay: 5 * time.Second, Count: 1}},
			cfg:      func(c *Config) { c.AttemptTimeout = 300 * time.Millisecond },
			requests: 2, ok: true, minDur: 300 * time.Millisecond},
		{name: "gateway 429, then success once its window ends", faults: []fakeresamania.Fault{{Status: 429, Count: 1}},
			requests: 1, ok: true, minDur: 900 * time.Millisecond},
		{name: "503 always: MaxAttempts 3", faults: []fakeresamania.Fault{{Status: 503}}, maxAttempts: 3,
			requests: 3, kind: KindTransient, minDur: 375 * time.Millisecond},
		{name: "MaxAttempts 1: no retry", faults: []fakeresamania.Fault{{Status: 503, Count: 1}}, maxAttempts: 1,
			requests: 1, kind: KindTransient},
		{name: "Retry-After beyond 30 s: not waited for", faults: []fakeresamania.Fault{{Status: 503, RetryAfter: "120", Count: 1}},
			requests: 1, kind: KindTransient},
		{name: "no room for a retry before the deadline", faults: []fakeresamania.Fault{{Status: 503, Count: 1}},
			timeout: 600 * time.Millisecond, requests: 1, kind: KindTransient},
		{name: "the caller's deadline ends a slow attempt", faults: []fakeresamania.Fault{{Delay: 5 * time.Second}},
			cfg:     func(c *Config) { c.AttemptTimeout = 2 * time.Second },
			timeout: 300 * time.Millisecond, requests: 1, kind: KindTransient, minDur: 300 * time.Millisecond},
		{name: "invalid_client: not retried", faults: []fakeresamania.Fault{jsonErr("invalid_client")},
			requests: 1, kind: KindRejected},
		{name: "invalid_scope: not retried", faults: []fakeresamania.Fault{jsonErr("invalid_scope")},
			requests: 1, kind: KindRejected},
		{name: "garbage: not retried", faults: []fakeresamania.Fault{{Garbage: true, Count: 1}},
			requests: 1, kind: KindProtocol},
		{name: "gateway 401: not retried", opts: fakeresamania.Options{GatewayKey: "gateway-Key-9d8c7b"},
			cfg:      func(c *Config) { c.APIKey = "wrong-key" },
			requests: 0, kind: KindGateway},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			for _, f := range tc.faults {
				e.srv.InjectFault(f)
			}
			c := e.client(func(c *Config) {
				c.MaxAttempts = 4
				if tc.maxAttempts > 0 {
					c.MaxAttempts = tc.maxAttempts
				}
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			timeout := hangGuard
			if tc.timeout > 0 {
				timeout = tc.timeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			tok, err := c.ClientCredentials(ctx)
			require.GreaterOrEqual(t, time.Since(start), tc.minDur)
			require.Equal(t, tc.requests, e.srv.TokenRequests("", ""))
			if tc.ok {
				require.NoError(t, err)
				require.NotEmpty(t, tok.AccessToken)
				return
			}
			ue := asError(t, err)
			require.Equal(t, tc.kind, ue.Kind, "error: %s", err)
			requireNoSecret(t, err)
		})
	}
}

// TestNoRetryOnceSent: a refresh or code exchange that may have reached the
// server is never sent again, even with attempts left and a server that would
// answer the next one well.
func TestNoRetryOnceSent(t *testing.T) {
	faults := []struct {
		name  string
		fault fakeresamania.Fault
	}{
		{"503", fakeresamania.Fault{Status: 503, Count: 1}},
		{"reset", fakeresamania.Fault{Reset: true, Count: 1}},
		{"slow", fakeresamania.Fault{Delay: 5 * time.Second, Count: 1}},
		{"truncated", fakeresamania.Fault{Truncate: true, Count: 1}},
	}
	for _, f := range faults {
		for _, g := range grants[1:] { // refresh_token, authorization_code
			t.Run(f.name+"/"+g.name, func(t *testing.T) {
				e := newEnv(t, fakeresamania.Options{})
				call, spent := g.prepare(e)
				e.srv.InjectFault(f.fault)
				c := e.client(func(c *Config) { c.MaxAttempts = 4; c.AttemptTimeout = 300 * time.Millisecond })

				ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
				defer cancel()
				_, err := call(ctx, c)
				ue := asError(t, err)
				require.Equal(t, KindTransient, ue.Kind, "error: %s", err)
				require.True(t, ue.Sent)
				require.Equal(t, 1, ue.Attempts)
				require.True(t, MaySpendGrant(err))
				require.Equal(t, 1, e.srv.TokenRequests("", ""), "a single-use value was sent twice")
				requireNoSecret(t, err, spent)
			})
		}
	}
}

// TestSingleUseGrantRetriedAfter429: a 429 is refused before processing (RFC
// 6585), so a refresh or code exchange is sent again once the gateway's
// window ends (its -Reset header: Gravitee sends no Retry-After).
func TestSingleUseGrantRetriedAfter429(t *testing.T) {
	for _, g := range grants[1:] {
		t.Run(g.name, func(t *testing.T) {
			e := newEnv(t, fakeresamania.Options{})
			call, _ := g.prepare(e)
			e.srv.InjectFault(fakeresamania.Fault{Status: 429, Count: 1})
			c := e.client(func(c *Config) { c.MaxAttempts = 4 })
			start := time.Now()
			tok, err := call(context.Background(), c)
			require.NoError(t, err)
			require.NotEmpty(t, tok.AccessToken)
			require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "the window's end waited for")
			require.Equal(t, 1, e.srv.GatewayRefusals(e.cfg.APIKey), "one 429")
			require.Equal(t, 1, e.srv.TokenRequests("", ""), "then the grant, once")
		})
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestRetryBeforeSending: a connection refused means the request never left,
// so every grant may try again, and nothing was spent.
func TestRetryBeforeSending(t *testing.T) {
	addr := closedPort(t)
	for _, g := range grants {
		t.Run(g.name, func(t *testing.T) {
			e := newEnv(t, fakeresamania.Options{})
			call, spent := g.prepare(e)
			c := e.client(func(c *Config) {
				c.TokenURL = TokenURL("http://"+addr, testChain)
				c.MaxAttempts = 3
			})
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			start := time.Now()
			_, err := call(ctx, c)
			took := time.Since(start)
			ue := asError(t, err)
			require.Equal(t, KindTransient, ue.Kind)
			require.False(t, ue.Sent)
			require.False(t, MaySpendGrant(err))
			require.Equal(t, 3, ue.Attempts, "retried up to MaxAttempts")
			require.Contains(t, err.Error(), "connection refused")
			require.Contains(t, err.Error(), "after 3 attempts")
			require.GreaterOrEqual(t, took, 375*time.Millisecond, "backoff between attempts")
			require.Zero(t, e.srv.TokenRequests("", ""))
			requireNoSecret(t, err, spent)
		})
	}
}

// TestRefreshAfterRefusedConnection: the server comes back while a refresh
// is backing off; the retry succeeds, and the refresh token was sent once.
func TestRefreshAfterRefusedConnection(t *testing.T) {
	srv := fakeresamania.New(fakeresamania.Options{})
	t.Cleanup(srv.Close)
	srv.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret,
		RedirectURIs: []string{testRedirect}})

	// A refresh token, got through a first listener.
	first := httptest.NewServer(srv.Handler())
	setup, err := New(Config{TokenURL: TokenURL(first.URL, testChain), ClientID: testClientID, ClientSecret: testSecret})
	require.NoError(t, err)
	tok, err := setup.ExchangeCode(context.Background(), srv.IssueCode(testChain, testClientID, testRedirect, testMember), testRedirect)
	require.NoError(t, err)
	setup.CloseIdleConnections()
	first.Close()
	srv.ResetCounters()

	addr := closedPort(t)
	refused := make(chan struct{}, 4) // told of each attempt that ended
	c, err := New(Config{TokenURL: TokenURL("http://"+addr, testChain), ClientID: testClientID, ClientSecret: testSecret,
		MaxAttempts: 4, AttemptTimeout: 500 * time.Millisecond, Observe: func(Call) { refused <- struct{}{} }})
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)

	type result struct {
		tok  *Token
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		tok, err := c.Refresh(context.Background(), tok.RefreshToken)
		done <- result{tok, err, time.Since(start)}
	}()
	// Once the first attempt has been refused, the listener comes back: the
	// first backoff is at least 125 ms, so before the second attempt.
	select {
	case <-refused:
	case <-time.After(5 * time.Second):
		t.Fatal("the first attempt never ended")
	}
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	second := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = second.Serve(l) }()
	t.Cleanup(func() { _ = second.Close() })

	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Refresh did not return")
	}
	require.NoError(t, r.err)
	require.NotEqual(t, tok.RefreshToken, r.tok.RefreshToken)
	require.GreaterOrEqual(t, r.took, 120*time.Millisecond, "the success came from a retry")
	require.Len(t, refused, 1, "one attempt refused, then the one that succeeded")
	require.Equal(t, 1, srv.TokenRequests("", ""), "the refresh token reached the server once")
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 2 ", 2 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"999999", 86400 * time.Second},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-10 * time.Second).Format(http.TimeFormat), 0},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, parseRetryAfter(tc.in, now))
		})
	}
}

func TestRetryWait(t *testing.T) {
	cases := []struct {
		name       string
		n          int
		retryAfter time.Duration
		deadline   time.Duration // 0: none
		min, max   time.Duration
		ok         bool
	}{
		{name: "first backoff", n: 1, min: 125 * time.Millisecond, max: 250 * time.Millisecond, ok: true},
		{name: "second backoff", n: 2, min: 250 * time.Millisecond, max: 500 * time.Millisecond, ok: true},
		{name: "capped", n: 10, min: 2 * time.Second, max: 4 * time.Second, ok: true},
		{name: "shift overflow capped", n: 70, min: 2 * time.Second, max: 4 * time.Second, ok: true},
		{name: "Retry-After honoured", n: 1, retryAfter: 3 * time.Second, min: 3 * time.Second, max: 3 * time.Second, ok: true},
		{name: "Retry-After at the limit", n: 1, retryAfter: 30 * time.Second, min: 30 * time.Second, max: 30 * time.Second, ok: true},
		{name: "Retry-After too long", n: 1, retryAfter: 31 * time.Second},
		{name: "Retry-After past the deadline", n: 1, retryAfter: 2 * time.Second, deadline: 2 * time.Second},
		{name: "Retry-After within the deadline", n: 1, retryAfter: 2 * time.Second, deadline: 10 * time.Second,
			min: 2 * time.Second, max: 2 * time.Second, ok: true},
		{name: "backoff past the deadline", n: 1, deadline: 500 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			for range 50 { // jitter: every draw within bounds
				wait, ok := retryWait(ctx, tc.n, tc.retryAfter)
				require.Equal(t, tc.ok, ok)
				if !ok {
					require.Zero(t, wait)
					continue
				}
				require.GreaterOrEqual(t, wait, tc.min)
				require.LessOrEqual(t, wait, tc.max)
			}
		})
	}
}
