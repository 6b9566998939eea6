package resamania

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// tick runs the background work once, as Vault's periodic function does.
func (e *testEnv) tick(t *testing.T) {
	t.Helper()
	require.NoError(t, e.b.periodic(t.Context(), &logical.Request{Storage: e.storage}))
}

func TestKeepAliveRefreshesBeforeRefreshTokenLapses(t *testing.T) {
	env := getCredsBackend(t, 3600, map[string]any{"refresh_token_ttl": "1h"})
	env.signIn(t)

	env.clock.Advance(20 * time.Minute)
	env.tick(t)
	require.Zero(t, env.fake.TokenRequests(testChain, "refresh_token"), "not yet half way")

	env.clock.Advance(11 * time.Minute)
	env.tick(t)
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))
	env.tick(t)
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"), "the new refresh token starts a new half life")

	// A member away for a month keeps the grant: one refresh per half life
	// of the refresh token (30 minutes here), ticks every 10 minutes.
	for i := 0; i < 30*24*6; i++ {
		env.clock.Advance(10 * time.Minute)
		env.tick(t)
	}
	require.Equal(t, "active", env.credStatus(t)["state"])
	require.True(t, env.fake.AccessTokenValid(env.readCred(t).Data["access_token"].(string)))
	require.InDelta(t, 1+30*24*2, env.fake.TokenRequests(testChain, "refresh_token"), 3)
}

func TestBackgroundWorkOnlyWhereStorageIsOwned(t *testing.T) {
	env := getCredsBackend(t, 3600, map[string]any{"refresh_token_ttl": "1h"})
	env.signIn(t)
	env.b.System().(*cachedSystemView).SystemView.(*logical.StaticSystemView).ReplicationStateVal = consts.ReplicationPerformanceStandby
	env.clock.Advance(45 * time.Minute)
	env.tick(t)
	require.Zero(t, env.fake.TokenRequests(testChain, "refresh_token"))
}

func TestReadTokensAreRefreshedAhead(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	first := env.readToken(nil).Data["access_token"]
	env.clock.Advance(35 * time.Minute) // past half its life, before the read path's refresh point
	env.tick(t)
	require.Equal(t, 2, env.fake.TokenRequests(testChain, ""))

	resp := env.readToken(nil)
	require.NotEqual(t, first, resp.Data["access_token"], "the read finds the token refreshed ahead")
	require.Equal(t, 2, env.fake.TokenRequests(testChain, ""), "and waits on nothing")
}

func TestHeldCredentialIsSavedByTheNextTick(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	env.signIn(t)
	env.clock.Advance(59 * time.Minute) // past the read's refresh point
	q := newQuorumStorage(env.storage)
	env.storage = q
	q.lose(1) // the fence commits, the answer does not
	resp, err := env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.NotEmpty(t, resp.Warnings)
	require.Contains(t, resp.Warnings[0], "held in memory")
	require.Equal(t, true, env.credStatus(t)["unsaved"])

	env.tick(t)
	require.Equal(t, true, env.credStatus(t)["unsaved"], "still held while storage fails")
	q.regain()
	env.tick(t)
	require.Equal(t, false, env.credStatus(t)["unsaved"], "stored by the tick, before any read")
	held, err := getCredential(t.Context(), env.storage, credKey(testChain, testMember))
	require.NoError(t, err)
	require.Equal(t, 1, held.Refreshes, "the stored credential is the refreshed one")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"), "saving sends nothing")
}

