package resamania

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// A member's single-use grants meeting Gravitee's 429 (docs/resamania.md,
// "Rate limits"): the gateway refused the request before Resamania saw it,
// so nothing was spent. The reader is told of the rate limit, the
// credential stays active, and its refresh token serves the next read once
// the window has ended. The window ends 50 s after the 429, too far to be
// waited for within the read (upstream's maxRetryAfter), so the read ends on
// the 429 itself, and the plugin must judge that it spent nothing.

// rateLimited is the gateway's rate limit refusing one request of grant,
// until 50 s later.
func rateLimited(grant string) fakeresamania.Fault {
	return fakeresamania.Fault{Status: 429, ResetIn: 50 * time.Second, GrantType: grant, Count: 1}
}

// gatewayLimitMessage is how a read names a closed rate-limit window.
const gatewayLimitMessage = "Resamania's API gateway limits this gateway key: its rate limit is reached until"

// lastRefreshSent is the refresh token of the latest refresh request the
// fake received, the gateway's refusals included.
func lastRefreshSent(t *testing.T, fake *fakeresamania.Server) string {
	t.Helper()
	reqs := fake.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].GrantType == fakeresamania.GrantRefreshToken {
			return reqs[i].Form.Get("refresh_token")
		}
	}
	require.FailNow(t, "no refresh request was sent")
	return ""
}

func TestMemberRefreshMeetingAGateway429KeepsTheCredential(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	env.signIn(t)
	env.clock.Advance(2 * time.Hour) // the access token has expired: the read refreshes
	env.fake.ResetCounters()
	env.fake.InjectFault(rateLimited(fakeresamania.GrantRefreshToken))

	resp, err := env.request(logical.ReadOperation, credPath, nil)
	require.Error(t, err, "no token: %v", resp)
	require.Contains(t, err.Error(), gatewayLimitMessage)
	require.NotContains(t, err.Error(), "lost")
	require.Equal(t, 1, env.fake.GatewayRefusals(""), "the refresh met the gateway's 429")
	require.Zero(t, env.fake.TokenRequests(testChain, ""), "and never reached Resamania")
	refused := lastRefreshSent(t, env.fake)
	status := env.credStatus(t)
	require.Equal(t, string(credActive), status["state"], "a 429 spends nothing: %v", status)

	env.clock.Advance(time.Minute) // the window has ended
	resp = env.readCred(t)
	require.True(t, env.fake.AccessTokenValid(resp.Data["access_token"].(string)))
	require.Equal(t, refused, lastRefreshSent(t, env.fake), "the refresh token the 429 refused served the next read")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, fakeresamania.GrantRefreshToken))
	require.Equal(t, string(credActive), env.credStatus(t)["state"])
}

func TestCodeExchangeMeetingAGateway429SpendsNothing(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	env.signIn(t) // the member's credential, which a second sign-in would replace
	held := lastStoredRefreshToken(t, env)

	loginURL, _ := env.issueState(t, testMember, testRedirect)
	code, state, err := env.fake.SignInAsMember(loginURL, testMember, "SENTINEL-member-password")
	require.NoError(t, err)
	env.fake.ResetCounters()
	env.fake.InjectFault(rateLimited(fakeresamania.GrantAuthorizationCode))

	resp, err := env.request(logical.CreateOperation, credPath, map[string]any{"code": code, "redirect_uri": testRedirect, "state": state})
	msg := ""
	if err != nil {
		msg = err.Error()
	} else {
		require.True(t, resp.IsError(), "the exchange met a 429: %v", resp)
		msg = resp.Error().Error()
	}
	require.Contains(t, msg, gatewayLimitMessage)
	require.NotContains(t, msg, "may be spent")
	require.Equal(t, 1, env.fake.GatewayRefusals(""), "the exchange met the gateway's 429")
	require.Zero(t, env.fake.TokenRequests(testChain, ""), "and never reached Resamania")

	require.Equal(t, string(credActive), env.credStatus(t)["state"], "the credential is untouched")
	env.clock.Advance(2 * time.Hour) // the window has ended, and the access token too
	resp = env.readCred(t)
	require.True(t, env.fake.AccessTokenValid(resp.Data["access_token"].(string)))
	require.Equal(t, held, lastRefreshSent(t, env.fake), "the credential's refresh token, unspent, served the read")
	require.Equal(t, string(credActive), env.credStatus(t)["state"])
}

// lastStoredRefreshToken is the newest refresh token the fake issued: the
// one a sign-in just stored.
func lastStoredRefreshToken(t *testing.T, env *testEnv) string {
	t.Helper()
	issued := env.fake.IssuedRefreshTokens()
	require.NotEmpty(t, issued)
	return issued[len(issued)-1]
}
