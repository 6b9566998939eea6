package upstream

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// extensionEnv is an env whose client may use both extension grants, with
// club 12 and testMember (as an email) known to the server.
func extensionEnv(t *testing.T) *env {
	e := newEnv(t, fakeresamania.Options{}, func(c *fakeresamania.Client) {
		c.AllowedGrants = []string{fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials}
	})
	e.srv.AddClub(testChain, 12)
	e.srv.AddMember(testChain, "alice@club.example", "pw")
	return e
}

func TestClubCredentials(t *testing.T) {
	e := extensionEnv(t)
	tok, err := e.client().ClubCredentials(context.Background(), "/"+testChain+"/clubs/12")
	require.NoError(t, err)
	require.True(t, e.srv.AccessTokenValid(tok.AccessToken))
	require.Empty(t, tok.RefreshToken, "the answer's refresh token is never kept")
	require.NotEmpty(t, e.srv.IssuedRefreshTokens(), "though the server issued one")

	reqs := e.srv.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, GrantClub, reqs[0].GrantType)
	require.Equal(t, "/"+testChain+"/clubs/12", reqs[0].Form.Get("clubId"))
	require.Equal(t, testClientID, reqs[0].Form.Get("client_id"), "client credentials in the body")
	require.False(t, reqs[0].UsedBasicAuth)

	_, err = e.client().ClubCredentials(context.Background(), "/"+testChain+"/clubs/13")
	require.True(t, IsRejected(err, "invalid_grant"), "an unknown club: %v", err)

	e.srv.ResetCounters()
	_, err = e.client(func(c *Config) { c.Scope = "read  write" }).ClubCredentials(context.Background(), "/"+testChain+"/clubs/12")
	require.NoError(t, err)
	require.Equal(t, "read write", e.srv.Requests()[0].Form.Get("scope"), "the chain's scopes are asked for")
}

func TestContactCredentialsNeverTellTheEmail(t *testing.T) {
	e := extensionEnv(t)
	tok, err := e.client().ContactCredentials(context.Background(), "alice@club.example")
	require.NoError(t, err)
	require.True(t, e.srv.AccessTokenValid(tok.AccessToken))
	require.Empty(t, tok.RefreshToken)
	require.Equal(t, "alice@club.example", e.srv.Requests()[0].Form.Get("email"))

	_, err = e.client().ContactCredentials(context.Background(), "bob@club.example")
	require.True(t, IsRejected(err, "invalid_grant"), "%v", err)

	// A server that echoes the email in its error: the error does not.
	e.srv.InjectFault(fakeresamania.Fault{Status: 400, ContentType: "application/json",
		Body: `{"error":"invalid_grant","error_description":"no contact alice@club.example"}`})
	_, err = e.client().ContactCredentials(context.Background(), "alice@club.example")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "alice@club.example")
	require.Contains(t, err.Error(), "[redacted]")
}

func TestExtensionGrantsRetryTransientFailures(t *testing.T) {
	e := extensionEnv(t)
	e.srv.InjectFault(fakeresamania.Fault{Status: 503, Count: 1})
	tok, err := e.client().ClubCredentials(context.Background(), "/"+testChain+"/clubs/12")
	require.NoError(t, err, "nothing single-use is spent, so a 503 is retried")
	require.NotEmpty(t, tok.AccessToken)
	require.Equal(t, 2, e.srv.TokenRequests(testChain, GrantClub))
}
