package resamania

import (
	"cmp"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// Each field the plugin normalises reads back as it was written, while the
// plugin uses the normal form; the same field written again in its normal
// form reads in that form. A tool that compares what it wrote with what it
// reads (Terraform's vault_generic_endpoint) then sees no change.
func TestConfigReadsEachNormalisedFieldAsWritten(t *testing.T) {
	cases := []struct {
		field, name string
		written     func(env *testEnv) string
		normal      func(env *testEnv) any             // what a read shows once the normal form is written
		stored      func(t *testing.T, c *chainConfig) // the form the plugin uses
		extra       map[string]any                     // what the update must write besides (secrets follow hosts)
		tls         bool
	}{
		{
			field:   "api_base_url",
			written: func(env *testEnv) string { return env.fake.URL() + "/" },
			normal:  func(env *testEnv) any { return env.fake.URL() },
			stored: func(t *testing.T, c *chainConfig) {
				require.Equal(t, c.APIBaseURL+"/mychain/oauth/v2/token", c.upstreamConfig(testChain, time.Now, nil).TokenURL)
				require.NotContains(t, c.APIBaseURL[len("http://"):], "//")
			},
		},
		{
			field:   "client_id",
			written: func(*testEnv) string { return " " + testClientID + "\n" },
			normal:  func(*testEnv) any { return testClientID },
			stored:  func(t *testing.T, c *chainConfig) { require.Equal(t, testClientID, c.ClientID) },
		},
		{
			field:   "scope",
			written: func(*testEnv) string { return "  read   write " },
			normal:  func(*testEnv) any { return "read write" },
			stored:  func(t *testing.T, c *chainConfig) { require.Equal(t, "read write", c.Scope) },
		},
		{
			field:   "ca_pem",
			written: func(env *testEnv) string { return env.fake.CACertPEM() }, // ends in a newline, as file() reads a PEM file
			normal:  func(env *testEnv) any { return strings.TrimSpace(env.fake.CACertPEM()) },
			stored:  func(t *testing.T, c *chainConfig) { require.NotEqual(t, '\n', c.CAPEM[len(c.CAPEM)-1]) },
			extra:   map[string]any{"client_secret": testSecret},
			tls:     true,
		},
		{
			field:   "lease_mode",
			written: func(*testEnv) string { return " renewable " },
			normal:  func(*testEnv) any { return "renewable" },
			stored:  func(t *testing.T, c *chainConfig) { require.Equal(t, leaseRenewable, c.leaseMode()) },
		},
		{
			field: "login_url", name: "login_url with a placeholder",
			written: func(*testEnv) string { return "https://members.example/login/{client_token}" },
			normal:  func(*testEnv) any { return "https://members.example/login/" + testChain },
			stored: func(t *testing.T, c *chainConfig) {
				require.Equal(t, "https://members.example/login/"+testChain, c.loginPage(testChain))
			},
			extra: map[string]any{"client_secret": testSecret},
		},
		{
			field: "login_url", name: "login_url empty",
			written: func(*testEnv) string { return "" }, // the documented page
			normal:  func(env *testEnv) any { return env.fake.URL() + "/" + testChain + "/oauth/login" },
			stored: func(t *testing.T, c *chainConfig) {
				require.Empty(t, c.LoginURL)
				require.Equal(t, c.APIBaseURL+"/"+testChain+"/oauth/login", c.loginPage(testChain))
			},
			extra: map[string]any{"client_secret": testSecret},
		},
		{
			field:   "request_timeout",
			written: func(*testEnv) string { return "1m" },
			normal:  func(*testEnv) any { return int64(60) },
			stored:  func(t *testing.T, c *chainConfig) { require.Equal(t, time.Minute, c.RequestTimeout) },
		},
		{
			field:   "refresh_token_ttl",
			written: func(*testEnv) string { return "24h" },
			normal:  func(*testEnv) any { return int64(86400) },
			stored:  func(t *testing.T, c *chainConfig) { require.Equal(t, 24*time.Hour, c.RefreshTokenTTL) },
		},
	}
	for _, tc := range cases {
		t.Run(cmp.Or(tc.name, tc.field), func(t *testing.T) {
			env := getTestBackendWith(t, fakeresamania.Options{TLS: tc.tls})
			env.configure(nil)
			written := tc.written(env)
			update := map[string]any{tc.field: written, "verify_connection": false}
			for k, v := range tc.extra {
				update[k] = v
			}
			env.mustUpdate(t, update)
			read := env.mustRead(t, "config/"+testChain)
			schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route("config/"+testChain), logical.ReadOperation), read, true)
			require.Equal(t, written, read.Data[tc.field], "read back as written")
			cfg, err := getChainConfig(t.Context(), env.storage, testChain)
			require.NoError(t, err)
			tc.stored(t, cfg)
			require.NotContains(t, cfg.Written, "client_secret", "never a secret")

			// Written again in its normal form, it reads in that form.
			normal := tc.normal(env)
			if n, ok := normal.(int64); ok {
				update[tc.field] = int(n)
			} else {
				update[tc.field] = normal
			}
			env.mustUpdate(t, update)
			require.Equal(t, normal, env.mustRead(t, "config/"+testChain).Data[tc.field])
			cfg, err = getChainConfig(t.Context(), env.storage, testChain)
			require.NoError(t, err)
			require.Nil(t, cfg.Written, "nothing kept once the normal form is written")
		})
	}
}

