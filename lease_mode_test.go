package resamania

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

func TestLeaseModeSettings(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	mode := func() (string, bool) {
		d := env.mustRead(t, "config/"+testChain).Data
		return d["lease_mode"].(string), d["no_lease"].(bool)
	}
	m, noLease := mode()
	require.Equal(t, leaseNonRenewable, m, "the default")
	require.False(t, noLease)

	env.configure(map[string]any{"no_lease": true})
	m, noLease = mode()
	require.Equal(t, leaseNone, m, "no_lease=true is lease_mode none")
	require.True(t, noLease)
	env.configure(map[string]any{"no_lease": false})
	m, _ = mode()
	require.Equal(t, leaseNonRenewable, m)

	env.configure(map[string]any{"lease_mode": "renewable"})
	m, noLease = mode()
	require.Equal(t, leaseRenewable, m)
	require.False(t, noLease)
	env.configure(map[string]any{"no_lease": false})
	m, _ = mode()
	require.Equal(t, leaseRenewable, m, "no_lease=false leaves a leased mode as it is")

	before := env.dumpStorage()
	for _, bad := range []map[string]any{{"lease_mode": "forever"}, {"lease_mode": "none", "no_lease": false}, {"lease_mode": "renewable", "no_lease": true}} {
		resp, err := env.request(logical.UpdateOperation, "config/"+testChain, bad)
		require.NoError(t, err)
		require.True(t, resp.IsError(), "%v", bad)
		require.Contains(t, resp.Error().Error(), "lease_mode")
	}
	require.Equal(t, before, env.dumpStorage())

	// A config stored before lease_mode existed keeps its meaning.
	require.NoError(t, putChainConfig(t.Context(), env.storage, testChain, &chainConfig{APIBaseURL: env.fake.URL(), ClientID: testClientID, ClientSecret: testSecret, RequestTimeout: time.Second, NoLease: true}))
	m, _ = mode()
	require.Equal(t, leaseNone, m)
}

func TestRenewableLeaseRenewsUpToItsEndOnly(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"lease_mode": "renewable"})
	resp := env.readToken(nil)
	require.True(t, resp.Secret.Renewable)
	require.Equal(t, 3540*time.Second, resp.Secret.TTL)
	require.Equal(t, 3540*time.Second, resp.Secret.MaxTTL, "Vault caps every renewal at IssueTime+MaxTTL: the lease's end")

	secret := resp.Secret
	secret.IssueTime = env.clock.Now()
	renew := func() (*logical.Response, error) {
		return env.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.RenewOperation, Secret: secret, Storage: env.storage})
	}
	env.clock.Advance(40 * time.Minute)
	r, err := renew()
	require.NoError(t, err)
	require.False(t, r.IsError(), "%v", r.Error())
	require.Equal(t, 1140*time.Second, r.Secret.TTL, "what is left to the lease's end, not more")
	require.Equal(t, 3540*time.Second, r.Secret.MaxTTL)

	env.clock.Advance(19 * time.Minute) // the lease's end: a minute before the token expires
	r, err = renew()
	require.NoError(t, err)
	require.True(t, r.IsError(), "no renewal past the lease's end")
	require.Contains(t, r.Error().Error(), "read the path again")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, ""), "renewals never mint")

	// A non-renewable lease stays so.
	env.configure(map[string]any{"lease_mode": "non_renewable"})
	require.False(t, env.readToken(nil).Secret.Renewable)
}

