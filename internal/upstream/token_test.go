package upstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// unsignedJWT builds a token shaped like a JWT with the given claims.
func unsignedJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("sig"))
}

// TestTokenParsing sends the fake's real answer with fields replaced, and
// checks what the client makes of it. The fake's client lives 7200 s, so its
// JWT exp claim (7200 s) is told apart from the 3600 s default.
func TestTokenParsing(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	const tenYears = 10 * 365 * 24 * time.Hour
	null := json.RawMessage("null")

	cases := []struct {
		name     string
		override map[string]any
		garbage  *fakeresamania.Fault // a raw 200 answer instead of an override

		lifetime  time.Duration // want ExpiresAt - IssuedAt
		scope     string
		access    string // want AccessToken, when fixed by the case
		errDetail string // when set: a KindProtocol error holding this
	}{
		{name: "expires_in number", lifetime: 7200 * time.Second},
		{name: "expires_in numeric string", override: map[string]any{"expires_in": "3600"}, lifetime: 3600 * time.Second},
		{name: "expires_in small", override: map[string]any{"expires_in": 1}, lifetime: time.Second},
		{name: "expires_in missing: JWT exp", override: map[string]any{"expires_in": nil}, lifetime: 7200 * time.Second},
		{name: "expires_in null: JWT exp", override: map[string]any{"expires_in": null}, lifetime: 7200 * time.Second},
		{
			name:     "expires_in missing, not a JWT: 3600",
			override: map[string]any{"expires_in": nil, "access_token": "opaque-access-token"},
			lifetime: DefaultExpiresIn, access: "opaque-access-token",
		},
		{
			name:     "expires_in missing, JWT without exp: 3600",
			override: map[string]any{"expires_in": nil, "access_token": unsignedJWT(`{"sub":"x"}`)},
			lifetime: DefaultExpiresIn, access: unsignedJWT(`{"sub":"x"}`),
		},
		{
			name: "expires_in missing, JWT expired",
			override: map[string]any{"expires_in": nil,
				"access_token": unsignedJWT(fmt.Sprintf(`{"exp":%d}`, now.Add(-time.Minute).Unix()))},
			errDetail: "exp claim is in the past",
		},
		{name: "expires_in zero", override: map[string]any{"expires_in": 0}, errDetail: "expires_in is 0: the token is already expired"},
		{name: "expires_in zero string", override: map[string]any{"expires_in": "0"}, errDetail: "expires_in is 0"},
		{name: "expires_in negative", override: map[string]any{"expires_in": -60}, errDetail: "expires_in is -60"},
		{name: "expires_in huge: capped", override: map[string]any{"expires_in": int64(1e10)}, lifetime: tenYears},
		{name: "expires_in max int32", override: map[string]any{"expires_in": 2147483647}, lifetime: tenYears},
		{name: "expires_in not a number", override: map[string]any{"expires_in": "soon"}, errDetail: "HTTP 200 whose body could not be read as a token"},
		{name: "expires_in a list", override: map[string]any{"expires_in": []int{3600}}, errDetail: "could not be read as a token"},

		{name: "scope null", override: map[string]any{"scope": null}, lifetime: 7200 * time.Second, scope: ""},
		{name: "scope missing", override: map[string]any{"scope": nil}, lifetime: 7200 * time.Second, scope: ""},
		{name: "scope string", override: map[string]any{"scope": "  read   write "}, lifetime: 7200 * time.Second, scope: "read write"},
		{name: "scope list", override: map[string]any{"scope": []string{"read", "write admin"}}, lifetime: 7200 * time.Second, scope: "read write admin"},
		{name: "scope empty list", override: map[string]any{"scope": []string{}}, lifetime: 7200 * time.Second, scope: ""},
		{name: "scope list of numbers", override: map[string]any{"scope": []int{1}}, errDetail: "scope list holds a non-string item"},
		{name: "scope number", override: map[string]any{"scope": 7}, errDetail: "scope has type float64"},

		{name: "token_type bearer", override: map[string]any{"token_type": "bearer"}, lifetime: 7200 * time.Second},
		{name: "token_type BEARER", override: map[string]any{"token_type": "BEARER"}, lifetime: 7200 * time.Second},
		{name: "token_type missing", override: map[string]any{"token_type": nil}, lifetime: 7200 * time.Second},
		{name: "token_type mac", override: map[string]any{"token_type": "mac"}, errDetail: `token_type is "mac", not bearer`},
		{name: "token_type long", override: map[string]any{"token_type": strings.Repeat("x", 40)}, errDetail: "token_type is a 40-byte value, not bearer"},
		{name: "token_type DPoP", override: map[string]any{"token_type": "DPoP"}, errDetail: `token_type is "DPoP", not bearer`},

		{
			// oauth2 also reads form-encoded answers; numbers then come back as int64.
			name: "form-encoded answer",
			garbage: &fakeresamania.Fault{Garbage: true, ContentType: "application/x-www-form-urlencoded",
				Body: "access_token=form-access-token&token_type=bearer&expires_in=1800&scope=read+write"},
			lifetime: 1800 * time.Second, scope: "read write", access: "form-access-token",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakeresamania.Options{Now: clock}, func(c *fakeresamania.Client) { c.ExpiresIn = 7200 })
			switch {
			case tc.garbage != nil:
				e.srv.InjectFault(*tc.garbage)
			case tc.override != nil:
				e.srv.InjectFault(fakeresamania.Fault{Override: tc.override})
			}
			c := e.client(func(c *Config) { c.Now = clock })

			tok, err := c.ClientCredentials(context.Background())
			require.Equal(t, 1, e.srv.TokenRequests("", ""), "a bad answer is not retried")
			if tc.errDetail != "" {
				ue := asError(t, err)
				require.Equal(t, KindProtocol, ue.Kind, "error: %s", err)
				require.Equal(t, 200, ue.Status)
				require.True(t, ue.Sent)
				require.Contains(t, err.Error(), tc.errDetail)
				require.Contains(t, err.Error(), "not a valid token response")
				requireNoSecret(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "Bearer", tok.TokenType)
			require.Equal(t, tc.scope, tok.Scope)
			require.Equal(t, now, tok.IssuedAt)
			require.Equal(t, tc.lifetime, tok.ExpiresAt.Sub(tok.IssuedAt))
			require.Empty(t, tok.RefreshToken, "the stock library issues none for client_credentials")
			if tc.access != "" {
				require.Equal(t, tc.access, tok.AccessToken)
			} else {
				require.Contains(t, e.srv.IssuedAccessTokens(), tok.AccessToken)
			}
		})
	}
}

