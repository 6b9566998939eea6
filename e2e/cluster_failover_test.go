package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// A crash of the active node while readers read through every node: reads
// resume on the survivors within the SLO, fail only in the failover window,
// and no member's refresh token is lost or sent twice.
func TestClusterFailoverKeepsEveryRefreshToken(t *testing.T) {
	const (
		tokenLife = 5 // seconds: a refresh every ~3 s per credential
		members   = 2
	)
	cs := newClusterStack(t, tokenLife)
	c := cs.cluster
	active := c.Active(t)
	cs.configure(t, active, nil)

	names := cs.signInAtOnce(t, members, c.Standbys(active))
	paths := []string{tokenPath}
	for _, name := range names {
		paths = append(paths, credsPrefix+name)
	}
	readers := startClusterReaders(t, c, paths, 100*time.Millisecond)
	// Warm up over two refresh rounds.
	require.Eventually(t, func() bool { return cs.fake.TokenRequests(chain, "refresh_token") >= 2*members }, 30*time.Second, 100*time.Millisecond,
		"credentials refresh before the failover")

	quietStart := time.Now()
	killAt := waitQuietMoment(t, cs.fake, members)
	killedPIDs := cs.node(active).PluginPIDs()
	c.Kill(t, active)
	killDone := time.Now()
	for _, pid := range killedPIDs {
		require.True(t, vaultharness.ProcessGoneWithin(pid, 5*time.Second), "plugin pid %d of the killed node%d is alive 5 s later", pid, active)
	}
	t.Logf("killed the active node%d after waiting %s for a moment with no refresh in flight (the kill took %s)",
		active, killAt.Sub(quietStart).Round(time.Millisecond), killDone.Sub(killAt).Round(time.Millisecond))

	// Reads resume through the surviving nodes: a good read of every path
	// through every survivor that started after the kill.
	resumed := readers.waitReadsResumed(t, c.Standbys(active), len(paths), killAt, killDone)
	newActive := c.WaitActive(t, 10*time.Second)
	require.NotEqual(t, active, newActive)
	failover := slices.Min(slices.Collect(maps.Values(resumed)))
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(resumed)) {
		lines = append(lines, fmt.Sprintf("%s %s", k, resumed[k].Round(time.Millisecond)))
	}
	t.Logf("FAILOVER: node%d is active; first good read %s after the kill; per node and path:\n  %s",
		newActive, failover.Round(time.Millisecond), strings.Join(lines, "\n  "))
	require.Less(t, failover, clusterFailoverSLO)

	// Two more refresh rounds on the new active node, then the killed node
	// comes back as a standby and serves reads again.
	refreshed := cs.fake.TokenRequests(chain, "refresh_token")
	require.Eventually(t, func() bool { return cs.fake.TokenRequests(chain, "refresh_token") >= refreshed+2*members }, 30*time.Second, 100*time.Millisecond,
		"credentials refresh on the new active node")
	c.Restart(t, active)
	readers.waitGoodRead(t, active, time.Now(), 20*time.Second)
	time.Sleep(2 * time.Second)
	readers.halt()
	require.Equal(t, newActive, c.Active(t), "the restarted node came back as a standby")
	results := readers.snapshot()
	failed := requireErrorsOnlyDuringFailover(t, results, resumed, killAt, active)
	t.Logf("readers: %d reads, %d failed (all during the failover or on the dead node)", len(results), failed)

	// No refresh token was lost: after their tokens expire, every credential
	// still refreshes, through every node.
	time.Sleep(time.Duration(tokenLife)*time.Second + 500*time.Millisecond)
	for _, name := range names {
		cs.requireCredentialEverywhere(t, name)
	}

	// No refresh token was sent twice, and only one node's plugin ever
	// called Resamania at a time: the old active's before the kill, the new
	// one's after.
	calls := cs.upstreamCalls(t)
	refreshes := requireNoRefreshTokenReused(t, calls)
	var before, after []attributedCall
	for _, call := range calls {
		switch {
		case call.Time.Before(killAt):
			before = append(before, call)
		case call.Time.After(killDone):
			after = append(after, call)
		default:
			require.Equal(t, active, call.node, "a call during the kill itself can only come from the dying node")
		}
	}
	requireCallsFrom(t, before, active)
	requireCallsFrom(t, after, newActive)
	refreshesAfter := countGrants(after, "refresh_token")
	require.GreaterOrEqual(t, refreshesAfter, 3*members, "credentials kept refreshing on the new active node")
	t.Logf("upstream calls per node: %s (node%d active until killed, then node%d); refresh_token grants: %d (%d before the kill, %d after), all answered 200, all with distinct refresh tokens; client_credentials grants: %d",
		describeCallsPerNode(calls), active, newActive, refreshes, refreshes-refreshesAfter, refreshesAfter, cs.fake.TokenRequests(chain, "client_credentials"))
}

