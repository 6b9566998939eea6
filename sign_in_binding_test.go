package resamania

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// A sign-in is bound to its member: the state auth-code-url issues names the
// credential it may be written to, the chain and the redirect_uri, and a
// code write needs it. These tests play a login CSRF: Mallory's code and
// state delivered to Alice's callback.

const mallory = "mallory"

// issueState starts a sign-in for the credential name and returns the
// login URL and the state.
func (e *testEnv) issueState(t *testing.T, name, redirectURI string) (loginURL, state string) {
	t.Helper()
	resp, err := e.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": name, "redirect_uri": redirectURI})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	return resp.Data["url"].(string), resp.Data["state"].(string)
}

// requireStartAgain: a refused sign-in is a 400 that says what to do and
// quotes no secret.
func requireStartAgain(t *testing.T, resp *logical.Response, err error, secrets ...string) {
	t.Helper()
	require.NoError(t, err)
	require.True(t, resp.IsError(), "%v", resp)
	msg := resp.Error().Error()
	require.Contains(t, msg, "start the sign-in again")
	for _, s := range secrets {
		require.NotContains(t, msg, s)
	}
}

func TestAuthCodeURLTakesTheCredentialName(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	for _, tc := range []struct {
		data map[string]any
		want string
	}{
		{map[string]any{"redirect_uri": testRedirect}, "name is required"},
		{map[string]any{"name": "+", "redirect_uri": testRedirect}, `name "+" is not valid`},
		{map[string]any{"name": "a/b", "redirect_uri": testRedirect}, `name "a/b" is not valid`},
	} {
		resp, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, tc.data)
		require.NoError(t, err)
		require.True(t, resp.IsError(), "%v", tc.data)
		require.Contains(t, resp.Error().Error(), tc.want)
	}
	resp, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route("auth-code-url/"+testChain), logical.UpdateOperation), resp, true)
	require.Equal(t, testMember, resp.Data["name"])
}

func TestAuthCodeURLRefusesACallersState(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	before := env.dumpStorage()
	resp, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect, "state": "chosen-by-the-caller"})
	require.NoError(t, err)
	require.True(t, resp.IsError(), "%v", resp)
	require.Contains(t, resp.Error().Error(), "the plugin issues the state")
	require.Equal(t, before, env.dumpStorage(), "no state stored")
}

func TestCodeWriteNeedsAState(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	env.fake.AddMember(testChain, mallory, "SENTINEL-mallory-password")
	code := env.fake.IssueCode(testChain, testClientID, testRedirect, mallory)
	resp, err := env.request(logical.CreateOperation, credPath, map[string]any{"code": code, "redirect_uri": testRedirect})
	require.NoError(t, err)
	require.True(t, resp.IsError(), "a code without a state is refused: %v", resp)
	require.Contains(t, resp.Error().Error(), "state is required with code")
	require.NotContains(t, resp.Error().Error(), code)
	require.Zero(t, env.fake.TokenRequests(testChain, "authorization_code"), "the code is not sent")
}

// Mallory signs in for herself; her code and state, delivered to Alice's
// callback, are refused for Alice's credential and leave Alice's alone.
func TestLoginCSRFWithAnotherMembersStateIsRefused(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	env.fake.AddMember(testChain, mallory, "SENTINEL-mallory-password")
	loginURL, state := env.issueState(t, mallory, testRedirect)
	code, back, err := env.fake.SignInAsMember(loginURL, mallory, "SENTINEL-mallory-password")
	require.NoError(t, err)
	require.Equal(t, state, back)

	resp, err := env.request(logical.CreateOperation, credPath, map[string]any{"code": code, "redirect_uri": testRedirect, "state": state})
	requireStartAgain(t, resp, err, code, state)
	entry, err := env.storage.Get(t.Context(), credKey(testChain, testMember))
	require.NoError(t, err)
	require.Nil(t, entry, "no credential for alice")
	require.Zero(t, env.fake.TokenRequests(testChain, "authorization_code"), "Mallory's code is never exchanged")

	// Mallory's own sign-in still works, once.
	resp, err = env.request(logical.CreateOperation, "creds/"+testChain+"/"+mallory, map[string]any{"code": code, "redirect_uri": testRedirect, "state": state})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	resp, err = env.request(logical.UpdateOperation, "creds/"+testChain+"/"+mallory, map[string]any{"code": code, "redirect_uri": testRedirect, "state": state})
	require.NoError(t, err)
	require.True(t, resp.IsError(), "a state is consumed once")
	require.Contains(t, resp.Error().Error(), "state is unknown, expired or already used")
}

