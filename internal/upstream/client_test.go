package upstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// TestRequestShape: form bodies only, client credentials in the body, never
// HTTP Basic, the gateway key when set, scope and redirect_uri where due.
func TestRequestShape(t *testing.T) {
	cases := []struct {
		name  string
		grant string // index into grants by name
		opts  fakeresamania.Options
		cfg   func(*Config)
		form  map[string]string // exact fields (besides the grant's own value)
		gwKey string
	}{
		{
			name: "client_credentials with scope and API key", grant: "client_credentials",
			cfg:   func(c *Config) { c.Scope = " read   write " },
			form:  map[string]string{"grant_type": "client_credentials", "scope": "read write"},
			gwKey: testAPIKey,
		},
		{
			name: "client_credentials, no scope, no API key", grant: "client_credentials",
			cfg:  func(c *Config) { c.APIKey = "" },
			form: map[string]string{"grant_type": "client_credentials"},
		},
		{
			name: "client_credentials behind a gateway prefix", grant: "client_credentials",
			opts:  fakeresamania.Options{PathPrefix: "/integration/", GatewayKey: "gateway-Key-9d8c7b"},
			form:  map[string]string{"grant_type": "client_credentials"},
			gwKey: "gateway-Key-9d8c7b",
		},
		{
			name: "refresh_token: no scope even when set", grant: "refresh_token",
			cfg:   func(c *Config) { c.Scope = "read" },
			form:  map[string]string{"grant_type": "refresh_token", "refresh_token": "<spent>"},
			gwKey: testAPIKey,
		},
		{
			name: "authorization_code with redirect_uri", grant: "authorization_code",
			form:  map[string]string{"grant_type": "authorization_code", "code": "<spent>", "redirect_uri": testRedirect},
			gwKey: testAPIKey,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			var g grant
			for _, gg := range grants {
				if gg.name == tc.grant {
					g = gg
				}
			}
			call, spent := g.prepare(e)
			c := e.client(func(c *Config) {
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			_, err := call(context.Background(), c)
			require.NoError(t, err)

			reqs := e.srv.Requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			require.Equal(t, testChain, r.ClientToken)
			require.Equal(t, "application/x-www-form-urlencoded", r.ContentType)
			require.False(t, r.JSONBody, "never JSON")
			require.False(t, r.UsedBasicAuth, "never HTTP Basic")
			require.Empty(t, r.Header.Get("Authorization"))
			require.Equal(t, tc.gwKey, r.GatewayKey)
			require.Equal(t, tc.gwKey, r.Header.Get(GatewayKeyHeader))
			require.Equal(t, "upstream-test/1", r.Header.Get("User-Agent"))
			require.Equal(t, 200, r.Status)

			want := map[string][]string{"client_id": {testClientID}, "client_secret": {testSecret}}
			for k, v := range tc.form {
				if v == "<spent>" {
					v = spent
				}
				want[k] = []string{v}
			}
			require.Equal(t, want, map[string][]string(r.Form))
		})
	}
}

// TestRejections: the real server's OAuth errors, each a KindRejected that
// spent nothing and is not retried.
func TestRejections(t *testing.T) {
	cases := []struct {
		name   string
		client func(*fakeresamania.Client)
		cfg    func(*Config)
		call   func(e *env, c *Client) (string, error) // returns the spent value
		code   string
		desc   string
	}{
		{
			name: "wrong secret", cfg: func(c *Config) { c.ClientSecret = "wrong-Secret-0a1b2c" },
			call: func(e *env, c *Client) (string, error) {
				_, err := c.ClientCredentials(context.Background())
				return "wrong-Secret-0a1b2c", err
			},
			code: "invalid_client", desc: "The client credentials are invalid",
		},
		{
			name: "client_id without underscore", cfg: func(c *Config) { c.ClientID = "12abcdefghij" },
			call: func(e *env, c *Client) (string, error) {
				_, err := c.ClientCredentials(context.Background())
				return "", err
			},
			code: "invalid_client", desc: "The client credentials are invalid",
		},
		{
			name: "scope not allowed", cfg: func(c *Config) { c.Scope = "forbidden" },
			call: func(e *env, c *Client) (string, error) {
				_, err := c.ClientCredentials(context.Background())
				return "", err
			},
			code: "invalid_scope", desc: "An unsupported scope was requested.",
		},
		{
			name:   "grant not allowed",
			client: func(c *fakeresamania.Client) { c.AllowedGrants = []string{"client_credentials"} },
			call: func(e *env, c *Client) (string, error) {
				_, err := c.Refresh(context.Background(), "unknown-Refresh-Token")
				return "unknown-Refresh-Token", err
			},
			code: "unauthorized_client", desc: "The grant type is unauthorized for this client_id",
		},
		{
			name: "refresh token used twice",
			call: func(e *env, c *Client) (string, error) {
				rt := e.refreshToken()
				_, err := c.Refresh(context.Background(), rt)
				require.NoError(e.t, err)
				e.srv.ResetCounters()
				_, err = c.Refresh(context.Background(), rt)
				return rt, err
			},
			code: "invalid_grant", desc: "Invalid refresh token",
		},
		{
			name: "refresh token expired",
			call: func(e *env, c *Client) (string, error) {
				rt := e.refreshToken()
				e.srv.ExpireRefreshTokens(testChain)
				_, err := c.Refresh(context.Background(), rt)
				return rt, err
			},
			code: "invalid_grant", desc: "Refresh token has expired",
		},
		{
			name: "code used twice",
			call: func(e *env, c *Client) (string, error) {
				code := e.code()
				_, err := c.ExchangeCode(context.Background(), code, testRedirect)
				require.NoError(e.t, err)
				e.srv.ResetCounters()
				_, err = c.ExchangeCode(context.Background(), code, testRedirect)
				return code, err
			},
			code: "invalid_grant", desc: "Code doesn't exist or is invalid for the client",
		},
		{
			name: "code with another redirect_uri",
			call: func(e *env, c *Client) (string, error) {
				code := e.code()
				_, err := c.ExchangeCode(context.Background(), code, "https://evil.example/callback")
				return code, err
			},
			code: "redirect_uri_mismatch", desc: "The redirect URI is missing or do not match",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mods []func(*fakeresamania.Client)
			if tc.client != nil {
				mods = append(mods, tc.client)
			}
			e := newEnv(t, fakeresamania.Options{}, mods...)
			c := e.client(func(c *Config) {
				c.MaxAttempts = 4
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			spent, err := tc.call(e, c)
			ue := asError(t, err)
			require.Equal(t, KindRejected, ue.Kind)
			require.Equal(t, 400, ue.Status)
			require.Equal(t, tc.code, ue.Code)
			require.Equal(t, tc.desc, ue.Description)
			require.Equal(t, 1, ue.Attempts)
			require.True(t, IsRejected(err, tc.code))
			require.True(t, IsRejected(err))
			require.False(t, IsRejected(err, "some_other_code"))
			require.False(t, MaySpendGrant(err), "the server refused: nothing was spent")
			require.Equal(t, 1, e.srv.TokenRequests("", ""))
			require.Equal(t, fmt.Sprintf("Resamania rejected the request: %s (%s)", tc.code, tc.desc), err.Error())
			requireNoSecret(t, err, spent)
		})
	}
}

// TestScrubbing: a server that echoes a secret in what it sends back must not
// make the client print it.
func TestScrubbing(t *testing.T) {
	jsonError := func(code, desc string) *fakeresamania.Fault {
		return &fakeresamania.Fault{Status: 400, ContentType: "application/json",
			Body: fmt.Sprintf(`{"error":%q,"error_description":%q}`, code, desc)}
	}
	cases := []struct {
		name  string
		grant string
		fault func(spent string) *fakeresamania.Fault
		kind  Kind
		shown string // what the error shows instead; default "[redacted]"
	}{
		{name: "description echoes the client secret", grant: "client_credentials", kind: KindRejected,
			fault: func(string) *fakeresamania.Fault {
				return jsonError("invalid_request", "client_secret "+testSecret+" is wrong")
			}},
		{name: "description echoes the API key", grant: "client_credentials", kind: KindRejected,
			fault: func(string) *fakeresamania.Fault { return jsonError("invalid_request", "key="+testAPIKey) }},
		{name: "error code is the client secret", grant: "client_credentials", kind: KindRejected,
			fault: func(string) *fakeresamania.Fault { return jsonError(testSecret, "") }},
		{name: "description echoes the refresh token", grant: "refresh_token", kind: KindRejected,
			fault: func(spent string) *fakeresamania.Fault { return jsonError("invalid_grant", "token "+spent+" unknown") }},
		{name: "description echoes the code", grant: "authorization_code", kind: KindRejected,
			fault: func(spent string) *fakeresamania.Fault { return jsonError("invalid_grant", spent) }},
		{name: "token_type echoes the client secret", grant: "client_credentials", kind: KindProtocol,
			fault: func(string) *fakeresamania.Fault {
				return &fakeresamania.Fault{Override: map[string]any{"token_type": testSecret}}
			}},
		{name: "token_type echoes the refresh token", grant: "refresh_token", kind: KindProtocol,
			fault: func(spent string) *fakeresamania.Fault {
				return &fakeresamania.Fault{Override: map[string]any{"token_type": spent}}
			}, shown: "token_type is a 64-byte value, not bearer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakeresamania.Options{})
			var g grant
			for _, gg := range grants {
				if gg.name == tc.grant {
					g = gg
				}
			}
			call, spent := g.prepare(e)
			e.srv.InjectFault(*tc.fault(spent))
			_, err := call(context.Background(), e.client())
			ue := asError(t, err)
			require.Equal(t, tc.kind, ue.Kind, "error: %s", err)
			shown := "[redacted]"
			if tc.shown != "" {
				shown = tc.shown
			}
			require.Contains(t, err.Error(), shown)
			requireNoSecret(t, err, spent)
			if spent != "" {
				require.NotContains(t, err.Error(), spent[:30])
			}
		})
	}

	t.Run("long description clipped", func(t *testing.T) {
		e := newEnv(t, fakeresamania.Options{})
		e.srv.InjectFault(*jsonError("invalid_request", strings.Repeat("x", 5000)))
		_, err := e.client().ClientCredentials(context.Background())
		ue := asError(t, err)
		require.Len(t, ue.Description, 303)
		require.True(t, strings.HasSuffix(ue.Description, "..."))
		require.Less(t, len(err.Error()), 400)
	})
}

// TestConcurrentUse: one Client serves many goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, fakeresamania.Options{})
	e.srv.InjectFault(fakeresamania.Fault{Status: 503, Count: 3})
	c := e.client(func(c *Config) { c.MaxAttempts = 4 })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.ClientCredentials(context.Background())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 11, e.srv.TokenRequests("", ""))
}

