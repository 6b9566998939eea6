package resamania

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// TestGatewayWindowHoldsEveryChainOfTheKey: 50 chains share one gateway key.
// A 429 on one closes the key's window until a reset two hours away: that
// read fails at once with a 503 naming the limit and its end, a chain with a
// cached token keeps serving it, and no request using the key is sent until
// the window ends; then each chain mints once.
func TestGatewayWindowHoldsEveryChainOfTheKey(t *testing.T) {
	env := getTestBackendWith(t, fakeresamania.Options{GatewayKey: testAPIKey})
	chains := make([]string, 50)
	for i := range chains {
		chains[i] = fmt.Sprintf("chain%02d", i)
		env.fake.AddClient(fakeresamania.Client{ClientToken: chains[i], ClientID: testClientID, ClientSecret: testSecret})
		resp, err := env.request(logical.CreateOperation, "config/"+chains[i], map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret, "api_key": testAPIKey, "verify_connection": false})
		require.NoError(t, err)
		require.False(t, resp.IsError(), "%v", resp)
	}
	cached := env.mustRead(t, "token/"+chains[0]).Data["access_token"]

	reset := env.clock.Now().Add(2 * time.Hour)
	env.fake.CloseGatewayWindow(testAPIKey, fakeresamania.LimitRate, reset)
	start := time.Now()
	_, err := env.request(logical.ReadOperation, "token/"+chains[1], nil)
	require.Less(t, time.Since(start), 2*time.Second, "no wait for a window hours away")
	require.Error(t, err)
	require.Equal(t, 503, err.(logical.HTTPCodedError).Code())
	require.Contains(t, err.Error(), "rate limit is reached until "+reset.UTC().Format(time.RFC3339))
	require.Equal(t, 1, env.fake.GatewayRefusals(testAPIKey))

	for _, chain := range chains[2:] {
		_, err := env.request(logical.ReadOperation, "token/"+chain, nil)
		require.ErrorContains(t, err, "was not sent", chain)
	}
	require.Equal(t, cached, env.mustRead(t, "token/"+chains[0]).Data["access_token"], "a cached token still serves")
	env.clock.Advance(40 * time.Minute) // chain00's token is past its refresh point
	stale, err := env.request(logical.ReadOperation, "token/"+chains[0], nil)
	require.NoError(t, err)
	require.Equal(t, cached, stale.Data["access_token"], "and past its refresh point, with a warning")
	require.NotEmpty(t, stale.Warnings)
	require.Contains(t, stale.Warnings[0], "rate limit is reached")
	require.NoError(t, env.b.periodic(t.Context(), &logical.Request{Storage: env.storage}), "background work")
	require.Equal(t, 1, env.fake.GatewayRefusals(testAPIKey), "nothing was sent while the window was closed, background work included")

	env.clock.Advance(81 * time.Minute) // past the reset
	for _, chain := range chains[1:] {
		env.mustRead(t, "token/"+chain)
	}
	require.Equal(t, 1, env.fake.GatewayRefusals(testAPIKey))
	for _, chain := range chains[1:] {
		require.Equal(t, 1, env.fake.TokenRequests(chain, "client_credentials"), "%s minted once", chain)
	}
}

// TestGatewayHoldSurvivesReload: the window a 429 closed is stored, so a
// reloaded mount, and a standby told of the write, send nothing into it; once
// it has ended, the stored window is deleted.
func TestGatewayHoldSurvivesReload(t *testing.T) {
	env := getTestBackendWith(t, fakeresamania.Options{GatewayKey: testAPIKey})
	other := "otherchain"
	env.fake.AddClient(fakeresamania.Client{ClientToken: other, ClientID: testClientID, ClientSecret: testSecret})
	env.configure(map[string]any{"api_key": testAPIKey})
	resp, err := env.request(logical.CreateOperation, "config/"+other, map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret, "api_key": testAPIKey, "verify_connection": false})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)

	reset := env.clock.Now().Add(2 * time.Hour)
	env.fake.CloseGatewayWindow(testAPIKey, fakeresamania.LimitQuota, reset)
	_, err = env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.ErrorContains(t, err, "daily quota is reached until")
	stored, err := env.storage.List(t.Context(), gatewayHoldStoragePrefix)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	entry, err := env.storage.Get(t.Context(), gatewayHoldStoragePrefix+stored[0])
	require.NoError(t, err)
	require.NotContains(t, string(entry.Value), testAPIKey)

	reloadBackend(t, env)
	_, err = env.request(logical.ReadOperation, "token/"+other, nil)
	require.ErrorContains(t, err, "was not sent", "the reloaded mount knows the window")

	standby := newBackend(env.clock.Now)
	config := logical.TestBackendConfig()
	config.StorageView = env.storage
	require.NoError(t, standby.Setup(t.Context(), config))
	standby.InvalidateKey(t.Context(), gatewayHoldStoragePrefix+stored[0])
	env.b = standby
	_, err = env.request(logical.ReadOperation, "token/"+other, nil)
	require.ErrorContains(t, err, "was not sent", "a standby told of the write knows the window")
	require.Equal(t, 1, env.fake.GatewayRefusals(testAPIKey), "one request in all: the one the gateway refused")
	require.Zero(t, env.fake.TokenRequests("", ""))

	env.clock.Advance(2*time.Hour + time.Second)
	require.NoError(t, env.b.periodic(t.Context(), &logical.Request{Storage: env.storage}))
	stored, err = env.storage.List(t.Context(), gatewayHoldStoragePrefix)
	require.NoError(t, err)
	require.Empty(t, stored, "an ended window is deleted")
	env.mustRead(t, "token/"+other)
}

// TestNearGatewayResetIsWaitedForByTheRead: a window that ends within the
// read's budget is waited for, then one more request gets the token.
func TestNearGatewayResetIsWaitedForByTheRead(t *testing.T) {
	env := getTestBackendWith(t, fakeresamania.Options{GatewayKey: testAPIKey})
	env.configure(map[string]any{"api_key": testAPIKey})
	closedFor := 1500 * time.Millisecond // a minute's rate limit in its last moments
	env.fake.CloseGatewayWindow(testAPIKey, fakeresamania.LimitRate, env.clock.Now().Add(closedFor))

	start := time.Now()
	read := make(chan error, 1)
	go func() {
		_, err := env.request(logical.ReadOperation, "token/"+testChain, nil)
		read <- err
	}()
	require.Eventually(t, func() bool { return env.fake.GatewayRefusals(testAPIKey) == 1 }, 5*time.Second, 10*time.Millisecond)
	env.clock.Advance(closedFor) // the gateway's clock reaches the reset as the plugin's wait ends
	require.NoError(t, <-read)
	require.GreaterOrEqual(t, time.Since(start), closedFor-100*time.Millisecond, "the read waited for the window")
	require.Equal(t, 1, env.fake.GatewayRefusals(testAPIKey), "no request inside the window")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "client_credentials"), "then one request")
}
