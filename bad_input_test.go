package resamania

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// Every path, bad requests of every kind: each gets a 4xx whose message names
// the problem, echoes no submitted secret, and leaves storage exactly as it was.
func TestBadInputAcrossEveryPath(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	env.signIn(t)
	before := env.dumpStorage()

	const secret = "SENTINEL-bad-input-secret-77e1"
	long := strings.Repeat("x", 4096)
	cfg := func(kv ...any) map[string]any {
		d := map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": secret}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(d, kv[i].(string))
			} else {
				d[kv[i].(string)] = kv[i+1]
			}
		}
		return d
	}
	// want is a fragment of the message; "" means a routing refusal (404/405).
	cases := []struct {
		name string
		op   logical.Operation
		path string
		data map[string]any
		want string
	}{
		// config/: missing and empty fields
		{"config without base url", logical.CreateOperation, "config/new", cfg("api_base_url", nil), "api_base_url is empty"},
		{"config empty base url", logical.CreateOperation, "config/new", cfg("api_base_url", ""), "api_base_url is empty"},
		{"config without client_id", logical.CreateOperation, "config/new", cfg("client_id", nil), "client_id is required"},
		{"config without secret", logical.CreateOperation, "config/new", cfg("client_secret", nil), "client_secret is required"},
		{"config empty secret", logical.CreateOperation, "config/new", cfg("client_secret", ""), "client_secret is required"},
		// malformed URLs
		{"config url with spaces", logical.CreateOperation, "config/new", cfg("api_base_url", "https://a b.test"), "api_base_url"},
		{"config url only scheme", logical.CreateOperation, "config/new", cfg("api_base_url", "https://"), "no host"},
		{"config url javascript", logical.CreateOperation, "config/new", cfg("api_base_url", "javascript:alert(1)"), "api_base_url"},
		{"config url 4 KB", logical.CreateOperation, "config/new", cfg("api_base_url", "https://"+long), "longer than 2048"},
		{"config url with userinfo", logical.CreateOperation, "config/new", cfg("api_base_url", "https://"+secret+"@h.test"), "user name or password"},
		{"config url public http", logical.CreateOperation, "config/new", cfg("api_base_url", "http://10.0.0.1"), "loopback"},
		// wrong types
		{"config timeout not a duration", logical.CreateOperation, "config/new", cfg("request_timeout", "soon"), "request_timeout"},
		{"config no_lease not a bool", logical.CreateOperation, "config/new", cfg("no_lease", "maybe"), "no_lease"},
		{"config secret as a map", logical.CreateOperation, "config/new", cfg("client_secret", map[string]any{"v": secret}), "client_secret must be a string"},
		{"config api_key as a list", logical.CreateOperation, "config/new", cfg("api_key", []any{secret}), "api_key must be a string"},
		// oversized and malformed values
		{"config secret 4 KB plus", logical.CreateOperation, "config/new", cfg("client_secret", long+"y"), "client_secret must be at most"},
		{"config client_id 4 KB", logical.CreateOperation, "config/new", cfg("client_id", "1_"+long), "client_id must have"},
		{"config redirect on http", logical.CreateOperation, "config/new", cfg("allowed_redirect_uris", "http://app.example/cb"), "allowed_redirect_uris"},
		{"config redirect javascript", logical.CreateOperation, "config/new", cfg("allowed_redirect_uris", "https://app.example/cb,javascript:alert(1)"), "allowed_redirect_uris"},
		{"config client_id unicode", logical.CreateOperation, "config/new", cfg("client_id", "1_clé"), "client_id must have"},
		{"config malformed PEM", logical.CreateOperation, "config/new", cfg("ca_pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"), "ca_pem"},
		{"config scope with quote", logical.CreateOperation, "config/new", cfg("scope", `a"b`), "scope"},
		{"config refresh ttl too short", logical.CreateOperation, "config/new", cfg("refresh_token_ttl", "1s"), "refresh_token_ttl"},
		{"config unknown field", logical.CreateOperation, "config/new", cfg("clientsecret", secret), "unknown field"},
		// names with /, .., ?, #, unicode: no such path
		{"config name with slash", logical.CreateOperation, "config/a/b", cfg(), ""},
		{"config name dot dot", logical.CreateOperation, "config/..", cfg(), ""},
		{"config name with query", logical.CreateOperation, "config/a?b", cfg(), ""},
		{"config name with hash", logical.CreateOperation, "config/a#b", cfg(), ""},
		{"config name unicode", logical.CreateOperation, "config/clé", cfg(), ""},
		{"config name 4 KB", logical.CreateOperation, "config/" + long, cfg(), "client_token"},
		{"config delete name 4 KB", logical.DeleteOperation, "config/" + long, nil, "client_token"},
		{"config read name 4 KB", logical.ReadOperation, "config/" + long, nil, "client_token"},
		{"config login_url over http", logical.CreateOperation, "config/new", cfg("login_url", "http://members.example/login"), "login_url must use https"},
		{"config login_url with a query", logical.CreateOperation, "config/new", cfg("login_url", "https://members.example/login?x=1"), "login_url"},
		{"config verify_connection not a bool", logical.CreateOperation, "config/new", cfg("verify_connection", "perhaps"), "verify_connection"},
		// token/
		{"token unknown chain", logical.ReadOperation, "token/nochain", nil, "not configured"},
		{"token minimum_seconds negative", logical.ReadOperation, "token/" + testChain, map[string]any{"minimum_seconds": -1}, "minimum_seconds"},
		{"token minimum_seconds too large", logical.ReadOperation, "token/" + testChain, map[string]any{"minimum_seconds": 10_000_000}, "minimum_seconds"},
		{"token minimum_seconds not a number", logical.ReadOperation, "token/" + testChain, map[string]any{"minimum_seconds": "soon"}, "minimum_seconds"},
		{"token name with slash", logical.ReadOperation, "token/a/b", nil, ""},
		{"token delete unsupported", logical.DeleteOperation, "token/" + testChain, nil, ""},
		{"token write unsupported", logical.UpdateOperation, "token/" + testChain, map[string]any{"client_secret": secret}, ""},
		// auth-code-url/
		{"auth url without name", logical.UpdateOperation, "auth-code-url/" + testChain, map[string]any{"redirect_uri": testRedirect}, "name is required"},
		{"auth url name 4 KB", logical.UpdateOperation, "auth-code-url/" + testChain, map[string]any{"name": long, "redirect_uri": testRedirect}, "name"},
		{"auth url without redirect", logical.UpdateOperation, "auth-code-url/" + testChain, map[string]any{"name": testMember}, "redirect_uri is required"},
		{"auth url relative redirect", logical.UpdateOperation, "auth-code-url/" + testChain, map[string]any{"name": testMember, "redirect_uri": "/callback"}, "absolute URI"},
		{"auth url redirect not allowed", logical.UpdateOperation, "auth-code-url/" + testChain, map[string]any{"name": testMember, "redirect_uri": "https://evil.example/cb"}, "add it to allowed_redirect_uris in config/" + testChain},
		{"auth url unknown chain", logical.UpdateOperation, "auth-code-url/nochain", map[string]any{"name": testMember, "redirect_uri": testRedirect}, "not configured"},
		{"auth url caller's state", logical.UpdateOperation, "auth-code-url/" + testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect, "state": long}, "the plugin issues the state"},
		{"auth url read unsupported", logical.ReadOperation, "auth-code-url/" + testChain, nil, ""},
		// creds/
		{"creds no code nor token", logical.UpdateOperation, credPath, map[string]any{}, "code (with redirect_uri and state) or refresh_token is required"},
		{"creds both code and token", logical.UpdateOperation, credPath, map[string]any{"code": secret, "refresh_token": secret, "redirect_uri": testRedirect}, "either code"},
		{"creds code without redirect", logical.UpdateOperation, credPath, map[string]any{"code": secret}, "redirect_uri is required"},
		{"creds code with fragment redirect", logical.UpdateOperation, credPath, map[string]any{"code": secret, "redirect_uri": testRedirect + "#x"}, "fragment"},
		{"creds code without state", logical.UpdateOperation, credPath, map[string]any{"code": secret, "redirect_uri": testRedirect}, "state is required with code"},
		{"creds code state 4 KB", logical.UpdateOperation, credPath, map[string]any{"code": secret, "redirect_uri": testRedirect, "state": long}, "state must be"},
		{"creds code redirect not allowed", logical.UpdateOperation, credPath, map[string]any{"code": secret, "redirect_uri": "https://evil.example/cb", "state": "forged"}, "add it to allowed_redirect_uris in config/" + testChain},
		{"creds import with state", logical.UpdateOperation, credPath, map[string]any{"refresh_token": secret, "state": "forged"}, "state goes with code only"},
		{"creds refresh token as a map", logical.UpdateOperation, credPath, map[string]any{"refresh_token": map[string]any{"t": secret}}, "refresh_token must be a string"},
		{"creds refresh token 4 KB plus", logical.UpdateOperation, credPath, map[string]any{"refresh_token": long + "z"}, "refresh_token must be at most"},
		{"creds unknown state", logical.UpdateOperation, credPath, map[string]any{"code": secret, "redirect_uri": testRedirect, "state": "forged"}, "state is unknown"},
		{"creds unknown chain", logical.UpdateOperation, "creds/nochain/bob", map[string]any{"refresh_token": secret}, "not configured"},
		{"creds read unknown name", logical.ReadOperation, "creds/" + testChain + "/nobody", nil, "no credential"},
		{"creds name with dot dot", logical.ReadOperation, "creds/" + testChain + "/..", nil, ""},
		{"creds name unicode", logical.ReadOperation, "creds/" + testChain + "/bøb", nil, ""},
		{"creds name 4 KB", logical.ReadOperation, "creds/" + testChain + "/" + long, nil, "name"},
		{"creds unknown field", logical.UpdateOperation, credPath, map[string]any{"refresh_token": secret, "extra": 1}, "unknown field"},
		// scoped tokens and contacts
		{"club id not a number", logical.ReadOperation, "token/" + testChain + "/clubs/abc", nil, ""},
		{"club id zero", logical.ReadOperation, "token/" + testChain + "/clubs/0", nil, "club_id"},
		{"club unknown chain", logical.ReadOperation, "token/nochain/clubs/12", nil, "not configured"},
		{"club token write unsupported", logical.UpdateOperation, "token/" + testChain + "/clubs/12", map[string]any{"client_secret": secret}, ""},
		{"contact token unknown contact", logical.ReadOperation, "token/" + testChain + "/contacts/nobody", nil, "no contact"},
		{"contact email not an address", logical.CreateOperation, "contacts/" + testChain + "/bob", map[string]any{"email": secret}, "email must be"},
		{"contact email missing", logical.CreateOperation, "contacts/" + testChain + "/bob", map[string]any{}, "email is required"},
		{"contact email as a map", logical.CreateOperation, "contacts/" + testChain + "/bob", map[string]any{"email": map[string]any{"e": secret}}, "email must be a string"},
		{"contact unknown field", logical.CreateOperation, "contacts/" + testChain + "/bob", map[string]any{"email": "a@b.example", "mail": secret}, "unknown field"},
		{"contact unknown chain", logical.CreateOperation, "contacts/nochain/bob", map[string]any{"email": "a@b.example"}, "not configured"},
		{"contact name with dot dot", logical.CreateOperation, "contacts/" + testChain + "/..", map[string]any{"email": "a@b.example"}, ""},
		{"creds status write unsupported", logical.UpdateOperation, credPath + "/status", map[string]any{"state": "active"}, ""},
	}
	require.GreaterOrEqual(t, len(cases), 40)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := env.request(tc.op, tc.path, tc.data)
			var msg string
			switch {
			case err != nil:
				msg = err.Error()
				if tc.want == "" {
					require.True(t, errors.Is(err, logical.ErrUnsupportedPath) || errors.Is(err, logical.ErrUnsupportedOperation), "want a 404/405 refusal, got %v", err)
				} else {
					coded, ok := err.(logical.HTTPCodedError)
					require.True(t, ok && coded.Code() >= 400 && coded.Code() < 500, "want a 4xx, got %T %v", err, err)
				}
			default:
				require.NotNil(t, resp, "want an error")
				require.True(t, resp.IsError(), "want a 400, got %v", resp.Data)
				msg = resp.Error().Error()
			}
			if tc.want != "" {
				require.Contains(t, msg, tc.want)
			}
			require.NotContains(t, msg, secret, "a submitted secret was echoed")
			require.Equal(t, before, env.dumpStorage(), "storage changed")
		})
	}
}