func TestStateIsBoundToItsRedirectURIAndChain(t *testing.T) {
	const other = "https://app.example/other-callback"
	env := getCredsBackend(t, 3600, map[string]any{"allowed_redirect_uris": testRedirect + "," + other})
	env.fake.AddClient(fakeresamania.Client{ClientToken: "otherchain", ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: 3600, RedirectURIs: []string{testRedirect}})
	resp, err := env.request(logical.CreateOperation, "config/otherchain", map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret, "verify_connection": false, "allowed_redirect_uris": testRedirect})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)

	_, state := env.issueState(t, testMember, testRedirect)
	resp, err = env.request(logical.CreateOperation, credPath, map[string]any{"code": "c", "redirect_uri": other, "state": state})
	requireStartAgain(t, resp, err, state)
	resp, err = env.request(logical.CreateOperation, "creds/otherchain/"+testMember, map[string]any{"code": "c", "redirect_uri": testRedirect, "state": state})
	requireStartAgain(t, resp, err, state)
	require.Zero(t, env.fake.TokenRequests("", "authorization_code"))
}

// A state stored before states named their credential is refused.
func TestStoredStateWithoutANameIsRefused(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	expires := env.clock.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	require.NoError(t, env.storage.Put(t.Context(), &logical.StorageEntry{
		Key:   authStateKey(testChain, "old-state"),
		Value: []byte(`{"redirect_uri":"` + testRedirect + `","expires_at":"` + expires + `"}`),
	}))
	code := env.fake.IssueCode(testChain, testClientID, testRedirect, testMember)
	resp, err := env.request(logical.CreateOperation, credPath, map[string]any{"code": code, "redirect_uri": testRedirect, "state": "old-state"})
	requireStartAgain(t, resp, err, code, "old-state")
	require.Zero(t, env.fake.TokenRequests(testChain, "authorization_code"))
}

func TestSignInsNeedAnAllowedRedirectURI(t *testing.T) {
	env := getCredsBackend(t, 3600, map[string]any{"allowed_redirect_uris": ""})
	const advice = "add it to allowed_redirect_uris in config/" + testChain
	for _, redirect := range []string{testRedirect, "https://evil.example/callback"} {
		resp, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": redirect})
		require.NoError(t, err)
		require.True(t, resp.IsError(), "empty list: %v", resp)
		require.Contains(t, resp.Error().Error(), advice)
	}
	// An import needs no redirect_uri, so no list.
	resp, err := env.request(logical.CreateOperation, "creds/"+testChain+"/bob", map[string]any{"refresh_token": env.refreshTokenFromFake(t)})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)

	exchanges := env.fake.TokenRequests(testChain, "authorization_code") // the app's own, for the import

	env.configure(map[string]any{"allowed_redirect_uris": " " + testRedirect + " "})
	_, state := env.issueState(t, testMember, testRedirect)
	resp, err = env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": "https://evil.example/callback"})
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), advice)

	// The list changed after the state was issued: the code write checks it too.
	env.configure(map[string]any{"allowed_redirect_uris": "https://app.example/new-callback"})
	code := env.fake.IssueCode(testChain, testClientID, testRedirect, testMember)
	resp, err = env.request(logical.CreateOperation, credPath, map[string]any{"code": code, "redirect_uri": testRedirect, "state": state})
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), advice)
	require.NotContains(t, resp.Error().Error(), code)
	require.Equal(t, exchanges, env.fake.TokenRequests(testChain, "authorization_code"), "the code is not sent")
}

func TestAllowedRedirectURIsAreChecked(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	for _, ok := range []string{"https://app.example/cb", "http://127.0.0.1:8080/cb", "http://localhost/cb", "http://[::1]:9000/cb", "com.example.app:/oauth2redirect"} {
		env.configure(map[string]any{"allowed_redirect_uris": ok})
		resp, err := env.request(logical.ReadOperation, "config/"+testChain, nil)
		require.NoError(t, err)
		require.Equal(t, []string{ok}, resp.Data["allowed_redirect_uris"])
	}
	for _, bad := range []string{"http://app.example/cb", "javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "myapp:/cb", "https://app.example/cb#f", "/cb", "https:///cb"} {
		resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"allowed_redirect_uris": bad})
		require.NoError(t, err)
		require.True(t, resp.IsError(), "%q", bad)
		require.Contains(t, resp.Error().Error(), "allowed_redirect_uris")
	}
}