// A leader change in the middle of a refresh, both ways it can happen: a
// graceful step-down while Resamania's answer is on its way (it has rotated
// the refresh token), and a crash while the request is still waiting for
// Resamania (it has not). Neither may lose the member's grant.
func TestClusterLeaderChangeDuringRefresh(t *testing.T) {
	const tokenLife = 5
	cs := newClusterStack(t, tokenLife)
	c := cs.cluster
	first := c.Active(t)
	cs.configure(t, first, nil)
	cs.signIn(t, c.Standbys(first)[0], member)
	path := credsPrefix + member
	stale := func() { time.Sleep(3500 * time.Millisecond) } // a 5 s token is refreshed 3 s in

	// 1. Step-down: Resamania rotates at once and answers 3 s later.
	stale()
	cs.fake.InjectFault(fakeresamania.Fault{GrantType: "refresh_token", Count: 1, AfterProcessing: true, Delay: 3 * time.Second})
	readErr := readInBackground(cs.node(c.Standbys(first)[0]).NewClientNoRetry(t, clusterReadTimeout), path)
	waitRefreshInFlight(t, cs.fake)
	stepDownAt := time.Now()
	c.StepDown(t, first)
	require.NoError(t, <-readErr, "a graceful step-down lets the refresh in flight finish")
	second := c.WaitActive(t, clusterFailoverSLO)
	require.NotEqual(t, first, second)
	t.Logf("node%d stepped down during a refresh; node%d active %s later", first, second, time.Since(stepDownAt).Round(time.Millisecond))
	sec, err := cs.node(second).Client.Logical().Read(path + "/status")
	require.NoError(t, err)
	require.Equal(t, "active", sec.Data["state"])
	require.Equal(t, "1", fmt.Sprint(sec.Data["refreshes"]), "the refresh answered after the step-down was stored")
	stale()
	tok := readAccessToken(t, cs.node(second).Client, path)
	require.True(t, cs.fake.AccessTokenValid(tok), "the new active node refreshes with the rotated token")

	// 2. Crash: the request waits at Resamania, unprocessed, when the active
	// node dies; the connection drops with it, so nothing rotates.
	stale()
	cs.fake.InjectFault(fakeresamania.Fault{GrantType: "refresh_token", Count: 1, Delay: 10 * time.Second})
	readErr = readInBackground(cs.node(c.Standbys(second)[0]).NewClientNoRetry(t, clusterReadTimeout), path)
	unspent := waitRefreshInFlight(t, cs.fake)
	killAt := time.Now()
	c.Kill(t, second)
	killDone := time.Now()
	t.Logf("read in flight when node%d was killed: %v", second, <-readErr)
	third := c.WaitActive(t, clusterFailoverSLO)
	t.Logf("node%d active %s after node%d was killed during a refresh", third, time.Since(killAt).Round(time.Millisecond), second)
	var tokens []string
	for _, i := range c.Standbys(-1) {
		tokens = append(tokens, readAccessToken(t, cs.node(i).Client, path))
	}
	require.True(t, cs.fake.AccessTokenValid(tokens[0]))
	require.Equal(t, tokens[0], tokens[1])
	stale()
	require.True(t, cs.fake.AccessTokenValid(readAccessToken(t, cs.node(third).Client, path)), "and refreshes again")

	// Every refresh answered 200 but the one cut by the crash, whose token,
	// never spent, was the next one sent; each node called only while active.
	calls := cs.upstreamCalls(t)
	var byPhase [3][]attributedCall
	var cut, clean []attributedCall
	for _, call := range calls {
		switch {
		case call.Time.Before(stepDownAt):
			byPhase[0] = append(byPhase[0], call)
		case call.Time.Before(killAt):
			byPhase[1] = append(byPhase[1], call)
		case call.Time.After(killDone):
			byPhase[2] = append(byPhase[2], call)
		default:
			t.Fatalf("an upstream call during the kill itself: %+v", call.RecordedRequest)
		}
		if call.GrantType == "refresh_token" && call.Status == 0 {
			cut = append(cut, call)
		} else {
			clean = append(clean, call)
		}
	}
	requireCallsFrom(t, byPhase[0], first)
	requireCallsFrom(t, byPhase[1], second)
	requireCallsFrom(t, byPhase[2], third)
	require.Len(t, cut, 1, "only the refresh cut by the crash went unanswered")
	require.Equal(t, unspent, cut[0].Form.Get("refresh_token"))
	refreshes := requireNoRefreshTokenReused(t, clean)
	next := ""
	if i := slices.IndexFunc(byPhase[2], func(c attributedCall) bool { return c.GrantType == "refresh_token" }); i >= 0 {
		next = byPhase[2][i].Form.Get("refresh_token")
	}
	require.Equal(t, unspent, next, "the new active node sends the refresh token the crash left unspent")
	t.Logf("upstream calls per node: %s (node%d, then node%d after the step-down, then node%d after the kill); %d refresh grants answered 200, 1 cut by the crash",
		describeCallsPerNode(calls), first, second, third, refreshes)
}

// readInBackground reads path with client in a goroutine; the error (nil on
// success) arrives on the channel.
func readInBackground(client *api.Client, path string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := client.Logical().Read(path)
		done <- err
	}()
	return done
}
