package resamania

import (
	"net/http"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// writeConfig writes data to the chain's config as an operator would, with
// verify_connection left to its default.
func (e *testEnv) writeConfig(chain string, data map[string]any) (*logical.Response, error) {
	e.t.Helper()
	full := map[string]any{"api_base_url": e.fake.URL(), "client_id": testClientID, "client_secret": testSecret}
	for k, v := range data {
		full[k] = v
	}
	return e.request(logical.CreateOperation, "config/"+chain, full)
}

func TestVerifiedWritesTokenServesTheFirstRead(t *testing.T) {
	env := getTestBackend(t)
	resp, err := env.writeConfig(testChain, nil)
	require.NoError(t, err)
	require.Nil(t, resp)
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "client_credentials"), "the write minted one token")
	require.Equal(t, "ok", env.chainHealth(t)["health"], "the verification is the chain's last grant")

	read := env.readToken(nil)
	require.Equal(t, env.fake.IssuedAccessTokens()[0], read.Data["access_token"], "the verified token")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "client_credentials"), "the first read made no request")
	require.Equal(t, float64(1), env.tokenReads(t, readKindToken, readCache))
}

func TestWrongSecretIsRefusedOnWriteAndTheOldConfigServes(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"verify_connection": true})
	served := env.readToken(nil).Data["access_token"]
	before := env.dumpStorage()

	resp, err := env.writeConfig(testChain, map[string]any{"client_secret": "SENTINEL-wrong-secret-0a1b"})
	require.NoError(t, err)
	require.True(t, resp.IsError())
	msg := resp.Error().Error()
	require.Contains(t, msg, "Resamania rejected the request: invalid_client")
	require.Contains(t, msg, "check client_id and client_secret")
	require.Contains(t, msg, "Nothing was stored: the previous config, if any, stays in force")
	require.NotContains(t, msg, "SENTINEL-wrong-secret-0a1b")
	require.NotContains(t, msg, testSecret)
	require.Equal(t, before, env.dumpStorage(), "nothing changed")
	require.Equal(t, served, env.readToken(nil).Data["access_token"], "the old config and its token still serve")
}

func TestAnUpdateThatChangesNoMintingSettingSendsNothing(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"verify_connection": true})
	token := env.readToken(nil).Data["access_token"]
	requests := env.fake.TokenRequests("", "")

	resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"lease_mode": "renewable", "request_timeout": 20})
	require.NoError(t, err)
	require.Nil(t, resp)
	require.Equal(t, requests, env.fake.TokenRequests("", ""), "no request: tokens are minted as before")
	require.Equal(t, token, env.readToken(nil).Data["access_token"], "and the cached token stays")
}

func TestVerifyConnectionFalseStoresWithoutARequest(t *testing.T) {
	env := getTestBackend(t)
	resp, err := env.writeConfig(testChain, map[string]any{"client_secret": "SENTINEL-wrong-secret-0a1b", "verify_connection": false})
	require.NoError(t, err)
	require.Nil(t, resp)
	require.Zero(t, env.fake.TokenRequests("", ""))
	cfg, err := getChainConfig(t.Context(), env.storage, testChain)
	require.NoError(t, err)
	require.NotNil(t, cfg)
	require.NotContains(t, env.dumpStorage(), tokenStoragePrefix+testChain)
}

func TestVerifyFailureWhileResamaniaIsDownIsA503ThatSaysHowToStoreAnyway(t *testing.T) {
	env := getTestBackend(t)
	env.fake.InjectFault(fakeresamania.Fault{Status: http.StatusServiceUnavailable})
	resp, err := env.writeConfig(testChain, map[string]any{"request_timeout": "1s"})
	require.Nil(t, resp)
	coded, ok := err.(logical.HTTPCodedError)
	require.True(t, ok, "got %v", err)
	require.Equal(t, http.StatusServiceUnavailable, coded.Code())
	require.Contains(t, err.Error(), "Resamania is unavailable: HTTP 503")
	require.Contains(t, err.Error(), "write it again with verify_connection=false")
	require.Empty(t, env.dumpStorage(), "nothing stored")
}

