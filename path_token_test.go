package resamania

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

func TestTokenReadReturnsLeasedToken(t *testing.T) {
	env := getTestBackendWith(t, fakeresamania.Options{PathPrefix: "/integration", GatewayKey: testAPIKey})
	env.configure(map[string]any{"api_key": testAPIKey, "scope": "read"})

	resp := env.readToken(nil)
	schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route("token/"+testChain), logical.ReadOperation), resp, true)
	tok := resp.Data["access_token"].(string)
	require.True(t, env.fake.AccessTokenValid(tok))
	require.Equal(t, "Bearer", resp.Data["token_type"])
	require.Equal(t, int64(3600), resp.Data["expires_in"])
	require.Equal(t, env.clock.Now().Add(time.Hour).Format(time.RFC3339), resp.Data["expires_at"])
	require.Equal(t, "read", resp.Data["scope"])

	require.NotNil(t, resp.Secret)
	require.False(t, resp.Secret.Renewable)
	require.Equal(t, 3600*time.Second-60*time.Second, resp.Secret.TTL, "the lease ends the margin before the token")
	require.Equal(t, secretAccessTokenType, resp.Secret.InternalData["secret_type"])

	reqs := env.fake.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, "client_credentials", r.GrantType)
	require.Equal(t, "application/x-www-form-urlencoded", r.ContentType)
	require.False(t, r.JSONBody, "the plugin never sends JSON")
	require.False(t, r.UsedBasicAuth, "credentials go in the body only")
	require.Equal(t, testSecret, r.Form.Get("client_secret"))
	require.Equal(t, testClientID, r.Form.Get("client_id"))
	require.Equal(t, "read", r.Form.Get("scope"))
	require.Equal(t, testAPIKey, r.GatewayKey)
}

func TestTokenCachedUntilRefreshPoint(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	first := env.readToken(nil).Data["access_token"]

	env.clock.Advance(30 * time.Minute)
	second := env.readToken(nil)
	require.Equal(t, first, second.Data["access_token"], "reused before the refresh point")
	require.Equal(t, int64(1800), second.Data["expires_in"])
	require.Equal(t, 1800*time.Second-60*time.Second, second.Secret.TTL)
	require.Equal(t, 1, env.fake.TokenRequests(testChain, ""))

	env.clock.Advance(11 * time.Minute) // 19 minutes left: under a third of the hour
	third := env.readToken(nil)
	require.NotEqual(t, first, third.Data["access_token"])
	require.Equal(t, 2, env.fake.TokenRequests(testChain, ""))
}

// A reader that comes back at 85-95% of its lease, as Vault Agent does, must
// always get a new token, whatever the token's lifetime and the read's moment.
func TestReaderReturningNearLeaseEndGetsNewToken(t *testing.T) {
	for _, lifetime := range []int{10, 20, 60, 3600, 86400} {
		for _, readAt := range []float64{0, 0.3, 0.6, 0.66} {
			env := getTestBackend(t)
			env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: lifetime})
			env.configure(nil)
			env.readToken(nil)
			env.clock.Advance(time.Duration(readAt * float64(lifetime) * float64(time.Second)))
			resp := env.readToken(nil)
			lease := resp.Secret.TTL
			expiresAt, err := time.Parse(time.RFC3339, resp.Data["expires_at"].(string))
			require.NoError(t, err)
			require.True(t, expiresAt.After(env.clock.Now().Add(lease)), "lifetime %d: the lease must end before the token", lifetime)

			env.clock.Advance(time.Duration(0.95 * float64(lease)))
			again := env.readToken(nil)
			require.NotEqual(t, resp.Data["access_token"], again.Data["access_token"],
				"lifetime %ds, read at %.0f%%: the old token was served again near its end", lifetime, readAt*100)
		}
	}
}

func TestConcurrentColdReadsMintOnce(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	env.fake.InjectFault(fakeresamania.Fault{Delay: 200 * time.Millisecond, Count: 1}) // hold the first mint open

	var wg sync.WaitGroup
	tokens := make([]string, 50)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := env.request(logical.ReadOperation, "token/"+testChain, nil)
			if err == nil && resp != nil && !resp.IsError() {
				tokens[i] = resp.Data["access_token"].(string)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, env.fake.TokenRequests(testChain, ""))
	for _, tok := range tokens {
		require.Equal(t, tokens[0], tok)
		require.NotEmpty(t, tok)
	}
}

