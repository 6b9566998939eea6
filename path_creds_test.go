package resamania

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

const (
	testRedirect = "https://app.example/callback"
	testMember   = "alice"
	credPath     = "creds/" + testChain + "/" + testMember
)

// getCredsBackend is a configured chain whose client may use the code flow,
// with testRedirect allowed unless extraConfig says otherwise, and access
// tokens that live accessLife seconds.
func getCredsBackend(t *testing.T, accessLife int, extraConfig map[string]any) *testEnv {
	env := getTestBackend(t)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: accessLife, RedirectURIs: []string{testRedirect}})
	env.fake.AddMember(testChain, testMember, "SENTINEL-member-password")
	config := map[string]any{"allowed_redirect_uris": testRedirect}
	maps.Copy(config, extraConfig)
	env.configure(config)
	return env
}

// signIn runs the whole sign-in: login URL from the plugin, the fake's login
// redirect carrying the code, and the code written back to the plugin.
func (e *testEnv) signIn(t *testing.T) *logical.Response {
	t.Helper()
	loginURL, state := e.issueState(t, testMember, testRedirect)
	code, backState, err := e.fake.SignInAsMember(loginURL, testMember, "SENTINEL-member-password")
	require.NoError(t, err)
	require.Equal(t, state, backState)

	resp, err := e.request(logical.CreateOperation, credPath, map[string]any{"code": code, "redirect_uri": testRedirect, "state": state})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	return resp
}

// codeWrite is the data of a code's write for name, with a state issued for
// that name.
func (e *testEnv) codeWrite(t *testing.T, name, code string) map[string]any {
	t.Helper()
	_, state := e.issueState(t, name, testRedirect)
	return map[string]any{"code": code, "redirect_uri": testRedirect, "state": state}
}

// refreshTokenFromFake gets a refresh token the way an app would have, outside the plugin.
func (e *testEnv) refreshTokenFromFake(t *testing.T) string {
	t.Helper()
	code := e.fake.IssueCode(testChain, testClientID, testRedirect, testMember)
	resp, err := http.PostForm(e.fake.TokenURL(testChain), url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect},
		"client_id": {testClientID}, "client_secret": {testSecret},
	})
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.NotEmpty(t, body.RefreshToken)
	return body.RefreshToken
}

func (e *testEnv) readCred(t *testing.T) *logical.Response {
	t.Helper()
	resp, err := e.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	return resp
}

func (e *testEnv) credStatus(t *testing.T) map[string]any {
	t.Helper()
	resp, err := e.request(logical.ReadOperation, credPath+"/status", nil)
	require.NoError(t, err)
	require.NotNil(t, resp)
	return resp.Data
}

func TestAuthCodeURLIsTheDocumentedOne(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	resp, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect, "scope": "profile"})
	require.NoError(t, err)
	schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route("auth-code-url/"+testChain), logical.UpdateOperation), resp, true)
	state := resp.Data["state"].(string)
	require.GreaterOrEqual(t, len(state), 43, "a generated state is 256 random bits")
	want := env.fake.URL() + "/" + testChain + "/oauth/login?response_type=code&client_id=" + testClientID +
		"&redirect_uri=" + url.QueryEscape(testRedirect) + "&state=" + url.QueryEscape(state) + "&scope=profile"
	require.Equal(t, want, resp.Data["url"])

	for _, bad := range []map[string]any{{}, {"name": testMember}, {"name": testMember, "redirect_uri": "not a uri"}, {"name": testMember, "redirect_uri": "https://app.example/cb#frag"}, {"name": testMember, "redirect_uri": testRedirect, "scope": `a"b`}} {
		resp, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, bad)
		require.NoError(t, err)
		require.True(t, resp.IsError(), "%v", bad)
	}
}

