package resamania

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// A fault kind and what it must end in, for the client_credentials grant
// (token/) and the refresh_token grant (creds/). "" means a correct token;
// otherwise a fragment of the error. credState is the credential's state after.
type faultKind struct {
	name      string
	tls       bool
	fault     fakeresamania.Fault
	ccWant    string
	credWant  string
	credState credState
}

func faultKinds() []faultKind {
	asJSON := "application/json"
	return []faultKind{
		{name: "500 HTML", fault: fakeresamania.Fault{Status: 500, Body: "<html>Fatal error</html>", ContentType: "text/html"}, ccWant: "HTTP 500", credWant: "answer to its last refresh was lost", credState: credUncertain},
		{name: "502", fault: fakeresamania.Fault{Status: 502}, ccWant: "HTTP 502", credWant: "answer to its last refresh was lost", credState: credUncertain},
		{name: "503 Retry-After", fault: fakeresamania.Fault{Status: 503, RetryAfter: "1"}, ccWant: "HTTP 503", credWant: "answer to its last refresh was lost", credState: credUncertain},
		// Gravitee's 429s (no Retry-After) close the gateway key until their
		// reset, which the test's clock never reaches by itself: the read
		// fails saying which limit, and the credential stays active. A reset
		// 50 s away is not waited for, so the read ends on the 429 itself; a
		// spike arrest's is, and the read ends on the request held after it.
		{name: "gateway rate limit 429, once", fault: fakeresamania.Fault{Status: 429, ResetIn: 50 * time.Second, Count: 1}, ccWant: "rate limit is reached", credWant: "rate limit is reached", credState: credActive},
		{name: "gateway spike arrest 429, once", fault: fakeresamania.Fault{Status: 429, Limit: fakeresamania.LimitSpikeArrest, Count: 1}, ccWant: "spike arrest is reached", credWant: "spike arrest is reached", credState: credActive},
		{name: "slow beyond the timeout", fault: fakeresamania.Fault{Delay: 5 * time.Second}, ccWant: "no answer within 1s", credWant: "answer to its last refresh was lost", credState: credUncertain},
		{name: "connection reset", fault: fakeresamania.Fault{Reset: true}, ccWant: "connection reset", credWant: "answer to its last refresh was lost", credState: credUncertain},
		{name: "truncated body", fault: fakeresamania.Fault{Truncate: true}, ccWant: "cut short", credWant: "answer to its last refresh was lost", credState: credUncertain},
		{name: "200 garbage", fault: fakeresamania.Fault{Garbage: true}, ccWant: "HTTP 200", credWant: "answer to its last refresh was lost", credState: credUncertain},
		// The server rotated, and the answer still carries the new refresh token: it is kept.
		{name: "200 without access_token", fault: fakeresamania.Fault{Override: map[string]any{"access_token": nil}}, ccWant: "without an access_token", credWant: "without an access_token", credState: credActive},
		{name: "expires_in as a string", fault: fakeresamania.Fault{Override: map[string]any{"expires_in": "3600"}}, credState: credActive},
		{name: "expires_in zero", fault: fakeresamania.Fault{Override: map[string]any{"expires_in": 0}}, ccWant: "already expired", credWant: "already expired", credState: credActive},
		{name: "expires_in negative", fault: fakeresamania.Fault{Override: map[string]any{"expires_in": -60}}, ccWant: "already expired", credWant: "already expired", credState: credActive},
		{name: "expires_in missing", fault: fakeresamania.Fault{Override: map[string]any{"expires_in": nil}}, credState: credActive},
		{name: "scope null", fault: fakeresamania.Fault{Override: map[string]any{"scope": json.RawMessage("null")}}, credState: credActive},
		{name: "scope string", fault: fakeresamania.Fault{Override: map[string]any{"scope": "read write"}}, credState: credActive},
		{name: "scope list", fault: fakeresamania.Fault{Override: map[string]any{"scope": []string{"read", "write"}}}, credState: credActive},
		{name: "error_description null", fault: fakeresamania.Fault{Status: 400, ContentType: asJSON, Body: `{"error":"invalid_client","error_description":null}`}, ccWant: "invalid_client", credWant: "invalid_client", credState: credActive},
		{name: "invalid_grant", fault: fakeresamania.Fault{Status: 400, ContentType: asJSON, Body: `{"error":"invalid_grant","error_description":"Invalid refresh token"}`}, ccWant: "invalid_grant", credWant: "needs the member to sign in again", credState: credSignInRequired},
		{name: "redirect to another host", fault: fakeresamania.Fault{Status: 302}, ccWant: "redirect", credWant: "answer to its last refresh was lost", credState: credUncertain},
		{name: "body over 1 MB", fault: fakeresamania.Fault{Oversize: 2 << 20}, ccWant: "larger than 256 KiB", credWant: "answer to its last refresh was lost", credState: credUncertain},
		{name: "untrusted TLS certificate", tls: true, ccWant: "not trusted", credWant: "not trusted", credState: credActive},
	}
}

func TestFaultTable(t *testing.T) {
	kinds := faultKinds()
	require.GreaterOrEqual(t, len(kinds), 12)
	for _, fk := range kinds {
		t.Run(fk.name+"/client_credentials", func(t *testing.T) { runClientCredentialsFault(t, fk) })
		t.Run(fk.name+"/refresh_token", func(t *testing.T) { runRefreshFault(t, fk) })
	}
}