func TestKeepAliveRefreshesAtMostABatchPerTickOldestFirst(t *testing.T) {
	env := getCredsBackend(t, 3600, map[string]any{"refresh_token_ttl": "1h"})
	total := keepAliveBatch + 10
	for i := range total {
		resp, err := env.request(logical.CreateOperation, fmt.Sprintf("creds/%s/m%02d", testChain, i), map[string]any{"refresh_token": env.refreshTokenFromFake(t)})
		require.NoError(t, err)
		require.False(t, resp.IsError(), "%v", resp)
		env.clock.Advance(time.Second) // m00 is the oldest
	}
	imports := env.fake.TokenRequests(testChain, "refresh_token")
	env.clock.Advance(31 * time.Minute)

	env.tick(t)
	require.Equal(t, keepAliveBatch, env.fake.TokenRequests(testChain, "refresh_token")-imports)
	for i := range total {
		c, err := getCredential(t.Context(), env.storage, credKey(testChain, fmt.Sprintf("m%02d", i)))
		require.NoError(t, err)
		require.Equal(t, i < keepAliveBatch, c.Refreshes > 0, "m%02d: the oldest are refreshed first", i)
	}
	env.tick(t)
	require.Equal(t, total, env.fake.TokenRequests(testChain, "refresh_token")-imports, "the rest at the next tick")
}

func TestExpiredAuthStatesAreForgotten(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	env.issueState(t, "old", testRedirect)
	env.clock.Advance(authStateTTL / 2)
	_, young := env.issueState(t, "young", testRedirect)
	env.clock.Advance(authStateTTL/2 + time.Second)

	env.tick(t)
	stored, err := env.storage.List(t.Context(), authStateStoragePrefix+testChain+"/")
	require.NoError(t, err)
	require.Equal(t, []string{authStateKey(testChain, young)[len(authStateStoragePrefix+testChain+"/"):]}, stored)
}

// fixedScan is a credentialScanner that reports what it is given.
type fixedScan struct{ dueCreds []dueCredential }

func (f *fixedScan) scan(context.Context, logical.Storage, time.Time) (credentialScan, error) {
	return credentialScan{due: f.dueCreds}, nil
}

func TestKeepAliveRefreshesWhatTheScannerFinds(t *testing.T) {
	env := getCredsBackend(t, 3600, nil)
	env.signIn(t) // not due by the full scan: its refresh token is new
	env.b.keepAliveScan = &fixedScan{dueCreds: []dueCredential{{chain: testChain, name: testMember, timeout: time.Second}}}
	env.tick(t)
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))
	require.Equal(t, 1, env.credStatus(t)["refreshes"])
}

// TestTickCutOffStartsNoMoreRefreshes: Vault cuts a tick off (its context
// ends); the refreshes not yet started wait for the next tick instead of all
// starting at once, unbounded.
func TestTickCutOffStartsNoMoreRefreshes(t *testing.T) {
	var started atomic.Int32
	jobs := make([]func(), 10)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for i := range jobs {
		jobs[i] = func() {
			if started.Add(1) == 3 { // one at a time: n is 1
				cancel()
			}
		}
	}
	runBounded(ctx, jobs, 1)
	require.Equal(t, int32(3), started.Load(), "none started once the tick ended")

	_, src, c := cacheUnderTest(time.Hour)
	require.ErrorIs(t, c.refresh(ctx, "k", src), context.Canceled)
	requireCounts(t, src, 0, 0)
}

// TestFailedKeepAliveRefreshIsLoggedOnce: one warning names the credential
// that failed, not one from the source and another from the tick.
func TestFailedKeepAliveRefreshIsLoggedOnce(t *testing.T) {
	env := getCredsBackend(t, 3600, map[string]any{"refresh_token_ttl": "1h", "request_timeout": "1s"})
	env.signIn(t)
	env.clock.Advance(31 * time.Minute)
	env.fake.InjectFault(fakeresamania.Fault{Status: 400, ContentType: "application/json", Body: `{"error":"invalid_request","error_description":null}`, GrantType: fakeresamania.GrantRefreshToken})
	before := len(env.logs.String())
	env.tick(t)
	tickLog := env.logs.String()[before:]
	var lines []string
	for _, line := range strings.Split(tickLog, "\n") {
		if strings.Contains(line, "[WARN]") && strings.Contains(line, credKey(testChain, testMember)) {
			lines = append(lines, line)
		}
	}
	require.Len(t, lines, 1, "the tick's warnings about the credential:\n%s", tickLog)
}
