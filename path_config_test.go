package resamania

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

func TestConfigRoundTripHidesSecrets(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"api_key": testAPIKey, "scope": "  read   write ", "request_timeout": "15s"})

	resp, err := env.request(logical.ReadOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route("config/"+testChain), logical.ReadOperation), resp, true)
	require.Equal(t, env.fake.URL(), resp.Data["api_base_url"])
	require.Equal(t, env.fake.URL()+"/"+testChain+"/oauth/v2/token", resp.Data["token_url"])
	require.Equal(t, testClientID, resp.Data["client_id"])
	require.Equal(t, true, resp.Data["client_secret_set"])
	require.Equal(t, true, resp.Data["api_key_set"])
	require.Equal(t, "  read   write ", resp.Data["scope"], "as written")
	require.Equal(t, "15s", resp.Data["request_timeout"], "as written")
	require.Equal(t, false, resp.Data["no_lease"])
	cfg, err := getChainConfig(t.Context(), env.storage, testChain)
	require.NoError(t, err)
	require.Equal(t, "read write", cfg.Scope, "used in its normal form")
	require.Equal(t, 15*time.Second, cfg.RequestTimeout)
	for k, v := range resp.Data {
		require.NotContains(t, strings.ToLower(k), "secret\"")
		if s, ok := v.(string); ok {
			require.NotContains(t, s, testSecret, "field %s", k)
			require.NotContains(t, s, testAPIKey, "field %s", k)
		}
	}
}

func TestConfigPartialUpdateKeepsOtherFields(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"api_key": testAPIKey})

	resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"scope": "read", "no_lease": true})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)

	cfg, err := getChainConfig(t.Context(), env.storage, testChain)
	require.NoError(t, err)
	require.Equal(t, testSecret, cfg.ClientSecret)
	require.Equal(t, testAPIKey, cfg.APIKey)
	require.Equal(t, testClientID, cfg.ClientID)
	require.Equal(t, "read", cfg.Scope)
	require.True(t, cfg.NoLease)

	// An empty api_key removes it.
	resp, err = env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"api_key": ""})
	require.NoError(t, err)
	require.Nil(t, resp)
	cfg, err = getChainConfig(t.Context(), env.storage, testChain)
	require.NoError(t, err)
	require.Empty(t, cfg.APIKey)
}

func TestConfigBareHostMeansHTTPS(t *testing.T) {
	env := getTestBackend(t)
	resp, err := env.request(logical.CreateOperation, "config/"+testChain, map[string]any{
		"api_base_url": "api.example.test/integration/", "client_id": testClientID, "client_secret": testSecret, "verify_connection": false,
	})
	require.NoError(t, err)
	require.Nil(t, resp)
	resp, err = env.request(logical.ReadOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	require.Equal(t, "api.example.test/integration/", resp.Data["api_base_url"], "as written")
	require.Equal(t, "https://api.example.test/integration/mychain/oauth/v2/token", resp.Data["token_url"])
	cfg, err := getChainConfig(t.Context(), env.storage, testChain)
	require.NoError(t, err)
	require.Equal(t, "https://api.example.test/integration", cfg.APIBaseURL)
}

func TestConfigListAndDelete(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	for _, chain := range []string{"other-chain", "third.chain"} {
		resp, err := env.request(logical.CreateOperation, "config/"+chain, map[string]any{
			"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret, "verify_connection": false,
		})
		require.NoError(t, err)
		require.Nil(t, resp)
	}
	resp, err := env.request(logical.ListOperation, "config/", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"mychain", "other-chain", "third.chain"}, resp.Data["keys"])

	env.readToken(nil) // caches a token, which the delete must remove too
	resp, err = env.request(logical.DeleteOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	require.Nil(t, resp)
	resp, err = env.request(logical.ReadOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	require.Nil(t, resp, "a deleted config reads as absent (404)")
	entry, err := env.storage.Get(t.Context(), tokenStoragePrefix+testChain)
	require.NoError(t, err)
	require.Nil(t, entry, "the cached token goes with the config")

	resp, err = env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), `chain "mychain" is not configured`)
}

