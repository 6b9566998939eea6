package resamania

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// What one reader with the narrowest policy can cost everyone else: the
// gateway key's budget, shared by every chain on it, and the mount's
// requests in flight.

// TestMinimumAboveTheTokensLifeIsRefusedUnasked: once a key's token is
// known to live 30 s, asking for more is a 400 that costs Resamania nothing.
func TestMinimumAboveTheTokensLifeIsRefusedUnasked(t *testing.T) {
	env := getTestBackend(t)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: 30})
	env.configure(nil)
	env.readToken(nil)
	for range 20 {
		resp, err := env.request(logical.ReadOperation, "token/"+testChain, map[string]any{"minimum_seconds": 86400})
		require.NoError(t, err)
		require.True(t, resp.IsError())
		require.Contains(t, resp.Error().Error(), "tokens live 30s, so minimum_seconds=86400 cannot be met (nothing was asked of Resamania: ask for at most 30)")
	}
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "client_credentials"), "only the first read asked")
	require.Equal(t, 20.0, env.metricValue(t, metricReadsBounded, map[string]string{"bound": boundMinimumAboveLife}))
}

// TestRefusedClubIsRememberedUnasked: 20 reads of 10 club ids Resamania
// does not know cost 10 requests; they are asked again after 5 minutes, or
// at once after a change of the chain's config.
func TestRefusedClubIsRememberedUnasked(t *testing.T) {
	env := getChainWithEverything(t)
	grant := fakeresamania.GrantClubCredentials
	before := env.fake.TokenRequests(testChain, grant)
	readClubs := func() {
		t.Helper()
		for i := range 20 {
			resp, err := env.request(logical.ReadOperation, "token/"+testChain+"/clubs/"+strconv.Itoa(900+i%10), nil)
			require.NoError(t, err)
			require.True(t, resp.IsError())
			require.Contains(t, resp.Error().Error(), "Resamania does not know club")
		}
	}
	readClubs()
	require.Equal(t, before+10, env.fake.TokenRequests(testChain, grant), "each made-up club asked once")
	require.Equal(t, 10.0, env.metricValue(t, metricReadsBounded, map[string]string{"bound": boundRefusalRemembered}))

	env.clock.Advance(refusalMemory)
	readClubs()
	require.Equal(t, before+20, env.fake.TokenRequests(testChain, grant), "asked again once the memory ended")

	env.configure(map[string]any{"scope": "read"})
	readClubs()
	require.Equal(t, before+30, env.fake.TokenRequests(testChain, grant), "and after a config change")
	require.LessOrEqual(t, env.b.refusals.count(), 10)
}

// TestOneChainCannotTakeEveryInFlightSlot: a chain whose 40 club reads are
// all held at Resamania holds only its share of the mount's requests in
// flight; another chain's read is served meanwhile.
func TestOneChainCannotTakeEveryInFlightSlot(t *testing.T) {
	env := getChainWithEverything(t)
	const other = "otherchain"
	env.fake.AddClient(fakeresamania.Client{ClientToken: other, ClientID: testClientID, ClientSecret: testSecret})
	resp, err := env.request(logical.CreateOperation, "config/"+other, map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret, "verify_connection": false})
	require.NoError(t, err)
	require.False(t, resp.IsError())
	for i := range 40 {
		env.fake.AddClub(testChain, 100+i)
	}
	env.fake.InjectFault(fakeresamania.Fault{Delay: time.Minute, GrantType: fakeresamania.GrantClubCredentials})

	var held sync.WaitGroup
	for i := range 40 {
		held.Go(func() {
			_, _ = env.request(logical.ReadOperation, "token/"+testChain+"/clubs/"+strconv.Itoa(100+i), nil)
		})
	}
	require.Eventually(t, func() bool { return env.b.chains.inFlight.ShareWaits() > 0 }, 10*time.Second, time.Millisecond, "the busy chain waits for its share")

	resp, err = env.request(logical.ReadOperation, "token/"+other, nil)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "another chain is served while the busy one waits: %v", resp.Error())
	require.LessOrEqual(t, env.fake.InFlightHighWater(), maxChainInFlight+1)
	env.fake.Close() // ends the held requests
	held.Wait()
}
