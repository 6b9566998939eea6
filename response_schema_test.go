package resamania

import (
	"testing"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// TestEveryResponseMatchesItsSchema drives every operation of every path and
// checks its response, strictly, against the schema the path declares: what
// `vault path-help` and the OpenAPI document promise is what a reader gets.
func TestEveryResponseMatchesItsSchema(t *testing.T) {
	env := getCredsBackend(t, 60, nil)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: 60, RedirectURIs: []string{testRedirect},
		AllowedGrants: []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantAuthorizationCode, fakeresamania.GrantRefreshToken, fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials}})
	env.fake.AddClub(testChain, 12)
	env.fake.AddMember(testChain, testEmail, "pw")
	validated := map[string]bool{}
	check := func(op logical.Operation, path string, data map[string]any) *logical.Response {
		t.Helper()
		resp, err := env.request(op, path, data)
		require.NoError(t, err, "%s %s", op, path)
		require.False(t, resp.IsError(), "%s %s: %v", op, path, resp)
		route := env.b.Route(path)
		require.NotNil(t, route, path)
		schema.ValidateResponse(t, schema.GetResponseSchema(t, route, op), resp, true)
		validated[route.Pattern+" "+string(op)] = true
		return resp
	}

	check(logical.UpdateOperation, "config/"+testChain, map[string]any{"scope": "read"})
	check(logical.ReadOperation, "config/"+testChain, nil)
	check(logical.ListOperation, "config/", nil)
	check(logical.ReadOperation, "token/"+testChain, nil)
	check(logical.ReadOperation, clubPath, nil)
	check(logical.CreateOperation, contactPath, map[string]any{"email": "someone@club.example"})
	check(logical.UpdateOperation, contactPath, map[string]any{"email": testEmail})
	check(logical.ReadOperation, contactPath, nil)
	check(logical.ListOperation, "contacts/"+testChain+"/", nil)
	check(logical.ReadOperation, "token/"+testChain+"/contacts/bob", nil)
	check(logical.UpdateOperation, "config/"+testChain, map[string]any{"share_api_key": true, "api_key": testAPIKey})
	check(logical.ReadOperation, clubPath, nil)
	check(logical.DeleteOperation, contactPath, nil)
	check(logical.UpdateOperation, "config/"+testChain, map[string]any{"no_lease": true})
	require.Nil(t, check(logical.ReadOperation, "token/"+testChain, nil).Secret)

	issued := check(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect})
	code, state, err := env.fake.SignInAsMember(issued.Data["url"].(string), testMember, "SENTINEL-member-password")
	require.NoError(t, err)
	check(logical.CreateOperation, credPath, map[string]any{"code": code, "redirect_uri": testRedirect, "state": state})
	check(logical.UpdateOperation, credPath, map[string]any{"refresh_token": env.refreshTokenFromFake(t)})
	check(logical.ReadOperation, credPath, nil)
	check(logical.ReadOperation, credPath+"/status", nil)
	check(logical.ListOperation, "creds/"+testChain+"/", nil)
	check(logical.DeleteOperation, credPath, nil)
	check(logical.DeleteOperation, "config/"+testChain, nil)
	check(logical.CreateOperation, "config/"+testChain, map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret})
	metrics := check(logical.ReadOperation, "metrics", nil)
	require.Contains(t, metrics.Data, metricUpstreamDuration, "the histogram's shape is checked too")

	// Every operation of every path was checked: a new one must join the list.
	for _, p := range env.b.Paths {
		for op := range p.Operations {
			require.True(t, validated[p.Pattern+" "+string(op)], "no response check for %s on %s", op, p.Pattern)
		}
	}
}