func TestNewBadCAPEM(t *testing.T) {
	_, err := New(Config{TokenURL: "https://api.resamania.com/x/oauth/v2/token", CAPEM: "not a certificate"})
	require.EqualError(t, err, "ca_pem holds no PEM certificate")
}

func TestNewDefaults(t *testing.T) {
	c, err := New(Config{TokenURL: "https://api.resamania.com/x/oauth/v2/token"})
	require.NoError(t, err)
	require.Equal(t, 10*time.Second, c.cfg.AttemptTimeout)
	require.Equal(t, 4, c.cfg.MaxAttempts)
	require.NotNil(t, c.cfg.Now)
	c.CloseIdleConnections() // safe on a client never used
}

func TestErrorText(t *testing.T) {
	cases := []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: KindRejected, Code: "invalid_grant"}, "Resamania rejected the request: invalid_grant"},
		{&Error{Kind: KindRejected, Code: "invalid_grant", Description: "gone"}, "Resamania rejected the request: invalid_grant (gone)"},
		{&Error{Kind: KindGateway, Status: 403}, "Resamania's API gateway refused the request (HTTP 403): the gateway key (api_key) is missing or wrong"},
		{&Error{Kind: KindTransient, Detail: "HTTP 503", RetryAfter: 2 * time.Second, Attempts: 3},
			"Resamania is unavailable: HTTP 503, Retry-After 2s (after 3 attempts)"},
		{&Error{Kind: KindTLS, Detail: "x"}, "could not reach Resamania securely: x"},
		{&Error{Kind: KindProtocol, Detail: "y", Attempts: 1}, "Resamania's answer is not a valid token response: y"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, tc.err.Error())
		})
	}
}

func TestMaySpendGrant(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"not an upstream error: assume spent", errors.New("boom"), true},
		{"never sent", &Error{Kind: KindTransient}, false},
		{"TLS failure, never sent", &Error{Kind: KindTLS}, false},
		{"sent, transient", &Error{Kind: KindTransient, Sent: true}, true},
		{"sent, protocol", &Error{Kind: KindProtocol, Sent: true}, true},
		{"sent, rejected", &Error{Kind: KindRejected, Sent: true}, false},
		{"sent, gateway", &Error{Kind: KindGateway, Sent: true}, false},
		{"wrapped", fmt.Errorf("refresh: %w", &Error{Kind: KindTransient, Sent: true}), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, MaySpendGrant(tc.err))
		})
	}
	require.True(t, IsRejected(fmt.Errorf("x: %w", &Error{Kind: KindRejected, Code: "invalid_grant"}), "invalid_client", "invalid_grant"))
	require.False(t, IsRejected(&Error{Kind: KindTransient}))
	require.False(t, IsRejected(errors.New("invalid_grant"), "invalid_grant"))
}