func TestSignInFlowThenRefreshAfterExpiry(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	status := env.signIn(t).Data
	require.Equal(t, "active", status["state"])

	first := env.readCred(t)
	tok := first.Data["access_token"].(string)
	require.True(t, env.fake.AccessTokenValid(tok))
	require.NotNil(t, first.Secret)
	require.Equal(t, 54*time.Second, first.Secret.TTL, "lease: 60s less a tenth")
	for _, v := range first.Data {
		for _, rt := range env.fake.IssuedRefreshTokens() {
			require.NotEqual(t, rt, v, "the refresh token is never returned")
		}
	}
	require.Equal(t, tok, env.readCred(t).Data["access_token"])
	require.Zero(t, env.fake.TokenRequests(testChain, "refresh_token"))

	env.clock.Advance(50 * time.Second)
	second := env.readCred(t)
	require.NotEqual(t, tok, second.Data["access_token"])
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))

	st := env.credStatus(t)
	require.Equal(t, 1, st["refreshes"])
	require.Equal(t, env.clock.Now().Format(time.RFC3339), st["last_refreshed_at"])
	raw, _ := json.Marshal(st)
	for _, s := range append(env.fake.IssuedRefreshTokens(), env.fake.IssuedAccessTokens()...) {
		require.NotContains(t, string(raw), s, "status carries no secret")
	}

	list, err := env.request(logical.ListOperation, "creds/"+testChain+"/", nil)
	require.NoError(t, err)
	require.Equal(t, []string{testMember}, list.Data["keys"])
}

func TestCodeReuseAndBadStateAreClear400s(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	code := env.fake.IssueCode(testChain, testClientID, testRedirect, testMember)
	resp, err := env.request(logical.CreateOperation, credPath, env.codeWrite(t, testMember, code))
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)

	resp, err = env.request(logical.UpdateOperation, "creds/"+testChain+"/bob", env.codeWrite(t, "bob", code))
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "invalid, expired or already used")
	require.Contains(t, resp.Error().Error(), "sign in again")
	require.NotContains(t, resp.Error().Error(), code)

	resp, err = env.request(logical.UpdateOperation, "creds/"+testChain+"/bob", map[string]any{"code": "x", "redirect_uri": testRedirect, "state": "never-issued"})
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "state is unknown, expired or already used")
	before := env.dumpStorage()

	for _, bad := range []map[string]any{
		{},
		{"code": "c"},
		{"code": "c", "refresh_token": "r", "redirect_uri": testRedirect},
		{"code": "c", "redirect_uri": "https://x/#f"},
		{"code": "c", "redirect_uri": testRedirect},
		{"refresh_token": strings.Repeat("r", 5000)},
		{"refresh_token": "r", "bogus": "1"},
	} {
		resp, err := env.request(logical.UpdateOperation, "creds/"+testChain+"/bob", bad)
		require.NoError(t, err)
		require.True(t, resp.IsError(), "%v", bad)
		require.Equal(t, before, env.dumpStorage())
	}
}

func TestImportRefreshTokenRotatesIt(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	imported := env.refreshTokenFromFake(t)
	resp, err := env.request(logical.CreateOperation, credPath, map[string]any{"refresh_token": imported})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"), "proved at once")

	c, err := getCredential(t.Context(), env.storage, credKey(testChain, testMember))
	require.NoError(t, err)
	require.NotEqual(t, imported, c.RefreshToken, "stored the rotated token, not the spent one")
	require.True(t, env.fake.AccessTokenValid(env.readCred(t).Data["access_token"].(string)))

	// Importing a spent token is a 400 that stores nothing.
	resp, err = env.request(logical.CreateOperation, "creds/"+testChain+"/bob", map[string]any{"refresh_token": imported})
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "refresh token is invalid, expired or already used")
	entry, err := env.storage.Get(t.Context(), credKey(testChain, "bob"))
	require.NoError(t, err)
	require.Nil(t, entry)
}

func TestConcurrentReadsOfExpiredCredentialRefreshOnce(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.signIn(t)
	env.readCred(t)
	env.clock.Advance(2 * time.Minute) // expired
	env.fake.InjectFault(fakeresamania.Fault{Delay: 100 * time.Millisecond, Count: 1, GrantType: "refresh_token"})

	var wg sync.WaitGroup
	tokens := make([]string, 500)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := env.request(logical.ReadOperation, credPath, nil)
			if err == nil && resp != nil && !resp.IsError() {
				tokens[i] = resp.Data["access_token"].(string)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))
	for _, tok := range tokens {
		require.Equal(t, tokens[0], tok)
	}
	require.True(t, env.fake.AccessTokenValid(tokens[0]))
}

