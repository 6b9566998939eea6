package resamania

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
)

const (
	testEmail   = "SENTINEL-bob@club.example"
	contactPath = "contacts/" + testChain + "/bob"
	clubPath    = "token/" + testChain + "/clubs/12"
)

// getScopedBackend is a configured chain whose client may use both extension
// grants, with clubs 12 and 13 and the member testEmail known to Resamania.
// The email joins the values that must never be logged.
func getScopedBackend(t *testing.T, extraConfig map[string]any) *testEnv {
	env := getTestBackend(t)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret,
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials}})
	env.fake.AddClub(testChain, 12)
	env.fake.AddClub(testChain, 13)
	env.fake.AddMember(testChain, testEmail, "pw")
	env.configure(extraConfig)
	t.Cleanup(func() { testsupport.AssertNoSecret(t, "the backend's log", env.logs.String(), []string{testEmail}) })
	return env
}

func (e *testEnv) mustRead(t *testing.T, path string) *logical.Response {
	t.Helper()
	resp, err := e.request(logical.ReadOperation, path, nil)
	require.NoError(t, err)
	require.NotNil(t, resp, path)
	require.False(t, resp.IsError(), "%s: %v", path, resp.Error())
	return resp
}

func TestClubTokenIsCachedPerClub(t *testing.T) {
	env := getScopedBackend(t, nil)
	first := env.mustRead(t, clubPath)
	require.True(t, env.fake.AccessTokenValid(first.Data["access_token"].(string)))
	require.Equal(t, "/"+testChain+"/clubs/12", first.Data["club_id"], "the club's IRI, for x-user-club-id")
	require.Equal(t, env.fake.URL(), first.Data["api_base_url"])
	require.NotContains(t, first.Data, "api_key", "not shared unless the chain says so")
	require.NotNil(t, first.Secret)
	require.Equal(t, 3540*time.Second, first.Secret.TTL)

	require.Equal(t, first.Data["access_token"], env.mustRead(t, clubPath).Data["access_token"])
	require.Equal(t, 1, env.fake.TokenRequests(testChain, fakeresamania.GrantClubCredentials), "the second read is cached")

	other := env.mustRead(t, "token/"+testChain+"/clubs/13")
	require.NotEqual(t, first.Data["access_token"], other.Data["access_token"], "one token per club")
	require.Equal(t, 2, env.fake.TokenRequests(testChain, fakeresamania.GrantClubCredentials))
	require.NotEqual(t, first.Data["access_token"], env.mustRead(t, "token/"+testChain).Data["access_token"], "nor the chain's token")

	// The answers' refresh tokens were never kept.
	stored := strings.Join(mapValues(env.dumpStorage()), "\n")
	for _, rt := range env.fake.IssuedRefreshTokens() {
		require.NotContains(t, stored, rt)
	}
}

func TestUnknownClubIsA400NamingIt(t *testing.T) {
	env := getScopedBackend(t, nil)
	resp, err := env.request(logical.ReadOperation, "token/"+testChain+"/clubs/99", nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "does not know club 99")
	require.Contains(t, resp.Error().Error(), "check club_id")

	for _, bad := range []string{"0", "012"} {
		resp, err := env.request(logical.ReadOperation, "token/"+testChain+"/clubs/"+bad, nil)
		require.NoError(t, err)
		require.True(t, resp.IsError(), bad)
	}
	require.Equal(t, 1, env.fake.TokenRequests(testChain, fakeresamania.GrantClubCredentials), "bad numbers never reach Resamania")
}

func TestGrantNotEnabledSaysSo(t *testing.T) {
	env := getTestBackend(t) // the default client may not use the extension grants
	env.configure(nil)
	_, err := env.request(logical.ReadOperation, clubPath, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "unauthorized_client")
	require.Contains(t, err.Error(), "ask Resamania to enable the http://clubclientcredentials grant")
	require.Equal(t, 502, err.(logical.HTTPCodedError).Code())
}

func TestContactTokenNeverShowsTheEmail(t *testing.T) {
	env := getScopedBackend(t, nil)
	resp, err := env.request(logical.ReadOperation, "token/"+testChain+"/contacts/bob", nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "write contacts/mychain/bob")

	for _, bad := range []string{"", "not-an-email", "Bob <bob@x.example>", "a@b.example, c@d.example"} {
		resp, err := env.request(logical.CreateOperation, contactPath, map[string]any{"email": bad})
		require.NoError(t, err)
		require.True(t, resp.IsError(), bad)
		require.NotContains(t, resp.Error().Error(), "x.example")
	}
	_, err = env.request(logical.CreateOperation, contactPath, map[string]any{"email": testEmail})
	require.NoError(t, err)
	require.Equal(t, testEmail, env.mustRead(t, contactPath).Data["email"])

	tok := env.mustRead(t, "token/"+testChain+"/contacts/bob")
	require.True(t, env.fake.AccessTokenValid(tok.Data["access_token"].(string)))
	require.Equal(t, tok.Data["access_token"], env.mustRead(t, "token/"+testChain+"/contacts/bob").Data["access_token"])
	require.Equal(t, 1, env.fake.TokenRequests(testChain, fakeresamania.GrantContactCredentials))

	// An email Resamania does not know: a 400 that names the contact, not the email.
	_, err = env.request(logical.UpdateOperation, "contacts/"+testChain+"/carol", map[string]any{"email": "SENTINEL-carol@club.example"})
	require.NoError(t, err)
	resp, err = env.request(logical.ReadOperation, "token/"+testChain+"/contacts/carol", nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), `contact "carol"`)
	require.NotContains(t, resp.Error().Error(), "SENTINEL-carol")
	require.NotContains(t, env.logs.String(), "SENTINEL-carol")

	list, err := env.request(logical.ListOperation, "contacts/"+testChain+"/", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"bob", "carol"}, list.Data["keys"])
}