func TestStoredTokenSurvivesReload(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	first := env.readToken(nil).Data["access_token"]

	reloadBackend(t, env)
	require.Equal(t, first, env.readToken(nil).Data["access_token"])
	require.Equal(t, 1, env.fake.TokenRequests(testChain, ""))
}

func TestConfigChangeDropsCachedToken(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	first := env.readToken(nil).Data["access_token"]
	resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"scope": "read"})
	require.NoError(t, err)
	require.Nil(t, resp)
	second := env.readToken(nil)
	require.NotEqual(t, first, second.Data["access_token"])
	require.Equal(t, "read", second.Data["scope"])
}

func TestNoLeaseReturnsDataOnly(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"no_lease": true})
	resp := env.readToken(nil)
	require.Nil(t, resp.Secret)
	require.NotEmpty(t, resp.Data["access_token"])
	require.Equal(t, int64(3600), resp.Data["expires_in"])
}

func TestMinimumSeconds(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	first := env.readToken(nil).Data["access_token"]
	env.clock.Advance(20 * time.Minute)

	require.Equal(t, first, env.readToken(map[string]any{"minimum_seconds": 1800}).Data["access_token"])
	forced := env.readToken(map[string]any{"minimum_seconds": 3000})
	require.NotEqual(t, first, forced.Data["access_token"])
	require.Equal(t, int64(3600), forced.Data["expires_in"])

	for _, bad := range []any{7200, -1, 100000} {
		resp, err := env.request(logical.ReadOperation, "token/"+testChain, map[string]any{"minimum_seconds": bad})
		require.NoError(t, err)
		require.True(t, resp.IsError(), "minimum_seconds=%v", bad)
		require.Contains(t, resp.Error().Error(), "minimum_seconds")
	}
}

func TestInvalidClientIsClearAndNotRetried(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"client_secret": "SENTINEL-wrong-secret-5d21"})
	resp, err := env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.Nil(t, resp)
	require.Error(t, err)
	coded, ok := err.(logical.HTTPCodedError)
	require.True(t, ok, "a coded error, got %T", err)
	require.Equal(t, http.StatusBadGateway, coded.Code())
	msg := err.Error()
	require.Contains(t, msg, `chain "mychain"`)
	require.Contains(t, msg, "invalid_client")
	require.Contains(t, msg, "check client_id and client_secret")
	require.NotContains(t, msg, "SENTINEL-wrong-secret-5d21")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, ""), "an OAuth rejection is not retried")
	require.NotContains(t, env.logs.String(), "SENTINEL-wrong-secret-5d21")
}

func TestGatewayRefusalNamesTheKey(t *testing.T) {
	env := getTestBackendWith(t, fakeresamania.Options{GatewayKey: testAPIKey})
	env.configure(nil)
	_, err := env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "api_key")
	require.Contains(t, err.Error(), "401")
}

func TestTransientFailuresAreRetried(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	env.fake.InjectFault(fakeresamania.Fault{Status: 503, Body: "<html>down</html>", ContentType: "text/html", Count: 1})
	env.fake.InjectFault(fakeresamania.Fault{Status: 502, Count: 1})
	// Not a gateway 429: it closes the key until its reset, which this
	// test's clock never reaches (fault_table_test.go, gateway_429_test.go).
	resp := env.readToken(nil)
	require.NotEmpty(t, resp.Data["access_token"])
	require.Equal(t, 3, env.fake.TokenRequests(testChain, ""), "the 503, the 502, then the mint")
}

func TestOutageServesValidCachedToken(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"request_timeout": "1s"})
	first := env.readToken(nil).Data["access_token"]
	env.clock.Advance(45 * time.Minute) // past the refresh point, still valid
	env.fake.InjectFault(fakeresamania.Fault{Status: 502, Body: "bad gateway"})

	resp := env.readToken(nil)
	require.Equal(t, first, resp.Data["access_token"])
	require.NotEmpty(t, resp.Warnings)
	require.Contains(t, resp.Warnings[0], "HTTP 502")
	require.Equal(t, 15*time.Minute-60*time.Second, resp.Secret.TTL)

	// Past its validity the outage shows: a 503 naming what Resamania answered.
	env.clock.Advance(15 * time.Minute)
	_, err := env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, err.(logical.HTTPCodedError).Code())
	require.Contains(t, err.Error(), "HTTP 502")
	require.False(t, strings.Contains(err.Error(), "bad gateway"), "the body is never echoed")
}

func TestUnknownChainIsA400(t *testing.T) {
	env := getTestBackend(t)
	resp, err := env.request(logical.ReadOperation, "token/nochain", nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "resamania/config/nochain")
}