// TestEachRefusalOnWriteSaysItsFix: the gateway's and Resamania's refusals of
// a verified write, each with what to do, as a 400 that stores nothing.
func TestEachRefusalOnWriteSaysItsFix(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fake   fakeresamania.Options
		setup  func(*fakeresamania.Server)
		chain  string
		data   func(*fakeresamania.Server) map[string]any
		says   []string
		denies string
	}{
		{name: "no gateway key", fake: fakeresamania.Options{GatewayKey: testAPIKey}, chain: testChain,
			says: []string{"HTTP 401", "the gateway key (api_key) is missing or wrong", "set api_key in this chain's config"}},
		{name: "a chain outside the key's plan", setup: func(s *fakeresamania.Server) { s.LeaveOutOfPlan(testChain) }, chain: testChain,
			says:   []string{"HTTP 403", "not in its plan (api.error.scope.unauthorized-endpoint)", "the gateway key is not wrong: ask Resamania"},
			denies: "set api_key"},
		{name: "a wrong environment path", fake: fakeresamania.Options{PathPrefix: "/prod"}, chain: testChain,
			data: func(s *fakeresamania.Server) map[string]any {
				return map[string]any{"api_base_url": s.URL()[:len(s.URL())-len("/prod")] + "/staging"}
			},
			says: []string{`HTTP 404: "No context-path matches the request URI."`, "check api_base_url"}},
		{name: "an unknown chain", chain: "mychian",
			says: []string{"HTTP 404 (not found)", `check the chain name: "mychian" must be Resamania's client_token`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := getTestBackendWith(t, tc.fake)
			if tc.setup != nil {
				tc.setup(env.fake)
			}
			var data map[string]any
			if tc.data != nil {
				data = tc.data(env.fake)
			}
			resp, err := env.writeConfig(tc.chain, data)
			require.NoError(t, err)
			require.True(t, resp.IsError(), "got %v", resp)
			for _, s := range tc.says {
				require.Contains(t, resp.Error().Error(), s)
			}
			if tc.denies != "" {
				require.NotContains(t, resp.Error().Error(), tc.denies)
			}
			require.Empty(t, env.dumpStorage())
		})
	}
}

func TestLoginURL(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	resp := env.mustRead(t, "config/"+testChain)
	require.Equal(t, env.fake.URL()+"/"+testChain+"/oauth/login", resp.Data["login_url"], "the documented page by default")

	resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"login_url": "https://api.resamania.example/oauth/login/{client_token}", "client_secret": testSecret})
	require.NoError(t, err)
	require.Nil(t, resp)
	require.Zero(t, env.fake.TokenRequests("", ""), "the sign-in page does not decide minting")
	require.Equal(t, "https://api.resamania.example/oauth/login/{client_token}", env.mustRead(t, "config/"+testChain).Data["login_url"], "as written")
	resp, err = env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"allowed_redirect_uris": "https://app.example/callback"})
	require.NoError(t, err)
	require.Nil(t, resp)
	resp, err = env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": "alice", "redirect_uri": "https://app.example/callback"})
	require.NoError(t, err)
	require.Regexp(t, `^https://api\.resamania\.example/oauth/login/mychain\?response_type=code&client_id=123_abcdef&redirect_uri=`, resp.Data["url"])

	before := env.dumpStorage()
	for _, bad := range []string{"ftp://x.example/login", "http://members.example/login", "https://x.example/login?lang=fr", "not a url at all"} {
		resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"login_url": bad, "client_secret": testSecret})
		require.NoError(t, err)
		require.True(t, resp.IsError(), bad)
		require.Contains(t, resp.Error().Error(), "login_url")
	}
	require.Equal(t, before, env.dumpStorage())
}

// TestATokenOfAnotherConfigIsNeverServed: one rule for every scope: a token
// minted with another config than the chain's now is stale, in memory or in
// storage, on this node or after a reload.
func TestATokenOfAnotherConfigIsNeverServed(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	old := env.readToken(nil).Data["access_token"]
	resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"scope": "read", "verify_connection": false})
	require.NoError(t, err)
	require.Nil(t, resp)
	reloadBackend(t, env) // nothing in memory: the stored token is read again
	fresh := env.readToken(nil)
	require.NotEqual(t, old, fresh.Data["access_token"])
	require.Equal(t, "read", fresh.Data["scope"], "minted with the new config")
	require.Equal(t, 2, env.fake.TokenRequests(testChain, "client_credentials"))
}
