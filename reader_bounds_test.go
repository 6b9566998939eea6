package resamania

import (
	"net/http"
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

// TestForcedMintsAreSpacedPerKey: a reader that asks, every 2 s for a
// minute, for more life than the cached token has left forces one mint per
// 30 s (the floor of max(life/10, 30 s)); the other reads are a 429 that
// says when to retry, and a reader content with the token in hand is served
// from the cache throughout.
func TestForcedMintsAreSpacedPerKey(t *testing.T) {
	env := getTestBackend(t)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: 60})
	env.configure(nil)
	env.readToken(nil)
	spaced := 0
	for range 30 {
		env.clock.Advance(2 * time.Second)
		resp, err := env.request(logical.ReadOperation, "token/"+testChain, map[string]any{"minimum_seconds": 59})
		if err != nil {
			var coded logical.HTTPCodedError
			require.ErrorAs(t, err, &coded)
			require.Equal(t, http.StatusTooManyRequests, coded.Code())
			require.Regexp(t, `minimum_seconds=59 needs a new token, .* at most one such mint per 30s; retry in \d+ s, or ask for at most \d+ s`, err.Error())
			spaced++
		} else {
			require.False(t, resp.IsError(), "%v", resp.Error())
		}
		require.NotNil(t, env.readToken(nil).Data["access_token"], "a reader without a minimum is served")
	}
	mints := env.fake.TokenRequests(testChain, "client_credentials")
	require.Equal(t, 1+2, mints, "the first read's mint, then one forced mint per 30 s over 60 s")
	require.Equal(t, 28, spaced)
	require.Equal(t, 28.0, env.metricValue(t, metricReadsBounded, map[string]string{"bound": boundForcedMintSpacing}))
}

// TestConcurrentForcedReadsShareOneMint: 20 readers forcing a mint at once
// get the token of a single request.
func TestConcurrentForcedReadsShareOneMint(t *testing.T) {
	env := getTestBackend(t)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: 60})
	env.configure(nil)
	env.readToken(nil)
	env.clock.Advance(2 * time.Second)
	env.fake.InjectFault(fakeresamania.Fault{Delay: 200 * time.Millisecond, GrantType: "client_credentials"})
	tokens := make([]any, 20)
	var readers sync.WaitGroup
	for i := range tokens {
		readers.Go(func() {
			resp, err := env.request(logical.ReadOperation, "token/"+testChain, map[string]any{"minimum_seconds": 59})
			if err == nil && !resp.IsError() {
				tokens[i] = resp.Data["access_token"]
			}
		})
	}
	readers.Wait()
	require.Equal(t, 2, env.fake.TokenRequests(testChain, "client_credentials"))
	for _, tok := range tokens {
		require.Equal(t, tokens[0], tok, "every forced reader got the one new token")
	}
	require.NotNil(t, tokens[0])
}

// TestForcedMemberRefreshesAreSpaced: the same bound holds a member's
// refresh grants (and their storage writes): a looping forced reader
// spends one refresh token per 30 s, not one per read.
func TestForcedMemberRefreshesAreSpaced(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	env.signIn(t)
	env.readCred(t)
	spaced := 0
	for range 10 {
		env.clock.Advance(time.Second)
		if _, err := env.readFresh(memberLife - 1); err != nil {
			require.Contains(t, err.Error(), "at most one such mint per 30s")
			spaced++
		}
	}
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"), "one forced refresh in 10 s")
	// Of the ten reads, two found 19 s left (the sign-in's token at 1 s,
	// the forced one's at 3 s) and one forced the refresh.
	require.Equal(t, 7, spaced)
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
