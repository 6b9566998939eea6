package resamania

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

func (e *testEnv) chainHealth(t *testing.T) map[string]any {
	t.Helper()
	resp, err := e.request(logical.ReadOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	require.NotNil(t, resp)
	return resp.Data
}

// A chain's health follows its grants: unknown, ok, failing on a refusal,
// degraded while Resamania fails, ok again; a config change starts afresh.
func TestChainHealth(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	h := env.chainHealth(t)
	require.Equal(t, healthUnknown, h["health"])
	require.Equal(t, "", h["last_success_at"])

	env.readToken(nil)
	h = env.chainHealth(t)
	require.Equal(t, healthOK, h["health"])
	require.Equal(t, env.clock.Now().UTC().Format(time.RFC3339), h["last_success_at"])
	require.Equal(t, 0, h["consecutive_failures"])

	// Refused: an OAuth error, with its code and description, never the body.
	env.clock.Advance(45 * time.Minute)
	env.fake.InjectFault(fakeresamania.Fault{Status: 400, ContentType: "application/json", Body: `{"error":"invalid_client","error_description":"The client credentials are invalid","trace":"BODY-ONLY"}`, Count: 1})
	require.NotEmpty(t, env.readToken(nil).Warnings, "served from cache, with the warning")
	h = env.chainHealth(t)
	require.Equal(t, healthFailing, h["health"])
	require.Contains(t, h["last_error"], "invalid_client (The client credentials are invalid)")
	require.NotContains(t, h["last_error"], "BODY-ONLY")
	require.Equal(t, 1, h["consecutive_failures"])

	// Unavailable: degraded, and the failures add up.
	env.fake.InjectFault(fakeresamania.Fault{Status: 503, RetryAfter: "120", Body: "<html>BODY-ONLY</html>"})
	env.clock.Advance(time.Minute) // past the failure cooldown: the next read tries again
	require.NotEmpty(t, env.readToken(nil).Warnings)
	h = env.chainHealth(t)
	require.Equal(t, healthDegraded, h["health"])
	require.Contains(t, h["last_error"], "HTTP 503")
	require.NotContains(t, h["last_error"], "BODY-ONLY")
	require.Equal(t, 2, h["consecutive_failures"])
	require.Equal(t, env.clock.Now().UTC().Format(time.RFC3339), h["last_error_at"])

	env.fake.ClearFaults()
	env.clock.Advance(time.Minute)
	env.readToken(nil)
	h = env.chainHealth(t)
	require.Equal(t, healthOK, h["health"])
	require.Equal(t, 0, h["consecutive_failures"])
	require.Contains(t, h["last_error"], "HTTP 503", "the last error stays readable after a success")

	env.configure(map[string]any{"scope": "other"})
	require.Equal(t, healthUnknown, env.chainHealth(t)["health"], "a new config is yet to be seen")
}

// A scoped read of an unknown club is the reader's mistake: the chain stays ok.
func TestChainHealthIgnoresUnknownClub(t *testing.T) {
	env := getTestBackend(t)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: 3600,
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantClubCredentials}})
	env.configure(nil)
	env.readToken(nil)
	resp, err := env.request(logical.ReadOperation, "token/"+testChain+"/clubs/999", nil)
	require.NoError(t, err)
	require.True(t, resp.IsError(), "%v", resp)
	require.Equal(t, healthOK, env.chainHealth(t)["health"])
}

// A credential's health: ok after its sign-in, sign_in_required once
// Resamania refuses its refresh token, with the OAuth error as last_error.
func TestCredentialHealth(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	st := env.signIn(t).Data
	require.Equal(t, healthOK, st["health"])

	env.clock.Advance(2 * time.Minute)
	env.fake.ExpireRefreshTokens(testChain)
	resp, err := env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	st = env.credStatus(t)
	require.Equal(t, healthSignInRequired, st["health"])
	require.Contains(t, st["last_error"], "invalid_grant")
	require.Equal(t, 1, st["consecutive_failures"])
	require.Equal(t, healthUnknown, env.chainHealth(t)["health"], "a member's refusal is not the chain's")

	env.signIn(t)
	st = env.credStatus(t)
	require.Equal(t, healthOK, st["health"])
	require.Equal(t, 0, st["consecutive_failures"])
}

// One debug line per request sent, one warn line per failed request, with
// the grant, status and duration; the backend's log is checked for secrets
// at the end of every test.
func TestUpstreamCallsAreLogged(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"request_timeout": "1s"})
	env.fake.InjectFault(fakeresamania.Fault{Status: 503, Count: 1})
	env.readToken(nil)
	logs := env.logs.String()
	require.Regexp(t, `\[WARN\]  token request failed: chain=mychain grant=client_credentials outcome=server_error status=503 duration=\S+ error="Resamania is unavailable: HTTP 503`, logs)
	require.Regexp(t, `\[DEBUG\] token request: chain=mychain grant=client_credentials status=200 duration=\S+`, logs)
}