// TestRefreshTokenInAnswer: a rotated refresh token is returned; when the
// answer carries none, the one sent is kept (RFC 6749 6).
func TestRefreshTokenInAnswer(t *testing.T) {
	t.Run("rotated", func(t *testing.T) {
		e := newEnv(t, fakeresamania.Options{})
		rt := e.refreshToken()
		tok, err := e.client().Refresh(context.Background(), rt)
		require.NoError(t, err)
		require.NotEqual(t, rt, tok.RefreshToken)
		require.Equal(t, e.srv.IssuedRefreshTokens()[1], tok.RefreshToken)
	})
	t.Run("none issued", func(t *testing.T) {
		e := newEnv(t, fakeresamania.Options{})
		rt := e.refreshToken()
		e.srv.InjectFault(fakeresamania.Fault{Override: map[string]any{"refresh_token": nil}})
		tok, err := e.client().Refresh(context.Background(), rt)
		require.NoError(t, err)
		require.Equal(t, rt, tok.RefreshToken)
	})
	t.Run("client_credentials with one", func(t *testing.T) {
		e := newEnv(t, fakeresamania.Options{}, func(c *fakeresamania.Client) { c.RefreshTokenWithClientCredentials = true })
		tok, err := e.client().ClientCredentials(context.Background())
		require.NoError(t, err)
		require.Equal(t, e.srv.IssuedRefreshTokens()[0], tok.RefreshToken)
	})
}

// TestTokenFromOAuth2 covers the raw field types oauth2 can hand over.
func TestTokenFromOAuth2(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	jwt := unsignedJWT(fmt.Sprintf(`{"exp":%d}`, now.Add(90*time.Second).Unix()))
	cases := []struct {
		name     string
		access   string
		extra    map[string]any
		lifetime time.Duration
		err      string
	}{
		{name: "float64", extra: map[string]any{"expires_in": float64(60)}, lifetime: time.Minute},
		{name: "fraction rounds down", extra: map[string]any{"expires_in": 60.9}, lifetime: time.Minute},
		{name: "json.Number", extra: map[string]any{"expires_in": json.Number("120")}, lifetime: 2 * time.Minute},
		{name: "int64 (form answer)", extra: map[string]any{"expires_in": int64(300)}, lifetime: 5 * time.Minute},
		{name: "string", extra: map[string]any{"expires_in": " 600 "}, lifetime: 10 * time.Minute},
		{name: "blank string, JWT", access: jwt, extra: map[string]any{"expires_in": " "}, lifetime: 90 * time.Second},
		{name: "nil, JWT", access: jwt, extra: map[string]any{}, lifetime: 90 * time.Second},
		{name: "nil, not a JWT", access: "a.b", extra: map[string]any{}, lifetime: DefaultExpiresIn},
		{name: "nil, JWT with bad base64", access: "x.!!!.y", extra: map[string]any{}, lifetime: DefaultExpiresIn},
		{name: "nil, JWT exp string", access: unsignedJWT(`{"exp":"soon"}`), extra: map[string]any{}, lifetime: DefaultExpiresIn},
		{name: "NaN", extra: map[string]any{"expires_in": "NaN"}, err: "expires_in is NaN"},
		{name: "half a second", extra: map[string]any{"expires_in": 0.5}, err: "already expired"},
		{name: "bool", extra: map[string]any{"expires_in": true}, err: "expires_in has type bool"},
		{name: "huge float", extra: map[string]any{"expires_in": 1e300}, lifetime: 10 * 365 * 24 * time.Hour},
		{name: "infinite", extra: map[string]any{"expires_in": "+Inf"}, lifetime: 10 * 365 * 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			access := tc.access
			if access == "" {
				access = "opaque"
			}
			raw := (&oauth2.Token{AccessToken: access, TokenType: "bearer"}).WithExtra(tc.extra)
			tok, err := tokenFromOAuth2(raw, now)
			if tc.err != "" {
				require.NotNil(t, err)
				require.Equal(t, KindProtocol, err.Kind)
				require.Contains(t, err.Error(), tc.err)
				return
			}
			require.Nil(t, err)
			require.Equal(t, tc.lifetime, tok.ExpiresAt.Sub(now))
		})
	}
}
