package resamania

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// getChainWithEverything is a chain with a signed-in member, a contact and
// its token, a club token and a pending sign-in: all that a deletion takes.
func getChainWithEverything(t *testing.T) *testEnv {
	env := getTestBackend(t)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, RedirectURIs: []string{testRedirect},
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantAuthorizationCode, fakeresamania.GrantRefreshToken,
			fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials}})
	env.fake.AddMember(testChain, testMember, "SENTINEL-member-password")
	env.fake.AddMember(testChain, testEmail, "pw")
	env.fake.AddClub(testChain, 12)
	env.configure(map[string]any{"allowed_redirect_uris": testRedirect})
	env.signIn(t)
	resp, err := env.request(logical.UpdateOperation, contactPath, map[string]any{"email": testEmail})
	require.NoError(t, err)
	require.Nil(t, resp)
	env.mustRead(t, "token/"+testChain)
	env.mustRead(t, "token/"+testChain+"/contacts/bob")
	env.mustRead(t, "token/"+testChain+"/clubs/12")
	env.mustRead(t, credPath)
	resp, err = env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect})
	require.NoError(t, err)
	require.False(t, resp.IsError())
	return env
}

func TestDeletingAChainTakesEverythingWithIt(t *testing.T) {
	env := getChainWithEverything(t)
	for _, prefix := range []string{configStoragePrefix, tokenStoragePrefix, clubTokenStoragePrefix, contactTokenStoragePrefix, contactsStoragePrefix, credsStoragePrefix, authStateStoragePrefix} {
		require.True(t, hasKeyUnder(env.dumpStorage(), prefix), "set up: something under %s", prefix)
	}

	resp, err := env.request(logical.DeleteOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route("config/"+testChain), logical.DeleteOperation), resp, true)
	require.Equal(t, []string{`deleted with chain "mychain": 1 member credential(s) and 1 contact(s); members must sign in again if the chain is configured again`}, resp.Warnings)
	require.Empty(t, env.dumpStorage(), "nothing is left in storage")
	require.Zero(t, env.b.tokens.cachedCount(), "nor in memory")

	env.configure(nil)
	resp, err = env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "no credential")
	resp, err = env.request(logical.ReadOperation, contactPath, nil)
	require.NoError(t, err)
	require.Nil(t, resp, "the contact is gone too")

	resp, err = env.request(logical.DeleteOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	require.Nil(t, resp, "a chain with nothing under it: no warning")
}

// TestDeleteLetsARefreshUnderWayFinishAndWritesNothingBack: a member's refresh
// in flight when the chain is deleted ends first; its new refresh token is
// not written back afterwards.
func TestDeleteLetsARefreshUnderWayFinishAndWritesNothingBack(t *testing.T) {
	env := getChainWithEverything(t)
	env.fake.InjectFault(fakeresamania.Fault{GrantType: fakeresamania.GrantRefreshToken, Delay: 300 * time.Millisecond, AfterProcessing: true, Count: 1})
	refreshes := env.fake.TokenRequests(testChain, fakeresamania.GrantRefreshToken)
	env.clock.Advance(50 * time.Minute) // the member's token has 10 minutes left
	type result struct {
		resp *logical.Response
		err  error
	}
	read := make(chan result, 1)
	go func() {
		resp, err := env.request(logical.ReadOperation, credPath, map[string]any{"minimum_seconds": 1800})
		read <- result{resp, err}
	}()
	require.Eventually(t, func() bool { return env.fake.TokenRequests(testChain, fakeresamania.GrantRefreshToken) > refreshes }, 5*time.Second, 5*time.Millisecond)
	resp, err := env.request(logical.DeleteOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	require.Len(t, resp.Warnings, 1)
	r := <-read
	require.NoError(t, r.err)
	require.False(t, r.resp.IsError(), "the read whose refresh was under way gets its token: %v", r.resp)
	minted := r.resp.Data["access_token"].(string)
	issued := env.fake.IssuedAccessTokens()
	require.Equal(t, issued[len(issued)-1], minted, "the token the refresh brought back")
	require.True(t, env.fake.AccessTokenValid(minted))
	require.Equal(t, refreshes+1, env.fake.TokenRequests(testChain, fakeresamania.GrantRefreshToken), "one refresh, not retried")
	require.Empty(t, env.dumpStorage(), "the refresh wrote nothing back")
}

func TestEntriesLeftByAnEarlierVersionAreRemovedOnStart(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil) // a live chain: its entries stay
	keep := map[string]string{
		credKey(testChain, "alice"):                    `{"refresh_token":"x"}`,
		contactKey(testChain, "bob"):                   `{"email":"SENTINEL-bob@club.example"}`,
		clubTokenStoragePrefix + testChain + "/12":     `{}`,
		authStateStoragePrefix + testChain + "/00aa11": `{}`,
	}
	// What the previous release left when it deleted chain "gone": its config
	// and cached token went, the rest stayed.
	left := map[string]string{
		credKey("gone", "alice"):               `{"refresh_token":"x"}`,
		credKey("gone", "carol"):               `{"refresh_token":"y"}`,
		contactKey("gone", "bob"):              `{"email":"SENTINEL-bob@club.example"}`,
		clubTokenStoragePrefix + "gone/12":     `{}`,
		contactTokenStoragePrefix + "gone/bob": `{}`,
		authStateStoragePrefix + "gone/00aa11": `{}`,
		tokenStoragePrefix + "gone":            `{}`,
	}
	for _, entries := range []map[string]string{keep, left} {
		for k, v := range entries {
			require.NoError(t, env.storage.Put(t.Context(), &logical.StorageEntry{Key: k, Value: []byte(v)}))
		}
	}

	reloadBackend(t, env) // the new version starts on the old storage
	stored := env.dumpStorage()
	for k := range left {
		require.NotContains(t, stored, k)
	}
	for k := range keep {
		require.Contains(t, stored, k)
	}
	require.Contains(t, env.logs.String(), "removed entries that an earlier version left behind for chains deleted since: entries=7")

	before := env.logs.String()
	reloadBackend(t, env)
	require.NotContains(t, strings.TrimPrefix(env.logs.String(), before), "removed entries", "once: nothing is left the next time")
}

func hasKeyUnder(stored map[string]string, prefix string) bool {
	for k := range stored {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