// faultEnv is a backend whose chain talks to the fake; with tls the fake serves
// https with a certificate the chain does not trust.
func faultEnv(t *testing.T, fk faultKind, accessLife int) (*testEnv, *redirectTarget) {
	env := getTestBackendWith(t, fakeresamania.Options{TLS: fk.tls})
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: accessLife, RedirectURIs: []string{testRedirect}})
	env.configure(map[string]any{"request_timeout": "1s", "allowed_redirect_uris": testRedirect})
	return env, newRedirectTarget(t)
}

// redirectTarget is a server that the fake's redirects point to, and that no
// request of the plugin may ever reach: it would carry the credentials.
type redirectTarget struct {
	srv     *httptest.Server
	url     string
	reached atomic.Int32
}

func newRedirectTarget(t *testing.T) *redirectTarget {
	target := &redirectTarget{}
	target.srv = httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { target.reached.Add(1) }))
	t.Cleanup(target.srv.Close)
	target.url = target.srv.URL + "/steal"
	return target
}

func inject(env *testEnv, fk faultKind, grant string, target *redirectTarget) {
	if fk.tls {
		return
	}
	f := fk.fault
	f.GrantType = grant
	if f.Status == 302 {
		f.RedirectTo = target.url
	}
	env.fake.InjectFault(f)
}

func runClientCredentialsFault(t *testing.T, fk faultKind) {
	leaks := goleak.IgnoreCurrent()
	env, target := faultEnv(t, fk, 3600)
	inject(env, fk, "client_credentials", target)
	start := time.Now()
	resp, err := env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.Less(t, time.Since(start), 8*time.Second, "bounded")
	require.Zero(t, target.reached.Load(), "credentials were sent to a redirect target")
	if fk.ccWant == "" {
		require.NoError(t, err)
		require.False(t, resp.IsError(), "%v", resp.Error())
		require.True(t, env.fake.AccessTokenValid(resp.Data["access_token"].(string)))
		if strings.HasPrefix(fk.name, "scope") && fk.name != "scope null" {
			require.Equal(t, "read write", resp.Data["scope"])
		}
	} else {
		require.Error(t, err, "want an error naming %q", fk.ccWant)
		require.Contains(t, err.Error(), fk.ccWant)
		require.Contains(t, err.Error(), `chain "mychain"`)
		require.NotContains(t, err.Error(), testSecret)
		code := err.(logical.HTTPCodedError).Code()
		require.True(t, code == 502 || code == 503, "code %d", code)
	}
	requireNoGoroutineLeft(t, env, target, leaks)
}

func runRefreshFault(t *testing.T, fk faultKind) {
	leaks := goleak.IgnoreCurrent()
	env, target := faultEnv(t, fk, 60)
	if fk.tls {
		// Sign in over TLS with the right CA, then drop it: the refresh meets
		// a certificate the chain no longer trusts. A change of CA writes the
		// secret again.
		resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"ca_pem": env.fake.CACertPEM(), "client_secret": testSecret, "verify_connection": false})
		require.NoError(t, err)
		require.Nil(t, resp)
	}
	env.fake.AddMember(testChain, testMember, "SENTINEL-member-password")
	env.signIn(t)
	if fk.tls {
		resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"ca_pem": "", "client_secret": testSecret, "verify_connection": false})
		require.NoError(t, err)
		require.Nil(t, resp)
	}
	env.clock.Advance(2 * time.Minute) // the access token has expired
	inject(env, fk, "refresh_token", target)

	start := time.Now()
	resp, err := env.request(logical.ReadOperation, credPath, nil)
	require.Less(t, time.Since(start), 8*time.Second, "bounded")
	if fk.credWant == "" {
		require.NoError(t, err)
		require.False(t, resp.IsError(), "%v", resp.Error())
		require.True(t, env.fake.AccessTokenValid(resp.Data["access_token"].(string)))
	} else {
		msg := ""
		if err != nil {
			msg = err.Error()
		} else {
			require.True(t, resp.IsError())
			msg = resp.Error().Error()
		}
		require.Contains(t, msg, fk.credWant)
		for _, rt := range env.fake.IssuedRefreshTokens() {
			require.NotContains(t, msg, rt)
		}
	}
	require.Equal(t, string(fk.credState), env.credStatus(t)["state"])

	// No refresh token was ever sent twice.
	seen := map[string]bool{}
	for _, r := range env.fake.Requests() {
		if r.GrantType == "refresh_token" {
			rt := r.Form.Get("refresh_token")
			require.False(t, seen[rt], "refresh token sent twice")
			if r.Status != http.StatusTooManyRequests { // refused unprocessed: not spent
				seen[rt] = true
			}
		}
	}
	// An active credential still works once Resamania is well again: no grant was lost.
	if fk.credState == credActive {
		env.fake.ClearFaults()
		if fk.tls {
			resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"ca_pem": env.fake.CACertPEM(), "client_secret": testSecret, "verify_connection": false})
			require.NoError(t, err)
			require.Nil(t, resp)
		}
		env.clock.Advance(2 * time.Hour) // past any lifetime a faulty answer claimed
		require.True(t, env.fake.AccessTokenValid(env.readCred(t).Data["access_token"].(string)))
	}
	require.Zero(t, target.reached.Load(), "a refresh token was sent to a redirect target")
	requireNoGoroutineLeft(t, env, target, leaks)
}

// requireNoGoroutineLeft: once the mount is cleaned and the servers closed,
// no goroutine is left of those the test started.
func requireNoGoroutineLeft(t *testing.T, env *testEnv, target *redirectTarget, leaks goleak.Option) {
	env.b.clean(t.Context())
	env.fake.Close()
	target.srv.Close()
	goleak.VerifyNone(t, leaks)
}
