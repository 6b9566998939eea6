package resamania

import (
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// TestAllowedHostsRefuseAnyOtherHost: with RESAMANIA_ALLOWED_HOSTS set in the
// plugin's environment, a config whose API or sign-in page is on another host
// is a 400 that names the variable; nothing is sent or stored. Loopback is
// allowed only when listed.
func TestAllowedHostsRefuseAnyOtherHost(t *testing.T) {
	t.Setenv("RESAMANIA_ALLOWED_HOSTS", "api.resamania.com, *.resamania.com")
	env := getTestBackend(t)
	resp, err := env.writeConfig(testChain, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError(), "a loopback API, not listed, was accepted")
	require.Contains(t, resp.Error().Error(), "api_base_url host \"127.0.0.1\" is not in RESAMANIA_ALLOWED_HOSTS")
	require.Empty(t, env.dumpStorage())
	require.Zero(t, env.fake.TokenRequests("", ""))

	t.Setenv("RESAMANIA_ALLOWED_HOSTS", "api.resamania.com,*.resamania.com,127.0.0.1")
	env = getTestBackend(t)
	env.configure(nil)
	before, err := getChainConfig(t.Context(), env.storage, testChain)
	require.NoError(t, err)
	for page, allowed := range map[string]bool{
		"https://api.resamania.com/oauth/login/{client_token}":     true,
		"https://members.resamania.com/oauth/login/{client_token}": true,
		"https://resamania.com.evil.example/login":                 false,
		"https://evilresamania.com/login":                          false,
	} {
		resp, err := env.request(logical.UpdateOperation, "config/"+testChain, map[string]any{"login_url": page, "client_secret": testSecret})
		require.NoError(t, err)
		if allowed {
			require.Nil(t, resp, page)
			continue
		}
		require.True(t, resp.IsError(), "%s was accepted", page)
		require.Contains(t, resp.Error().Error(), "login_url host")
		require.Contains(t, resp.Error().Error(), "RESAMANIA_ALLOWED_HOSTS")
	}
	env.configure(map[string]any{"login_url": ""})
	after, err := getChainConfig(t.Context(), env.storage, testChain)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"login_url": ""}, after.Written, "an empty login_url reads back as written")
	after.Written = nil
	require.True(t, before.equal(after), "back to the config before: %+v", after)
}
func TestAllowedHostsMatching(t *testing.T) {
	hosts := parseAllowedHosts(" API.resamania.com ,*.resamania.com,, 127.0.0.1,[::1]")
	for host, want := range map[string]bool{
		"api.resamania.com":   true,
		"API.Resamania.com.":  true,
		"a.resamania.com":     true,
		"a.b.resamania.com":   true,
		"resamania.com":       false, // a wildcard names subdomains only
		"evilresamania.com":   false,
		"resamania.com.evil":  false,
		"127.0.0.1":           true,
		"::1":                 true,
		"localhost":           false,
		"api.resamania.com.x": false,
	} {
		require.Equal(t, want, hosts.allows(host), host)
	}
	require.True(t, parseAllowedHosts("").allows("anything.example"), "unset: no restriction")
	require.False(t, parseAllowedHosts("*.").allows("x.example"), "a bad entry allows nothing")
}

// TestStoredConfigOutsideTheAllowedHostsIsNotServed: a config stored before
// the list was set (or before it was narrowed) sends nothing: its reads are
// a 400 that names the variable and the fix, until the config is written
// again with a listed host.
func TestStoredConfigOutsideTheAllowedHostsIsNotServed(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)

	t.Setenv("RESAMANIA_ALLOWED_HOSTS", "api.resamania.com")
	listed := otherNode(t, env, env.storage) // the plugin registered again, with the list, and reloaded
	resp, err := listed.request(logical.ReadOperation, "token/"+testChain, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError(), "a stored config on an unlisted host was served")
	require.Contains(t, resp.Error().Error(), "nothing was sent")
	require.Contains(t, resp.Error().Error(), `api_base_url host "127.0.0.1" is not in RESAMANIA_ALLOWED_HOSTS`)
	require.Zero(t, env.fake.TokenRequests("", ""))
	resp, err = listed.request(logical.ReadOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "the operator reads the config to fix it")
	require.Equal(t, env.fake.URL(), resp.Data["api_base_url"])
	require.Len(t, resp.Warnings, 1)
	require.Contains(t, resp.Warnings[0], "RESAMANIA_ALLOWED_HOSTS")

	t.Setenv("RESAMANIA_ALLOWED_HOSTS", "api.resamania.com,127.0.0.1")
	relisted := otherNode(t, env, env.storage)
	resp, err = relisted.request(logical.ReadOperation, "token/"+testChain, nil)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp.Error())
}