func TestConfigRejectsBadInputAndChangesNothing(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	before := env.dumpStorage()

	valid := func(overrides map[string]any) map[string]any {
		d := map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret}
		for k, v := range overrides {
			if v == nil {
				delete(d, k)
			} else {
				d[k] = v
			}
		}
		return d
	}
	cases := []struct {
		name, chain string
		op          logical.Operation
		data        map[string]any
		wantMsg     string
	}{
		{"missing base url", "newchain", logical.CreateOperation, valid(map[string]any{"api_base_url": nil}), "api_base_url is empty"},
		{"http to a remote host", "newchain", logical.CreateOperation, valid(map[string]any{"api_base_url": "http://api.example.test"}), "http is allowed only for a loopback host"},
		{"ftp scheme", "newchain", logical.CreateOperation, valid(map[string]any{"api_base_url": "ftp://api.example.test"}), "must use https"},
		{"userinfo", "newchain", logical.CreateOperation, valid(map[string]any{"api_base_url": "https://u:p@api.example.test"}), "user name or password"},
		{"query", "newchain", logical.CreateOperation, valid(map[string]any{"api_base_url": "https://api.example.test/?a=b"}), "query string"},
		{"fragment", "newchain", logical.CreateOperation, valid(map[string]any{"api_base_url": "https://api.example.test/#x"}), "fragment"},
		{"dot segment", "newchain", logical.CreateOperation, valid(map[string]any{"api_base_url": "https://api.example.test/a/../b"}), "segments"},
		{"bad port", "newchain", logical.CreateOperation, valid(map[string]any{"api_base_url": "https://api.example.test:99999"}), "port"},
		{"missing client_id", "newchain", logical.CreateOperation, valid(map[string]any{"client_id": nil}), "client_id is required"},
		{"client_id without underscore", "newchain", logical.CreateOperation, valid(map[string]any{"client_id": "123abc"}), "{id}_{random}"},
		{"missing secret", "newchain", logical.CreateOperation, valid(map[string]any{"client_secret": nil}), "client_secret is required"},
		{"secret with newline", "newchain", logical.CreateOperation, valid(map[string]any{"client_secret": "a\x00b"}), "client_secret must be"},
		{"api key with newline", "newchain", logical.CreateOperation, valid(map[string]any{"api_key": "k\r\nX-Evil: 1"}), "api_key must be"},
		{"timeout too short", "newchain", logical.CreateOperation, valid(map[string]any{"request_timeout": 0}), "request_timeout must be between"},
		{"timeout too long", "newchain", logical.CreateOperation, valid(map[string]any{"request_timeout": "5m"}), "request_timeout must be between"},
		{"not a PEM", "newchain", logical.CreateOperation, valid(map[string]any{"ca_pem": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"}), "ca_pem holds no PEM certificate"},
		{"bad scope", "newchain", logical.CreateOperation, valid(map[string]any{"scope": `read "write"`}), "not a valid OAuth scope token"},
		{"unknown field", "newchain", logical.CreateOperation, valid(map[string]any{"client_secert": "x"}), `unknown field "client_secert"`},
		{"long client_token", strings.Repeat("a", 200), logical.CreateOperation, valid(nil), "client_token"},
		{"update to a bad url", testChain, logical.UpdateOperation, map[string]any{"api_base_url": "http://example.test"}, "http is allowed only"},
		{"update with a bad client_id", testChain, logical.UpdateOperation, map[string]any{"client_id": "nounderscore"}, "{id}_{random}"},
		{"update clearing the secret", testChain, logical.UpdateOperation, map[string]any{"client_secret": ""}, "client_secret is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := env.request(tc.op, "config/"+tc.chain, tc.data)
			require.NoError(t, err)
			require.True(t, resp.IsError(), "want a 400, got %v", resp)
			msg := resp.Error().Error()
			require.Contains(t, msg, tc.wantMsg)
			require.NotContains(t, msg, testSecret)
			require.Equal(t, before, env.dumpStorage(), "a rejected write changed storage")
		})
	}
}