// TestRenewableReadsTakeATokenWithMostOfItsLifeLeft: Vault Proxy lets a
// renewable lease go at about 2/3 of what it had left, so a renewable read
// never hands out a token past 55% of its life; a non-renewable read still
// serves it until a third is left.
func TestRenewableReadsTakeATokenWithMostOfItsLifeLeft(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"lease_mode": "non_renewable"})
	first := env.readToken(nil).Data["access_token"]
	env.clock.Advance(36 * time.Minute) // 60% of its life
	require.Equal(t, first, env.readToken(nil).Data["access_token"], "non_renewable: still fresh")

	env.configure(map[string]any{"lease_mode": "renewable"})
	env.readToken(nil)                  // the config change dropped the token: a new one
	env.clock.Advance(32 * time.Minute) // 53%: still served
	second := env.readToken(nil)
	require.Equal(t, 2, env.fake.TokenRequests(testChain, ""))
	env.clock.Advance(2 * time.Minute) // 57%
	third := env.readToken(nil)
	require.NotEqual(t, second.Data["access_token"], third.Data["access_token"], "renewable: a newer token past 55%")
	require.Equal(t, 3, env.fake.TokenRequests(testChain, ""))
	require.Empty(t, third.Warnings)

	// While Resamania fails, the token in hand still serves, with a warning.
	env.clock.Advance(34 * time.Minute)
	env.fake.InjectFault(fakeresamania.Fault{Status: 503})
	stale := env.readToken(nil)
	require.Equal(t, third.Data["access_token"], stale.Data["access_token"])
	require.NotEmpty(t, stale.Warnings)
}

// TestRenewableMintsOfShortTokensAreNotSpaced: the renewable mode's own
// minimum (45% of the life left) forces one mint per token, which the
// spacing of readers' forced mints (30 s at least) must not hold back:
// tokens of 20 s, read at 57% of each one's life, 11.5 s apart, each get a
// newer token without a warning.
func TestRenewableMintsOfShortTokensAreNotSpaced(t *testing.T) {
	env := getTestBackend(t)
	env.fake.AddClient(fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: 20})
	env.configure(map[string]any{"lease_mode": "renewable"})
	env.readToken(nil)
	for i := range 3 {
		env.clock.Advance(11500 * time.Millisecond)
		resp := env.readToken(nil)
		require.Empty(t, resp.Warnings)
		require.Equal(t, 2+i, env.fake.TokenRequests(testChain, "client_credentials"))
	}
}

// TestUnleasedReadSaysWhenToReadAgain: the fields that consul-template (Vault
// Agent) and the Vault Secrets Operator read for a rotating secret, with
// their types; a reader coming back after ttl+1 seconds gets a newer token.
func TestUnleasedReadSaysWhenToReadAgain(t *testing.T) {
	for _, life := range []int{20, 60, 3600} {
		env := getTestBackend(t)
		env.fake.AddClient(fakeClientWithLife(life))
		env.configure(map[string]any{"lease_mode": "none"})
		first := env.readToken(nil)
		require.Nil(t, first.Secret)
		ttl, ok := first.Data["ttl"].(int64)
		require.True(t, ok, "ttl is an integer: %T", first.Data["ttl"])
		require.Equal(t, ttl, first.Data["rotation_period"], "read at issue: the next token comes rotation_period after it")
		require.Less(t, ttl, int64(life), "before this one expires")
		issued, err := time.Parse(time.RFC3339Nano, first.Data["last_vault_rotation"].(string))
		require.NoError(t, err)
		require.Equal(t, env.clock.Now().UTC(), issued)
		require.Positive(t, ttl)
		require.Less(t, ttl, int64(life))

		env.clock.Advance(time.Duration(ttl-1) * time.Second)
		same := env.readToken(nil)
		require.Equal(t, first.Data["access_token"], same.Data["access_token"], "life %d: still served before ttl", life)
		require.Equal(t, int64(1), same.Data["ttl"])

		env.clock.Advance(2 * time.Second) // consul-template sleeps ttl+1
		next := env.readToken(nil)
		require.NotEqual(t, first.Data["access_token"], next.Data["access_token"], "life %d: a newer token after ttl+1", life)
		require.Greater(t, next.Data["expires_in"].(int64), int64(life)/2)
	}
}

func fakeClientWithLife(seconds int) fakeresamania.Client {
	return fakeresamania.Client{ClientToken: testChain, ClientID: testClientID, ClientSecret: testSecret, ExpiresIn: seconds}
}