func TestContactChangeDropsItsToken(t *testing.T) {
	env := getScopedBackend(t, nil)
	env.fake.AddMember(testChain, "SENTINEL-bob2@club.example", "pw")
	_, err := env.request(logical.CreateOperation, contactPath, map[string]any{"email": testEmail})
	require.NoError(t, err)
	first := env.mustRead(t, "token/"+testChain+"/contacts/bob").Data["access_token"]

	_, err = env.request(logical.UpdateOperation, contactPath, map[string]any{"email": "SENTINEL-bob2@club.example"})
	require.NoError(t, err)
	second := env.mustRead(t, "token/"+testChain+"/contacts/bob").Data["access_token"]
	require.NotEqual(t, first, second, "a new email, a new token")
	require.Equal(t, "SENTINEL-bob2@club.example", env.fake.Requests()[len(env.fake.Requests())-1].Form.Get("email"))

	_, err = env.request(logical.DeleteOperation, contactPath, nil)
	require.NoError(t, err)
	resp, err := env.request(logical.ReadOperation, "token/"+testChain+"/contacts/bob", nil)
	require.NoError(t, err)
	require.True(t, resp.IsError(), "no token once the contact is gone")
	entry, err := env.storage.Get(t.Context(), contactTokenStoragePrefix+testChain+"/bob")
	require.NoError(t, err)
	require.Nil(t, entry, "its stored token is gone too")
}

func TestConfigChangeDropsScopedTokens(t *testing.T) {
	env := getScopedBackend(t, nil)
	first := env.mustRead(t, clubPath).Data["access_token"]
	env.configure(map[string]any{"scope": "read"})
	second := env.mustRead(t, clubPath).Data["access_token"]
	require.NotEqual(t, first, second, "minted again with the new config")

	// A setting that does not change minting keeps the token: it is read
	// back from storage, not minted again.
	env.configure(map[string]any{"request_timeout": "20s", "share_api_key": true})
	require.Equal(t, second, env.mustRead(t, clubPath).Data["access_token"])
	require.Equal(t, 2, env.fake.TokenRequests(testChain, fakeresamania.GrantClubCredentials))

	// A reload finds the stored token, minted with the current config: kept.
	reloadBackend(t, env)
	require.Equal(t, second, env.mustRead(t, clubPath).Data["access_token"])

	// A token stored under an older config is never loaded, even after a reload.
	require.NoError(t, putChainConfig(t.Context(), env.storage, testChain, &chainConfig{APIBaseURL: env.fake.URL(), ClientID: testClientID, ClientSecret: testSecret, RequestTimeout: time.Second}))
	reloadBackend(t, env)
	require.NotEqual(t, second, env.mustRead(t, clubPath).Data["access_token"])

	_, err := env.request(logical.DeleteOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	keys, err := env.storage.List(t.Context(), clubTokenStoragePrefix+testChain+"/")
	require.NoError(t, err)
	require.Empty(t, keys, "a deleted chain leaves no scoped token behind")
}

// TestShareAPIKeyReturnsTheGatewayKeyOnChainTokenReadsOnly: share_api_key
// hands the gateway key, which every chain on it shares, to readers of the
// chain's own token; a member's app (creds/), a club's or a contact's token
// reader never gets it.
func TestShareAPIKeyReturnsTheGatewayKeyOnChainTokenReadsOnly(t *testing.T) {
	env := getScopedBackend(t, map[string]any{"api_key": testAPIKey, "allowed_redirect_uris": testRedirect})
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, RedirectURIs: []string{testRedirect},
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials, fakeresamania.GrantAuthorizationCode, fakeresamania.GrantRefreshToken}})
	env.fake.AddMember(testChain, testMember, "SENTINEL-member-password")
	resp, err := env.request(logical.CreateOperation, contactPath, map[string]any{"email": testEmail})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	env.signIn(t)
	others := []string{clubPath, "token/" + testChain + "/contacts/bob", credPath}

	for _, path := range append([]string{"token/" + testChain}, others...) {
		require.NotContains(t, env.mustRead(t, path).Data, "api_key", path)
	}
	env.configure(map[string]any{"share_api_key": true, "api_key": testAPIKey})
	require.Equal(t, true, env.mustRead(t, "config/"+testChain).Data["share_api_key"])
	require.Equal(t, testAPIKey, env.mustRead(t, "token/"+testChain).Data["api_key"])
	for _, path := range others {
		assert.NotContains(t, env.mustRead(t, path).Data, "api_key", path)
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
