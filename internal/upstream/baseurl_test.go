package upstream

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeBaseURL(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" when the input must be refused
		err  string // part of the refusal
	}{
		// Accepted, and written one way.
		{in: "api.resamania.com", want: "https://api.resamania.com"},
		{in: "  api.resamania.com  ", want: "https://api.resamania.com"},
		{in: "api.resamania.com/", want: "https://api.resamania.com"},
		{in: "https://api.resamania.com", want: "https://api.resamania.com"},
		{in: "https://api.resamania.com/", want: "https://api.resamania.com"},
		{in: "HTTPS://api.resamania.com", want: "https://api.resamania.com"},
		{in: "https://api.resamania.com:8443", want: "https://api.resamania.com:8443"},
		{in: "https://gw.example.com/integration", want: "https://gw.example.com/integration"},
		{in: "https://gw.example.com/integration/", want: "https://gw.example.com/integration"},
		{in: "https://gw.example.com/integration//", want: "https://gw.example.com/integration"},
		{in: "gw.example.com/env/prod/", want: "https://gw.example.com/env/prod"},
		{in: "https://gw.example.com/a..b", want: "https://gw.example.com/a..b"},
		{in: "https://[2001:db8::1]:443/x", want: "https://[2001:db8::1]:443/x"},

		// Plain http for loopback only.
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "http://127.0.0.1:8080/prefix/", want: "http://127.0.0.1:8080/prefix"},
		{in: "http://[::1]:8080", want: "http://[::1]:8080"},
		{in: "http://localhost:8080", want: "http://localhost:8080"},
		{in: "http://LocalHost", want: "http://LocalHost"},
		{in: "http://api.resamania.com", err: "must use https"},
		{in: "http://10.0.0.1:8080", err: "must use https"},
		{in: "http://0.0.0.0:8080", err: "must use https"},
		{in: "http://localhost.evil.example", err: "must use https"},
		{in: "http://127.0.0.1.nip.io", err: "must use https"},

		// Refused.
		{in: "", err: "empty"},
		{in: "   ", err: "empty"},
		{in: "https://" + strings.Repeat("a", 2050) + ".example", err: "longer than 2048"},
		{in: "ftp://api.resamania.com", err: `scheme "ftp"`},
		{in: "file:///etc/passwd", err: `scheme "file"`},
		{in: "ws://127.0.0.1", err: `scheme "ws"`},
		{in: "https://", err: "no host"},
		{in: "https:///path", err: "no host"},
		{in: "https://:443", err: "no host"},
		{in: "https://user:hunter2@api.resamania.com", err: "user name or password"},
		{in: "https://user@api.resamania.com", err: "user name or password"},
		{in: "https://api.resamania.com/?x=1", err: "query"},
		{in: "https://api.resamania.com/path?", err: "query"},
		{in: "https://api.resamania.com/#frag", err: "fragment"},
		{in: "https://api.resamania.com#", err: "fragment"},
		{in: "https://api.resamania.com:99999", err: "invalid port"},
		{in: "https://api.resamania.com:0", err: "invalid port"},
		{in: "https://api.resamania.com:123456", err: "invalid port"},
		{in: "https://api.resamania.com:http", err: "not a valid URL"},
		{in: "https://api.resamania.com/../admin", err: `".."`},
		{in: "https://api.resamania.com/env/..", err: `".."`},
		{in: "https://api.resamania.com/env/%2e%2e/x", err: `".."`},
		{in: "https://api.resamania.com/./env", err: `"."`},
		{in: "https://api resamania.com", err: "not a valid URL"},
	}
	for _, tc := range cases {
		name := tc.in
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			got, err := NormalizeBaseURL(tc.in)
			if tc.want != "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				again, err := NormalizeBaseURL(got)
				require.NoError(t, err, "the canonical form is accepted")
				require.Equal(t, got, again, "normalising is idempotent")
				return
			}
			require.Error(t, err)
			require.Empty(t, got)
			require.Contains(t, err.Error(), tc.err)
			require.NotContains(t, err.Error(), "hunter2", "a password in the URL is never echoed")
		})
	}
}

func TestTokenURL(t *testing.T) {
	cases := []struct{ base, chain, want string }{
		{"https://api.resamania.com", "chain1", "https://api.resamania.com/chain1/oauth/v2/token"},
		{"https://api.resamania.com/", "chain1", "https://api.resamania.com/chain1/oauth/v2/token"},
		{"https://gw.example.com/integration", "chain1", "https://gw.example.com/integration/chain1/oauth/v2/token"},
		{"https://gw.example.com/integration/", "chain1", "https://gw.example.com/integration/chain1/oauth/v2/token"},
		{"https://gw.example.com/integration//", "chain1", "https://gw.example.com/integration/chain1/oauth/v2/token"},
		// A client token is one path segment, whatever it holds.
		{"https://api.resamania.com", "a/b", "https://api.resamania.com/a%2Fb/oauth/v2/token"},
	}
	for _, tc := range cases {
		t.Run(tc.base+" "+tc.chain, func(t *testing.T) {
			require.Equal(t, tc.want, TokenURL(tc.base, tc.chain))
		})
	}
}

func TestLoginURL(t *testing.T) {
	cases := []struct {
		name                                                string
		base, chain, clientID, redirect, state, scope, want string
	}{
		{
			name: "no state, no scope", base: "https://api.resamania.com/", chain: "chain1", clientID: "12_abc",
			redirect: "https://app.example/cb?x=1",
			want:     "https://api.resamania.com/chain1/oauth/login?response_type=code&client_id=12_abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1",
		},
		{
			name: "prefix, state and scope", base: "https://gw.example.com/integration", chain: "chain1", clientID: "12_abc",
			redirect: "https://app.example/cb", state: "s&t=1", scope: "read write",
			want: "https://gw.example.com/integration/chain1/oauth/login?response_type=code&client_id=12_abc" +
				"&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=s%26t%3D1&scope=read+write",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, LoginURL(LoginPage(tc.base, tc.chain), tc.clientID, tc.redirect, tc.state, tc.scope))
		})
	}
}