// A duration the CLI sends as a number of seconds (it sends every value as a
// string) reads as the number it always did.
func TestConfigReadsSecondsAsANumber(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"request_timeout": "15", "refresh_token_ttl": 86400})
	read := env.mustRead(t, "config/"+testChain)
	require.Equal(t, int64(15), read.Data["request_timeout"])
	require.Equal(t, int64(86400), read.Data["refresh_token_ttl"])
}

// A text kept for a field that another field then changed is dropped: the
// read shows what is in force, not what was once written.
func TestConfigDropsAWrittenFormThatNoLongerHolds(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"lease_mode": " none "})
	require.Equal(t, " none ", env.mustRead(t, "config/"+testChain).Data["lease_mode"])
	env.mustUpdate(t, map[string]any{"no_lease": false})
	read := env.mustRead(t, "config/"+testChain)
	require.Equal(t, leaseNonRenewable, read.Data["lease_mode"])
	require.Equal(t, false, read.Data["no_lease"])
}

// Only a trailing slash changed: nothing tokens are minted with, so no
// request, and the cached token stays.
func TestConfigTrailingSlashMintsNothing(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	first := env.readToken(nil).Data["access_token"]
	requests := env.fake.TokenRequests("", "")
	env.mustUpdate(t, map[string]any{"api_base_url": env.fake.URL() + "/", "client_secret": testSecret})
	require.Equal(t, requests, env.fake.TokenRequests("", ""), "no verification request")
	require.Equal(t, first, env.readToken(nil).Data["access_token"], "the cached token serves")
}

// What Terraform's vault_generic_endpoint does with ignore_absent_fields:
// write data_json, read the path back, keep the read's values of the keys it
// wrote (a key the read lacks keeps the written value), and compare as JSON.
// Every field in a form the plugin normalises, in one write: no difference.
func TestConfigReadShowsAGenericEndpointNoChange(t *testing.T) {
	env := getTestBackend(t)
	dataJSON := `{
		"api_base_url": "` + env.fake.URL() + `/",
		"client_id": "` + testClientID + `",
		"client_secret": "` + testSecret + `",
		"api_key": "` + testAPIKey + `",
		"scope": "read  write",
		"request_timeout": "15s",
		"refresh_token_ttl": "24h",
		"lease_mode": "renewable",
		"share_api_key": true,
		"login_url": "https://members.example/login/{client_token}",
		"allowed_redirect_uris": ["https://app.example/callback", "com.example.app:/callback"],
		"verify_connection": false
	}`
	var written map[string]any
	dec := json.NewDecoder(strings.NewReader(dataJSON))
	dec.UseNumber() // as Vault's HTTP layer decodes a request
	require.NoError(t, dec.Decode(&written))
	resp, err := env.request(logical.CreateOperation, "config/"+testChain, written)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)

	read := env.mustRead(t, "config/"+testChain)
	relevant := map[string]any{}
	for k, v := range written {
		relevant[k] = v
		if got, ok := read.Data[k]; ok {
			relevant[k] = got
		}
	}
	require.Equal(t, jsonValue(t, written), jsonValue(t, relevant))

	// And with lists, numbers and bools in their JSON types.
	written["request_timeout"], written["refresh_token_ttl"] = json.Number("15"), json.Number("86400")
	written["allowed_redirect_uris"] = []any{}
	resp, err = env.request(logical.UpdateOperation, "config/"+testChain, written)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	read = env.mustRead(t, "config/"+testChain)
	for k := range written {
		if got, ok := read.Data[k]; ok {
			require.True(t, reflect.DeepEqual(jsonValue(t, written[k]), jsonValue(t, got)), "%s: wrote %v, read %v", k, written[k], got)
		}
	}
}

// jsonValue is v after a JSON round trip: how the provider compares values.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func (e *testEnv) mustUpdate(t *testing.T, data map[string]any) {
	t.Helper()
	resp, err := e.request(logical.UpdateOperation, "config/"+testChain, data)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
}