// The list says nothing of how tokens are minted: changing it keeps the
// chain's token and sends nothing.
func TestAllowedRedirectURIsKeepTheChainsToken(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	tok := env.readToken(nil).Data["access_token"]
	mints := env.fake.TokenRequests(testChain, "")
	resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"allowed_redirect_uris": "https://app.example/other", "verify_connection": true})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	require.Equal(t, tok, env.readToken(nil).Data["access_token"])
	require.Equal(t, mints, env.fake.TokenRequests(testChain, ""))
}

func TestLiveAuthStatesAreCappedPerChain(t *testing.T) {
	const capacity = 1000
	env := getCredsBackend(t, 3600, nil)
	for i := range capacity {
		env.issueState(t, fmt.Sprintf("m%d", i), testRedirect)
	}
	_, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect})
	require.Error(t, err)
	coded, ok := err.(logical.HTTPCodedError)
	require.True(t, ok, "%v", err)
	require.Equal(t, http.StatusTooManyRequests, coded.Code())
	require.Contains(t, err.Error(), "1000 sign-ins")
	require.Contains(t, err.Error(), "expire")

	env.clock.Advance(authStateTTL + time.Second)
	env.tick(t)
	env.issueState(t, testMember, testRedirect)
}

// slowListStorage takes its time to list, as a remote storage does: long
// enough for concurrent callers to count the same keys.
type slowListStorage struct{ logical.Storage }

func (s slowListStorage) List(ctx context.Context, prefix string) ([]string, error) {
	time.Sleep(10 * time.Millisecond)
	return s.Storage.List(ctx, prefix)
}

// TestConcurrentSignInsCannotPassTheCap: 20 auth-code-url calls at once on
// a chain one state short of its cap issue exactly one state.
func TestConcurrentSignInsCannotPassTheCap(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	for i := range maxLiveAuthStates - 1 {
		env.issueState(t, fmt.Sprintf("m%d", i), testRedirect)
	}
	env.storage = slowListStorage{env.storage}
	var issued atomic.Int32
	var callers sync.WaitGroup
	for range 20 {
		callers.Go(func() {
			resp, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect})
			if err == nil && !resp.IsError() {
				issued.Add(1)
			}
		})
	}
	callers.Wait()
	require.Equal(t, int32(1), issued.Load())
	keys, err := env.storage.List(t.Context(), chainDir(authStateStoragePrefix, testChain))
	require.NoError(t, err)
	require.Len(t, keys, maxLiveAuthStates)
}

// The periodic function reads a bounded number of states per chain per tick,
// however many are stored, and still forgets them all in time.
func TestExpiringStatesReadsABoundedNumber(t *testing.T) {
	const stored, capacity = 3000, 1000
	s := &countingStorage{Storage: &logical.InmemStorage{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range stored {
		require.NoError(t, putJSON(t.Context(), s, authStateKey(testChain, fmt.Sprint(i)), "state", &authState{Name: testMember, RedirectURI: testRedirect, ExpiresAt: now}))
	}
	for tick := 1; tick <= stored/capacity; tick++ {
		s.reset()
		expireAuthStates(t.Context(), s, now.Add(time.Minute))
		require.LessOrEqual(t, s.gets.Load(), int64(capacity), "tick %d", tick)
	}
	left, err := s.List(t.Context(), chainDir(authStateStoragePrefix, testChain))
	require.NoError(t, err)
	require.Empty(t, left)
}

// TestCodeRefusedUnprocessedKeepsItsState: a code exchange that the gateway
// refuses with a 429 (Resamania never saw the code) gives its state back, so
// the app writes the same code and state again once the window ends; a code
// Resamania processed still spends it.
func TestCodeRefusedUnprocessedKeepsItsState(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	loginURL, state := env.issueState(t, testMember, testRedirect)
	code, _, err := env.fake.SignInAsMember(loginURL, testMember, "SENTINEL-member-password")
	require.NoError(t, err)
	write := map[string]any{"code": code, "redirect_uri": testRedirect, "state": state}

	env.fake.InjectFault(fakeresamania.Fault{Status: http.StatusTooManyRequests, ResetIn: time.Second, Count: 1, GrantType: "authorization_code"})
	_, err = env.request(logical.CreateOperation, credPath, write)
	require.Error(t, err)
	require.Contains(t, err.Error(), "Resamania did not process the code, so it and its state are unspent: write them again")
	require.NotContains(t, err.Error(), code)
	require.NotContains(t, err.Error(), state)

	env.clock.Advance(2 * time.Second)
	resp, err := env.request(logical.CreateOperation, credPath, write)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "the same code and state, once the gateway's window ended: %v", resp)
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "authorization_code"), "the gateway's 429 never reached Resamania")

	resp, err = env.request(logical.UpdateOperation, credPath, write)
	requireStartAgain(t, resp, err, code, state)
}