// TestRotatedTokenSurvivesStorageFailure: storage commits the fence, then
// fails (the quorum is lost in the window): the refresh was sent, so its new
// refresh token is held in memory, and its new access token serves.
func TestRotatedTokenSurvivesStorageFailure(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.signIn(t)
	env.clock.Advance(2 * time.Minute)
	q := newQuorumStorage(env.storage)
	env.storage = q

	q.lose(1) // the fence commits, the answer does not
	resp, err := env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err, "no error while the plugin holds a valid new token")
	require.False(t, resp.IsError(), "%v", resp)
	held := resp.Data["access_token"].(string)
	require.True(t, env.fake.AccessTokenValid(held))
	require.Len(t, resp.Warnings, 1)
	require.Contains(t, resp.Warnings[0], "held in memory")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))
	require.Equal(t, true, env.credStatus(t)["unsaved"])

	// Past its refresh point, the held token still serves, with a warning;
	// nothing is sent: neither the held refresh token (it could be lost)
	// nor its spent predecessor.
	env.clock.Advance(45 * time.Second)
	resp, err = env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.Equal(t, held, resp.Data["access_token"])
	require.NotEmpty(t, resp.Warnings)
	require.Contains(t, resp.Warnings[0], "held in memory")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))

	// Expired: a 503 that says so.
	env.clock.Advance(time.Minute)
	_, err = env.request(logical.ReadOperation, credPath, nil)
	require.ErrorContains(t, err, "held in memory")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))

	q.regain()
	resp = env.readCred(t)
	require.True(t, env.fake.AccessTokenValid(resp.Data["access_token"].(string)))
	require.Equal(t, 2, env.fake.TokenRequests(testChain, "refresh_token"))
	for _, r := range env.fake.Requests() {
		require.NotEqual(t, 400, r.Status, "no spent refresh token was ever sent")
	}
	require.Equal(t, false, env.credStatus(t)["unsaved"])
}

func TestInvalidGrantMarksSignInRequired(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.signIn(t)
	env.clock.Advance(2 * time.Minute)
	env.fake.ExpireRefreshTokens(testChain)

	resp, err := env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "needs the member to sign in again")
	st := env.credStatus(t)
	require.Equal(t, "sign_in_required", st["state"])
	require.Contains(t, st["state_reason"], "invalid_grant")

	// Kept, not deleted, and no further upstream calls while it waits.
	n := env.fake.TokenRequests(testChain, "")
	resp, err = env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Equal(t, n, env.fake.TokenRequests(testChain, ""))

	env.signIn(t) // a new sign-in brings it back
	require.Equal(t, "active", env.credStatus(t)["state"])
	env.readCred(t)
}

func TestLostRefreshAnswerIsUncertainNotRetried(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.signIn(t)
	env.clock.Advance(2 * time.Minute)
	env.fake.InjectFault(fakeresamania.Fault{Reset: true, AfterProcessing: true, Count: 1, GrantType: "refresh_token"})

	_, err := env.request(logical.ReadOperation, credPath, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "answer to its last refresh was lost")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"), "never retried blindly")
	require.Equal(t, "uncertain", env.credStatus(t)["state"])

	resp, err := env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError(), "a 4xx naming the fix, not a loop")
	require.Contains(t, resp.Error().Error(), "sign in again")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))
}

func TestCredentialSurvivesReload(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.signIn(t)
	env.readCred(t)
	reloadBackend(t, env)
	env.clock.Advance(2 * time.Minute)
	require.True(t, env.fake.AccessTokenValid(env.readCred(t).Data["access_token"].(string)))
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))
}

// TestLostAnswerStateIsHeldWhenStorageFails: a refresh whose answer was lost
// marks the credential uncertain; when storage refuses that state, it is held
// in memory like a rotated token, so no later read sends the refresh token
// that may be spent, and the state is stored once storage is back.
func TestLostAnswerStateIsHeldWhenStorageFails(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.signIn(t)
	env.clock.Advance(2 * time.Minute)
	env.fake.InjectFault(fakeresamania.Fault{Reset: true, AfterProcessing: true, Count: 1, GrantType: "refresh_token"})
	q := newQuorumStorage(env.storage)
	env.storage = q
	q.lose(1) // the fence commits, the state does not

	_, err := env.request(logical.ReadOperation, credPath, nil)
	require.ErrorContains(t, err, "answer to its last refresh was lost")
	st := env.credStatus(t)
	require.Equal(t, "uncertain", st["state"])
	require.Equal(t, true, st["unsaved"])

	env.clock.Advance(2 * time.Minute)
	_, err = env.request(logical.ReadOperation, credPath, nil)
	require.Error(t, err, "still not stored: the read fails")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"), "and sends nothing")

	q.regain()
	resp, err := env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "sign in again")
	require.Equal(t, false, env.credStatus(t)["unsaved"])
	stored, err := getCredential(t.Context(), env.storage, credKey(testChain, testMember))
	require.NoError(t, err)
	require.Equal(t, credUncertain, stored.State, "the state reached storage")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"), "the possibly spent refresh token was never sent again")
}
