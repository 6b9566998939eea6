package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// A lost Raft quorum loses no member credential (issue 20): the plugin
// sends no refresh token unless a storage write has just committed, so a
// node that cannot store the new refresh token never spends the old one.
// The unit tests of the same scenarios: fence_test.go.

const (
	quorumMemberLife = 20 // seconds: the member's (and the chain's) access tokens
	quorumMinLeft    = quorumMemberLife - 1
	quorumTimeout    = 60 * time.Second // a new leader elected, a node rejoined
)

// readFresh reads the member's credential through client asking for
// quorumMinLeft seconds of life, as a reader that wants a new token does.
func readFresh(client *api.Client) (*api.Secret, error) {
	return client.Logical().ReadWithData(credsPrefix+member, map[string][]string{"minimum_seconds": {strconv.Itoa(quorumMinLeft)}})
}

// waitOlderThanMinLeft waits until a token issued before got has less than
// quorumMinLeft seconds left, so that a readFresh needs a refresh: a wait
// on the clock, a second at most.
func waitOlderThanMinLeft(got time.Time) {
	time.Sleep(time.Until(got.Add(time.Second + 100*time.Millisecond)))
}

// requireFreshRead reads with readFresh and wants a valid token from it.
func (cs *clusterStack) requireFreshRead(t *testing.T, i int) string {
	t.Helper()
	sec, err := readFresh(cs.node(i).NewClientNoRetry(t, clusterReadTimeout))
	require.NoError(t, err, "a fresh token through node%d", i)
	tok, _ := sec.Data["access_token"].(string)
	require.True(t, cs.fake.AccessTokenValid(tok), "a fresh token through node%d", i)
	return tok
}

// quorumAttempts bounds how many times loseQuorum tries to have the plugin
// asked without a quorum: Vault may notice the lost quorum and answer a read
// itself first, which proves nothing about the fence.
const quorumAttempts = 3

// loseQuorum signs the member in through the active node, waits until its
// token has less than quorumMinLeft seconds left, kills both standbys and at
// once asks the active node, now without a quorum, for a fresh token. That
// read must reach the plugin and send nothing: the plugin's fence cannot
// commit, and it answers 503 (storage cannot commit, nothing sent). When
// Vault answered the read itself, before the plugin was asked, the fence did
// not run: the standbys come back and the scenario runs again on whichever
// node leads, up to quorumAttempts times, then the test fails. It returns
// the old active node and the killed ones of the attempt that reached the
// plugin.
func (cs *clusterStack) loseQuorum(t *testing.T) (old int, killed []int) {
	t.Helper()
	c := cs.cluster
	old = c.Active(t)
	cs.configure(t, old, nil)
	cs.signIn(t, old, member)
	issued := time.Now()
	readAccessToken(t, cs.node(old).Client, credsPrefix+member)
	for attempt := 1; ; attempt++ {
		killed = c.Standbys(old)
		client := cs.node(old).NewClientNoRetry(t, clusterReadTimeout)
		waitOlderThanMinLeft(issued)

		sent := cs.fake.TokenRequests(chain, "refresh_token")
		for _, i := range killed {
			c.Kill(t, i)
		}
		sec, err := readFresh(client)
		require.Error(t, err, "no fresh token without a quorum: %v", sec)
		// Not fatal: what a refresh sent now does to the credential is what
		// the rest of the test shows.
		assert.Equal(t, sent, cs.fake.TokenRequests(chain, "refresh_token"), "nothing sent to Resamania without a quorum")
		if strings.Contains(err.Error(), "Vault's storage cannot commit a write, so nothing was sent to Resamania") {
			var re *api.ResponseError
			require.ErrorAs(t, err, &re)
			require.Equal(t, http.StatusServiceUnavailable, re.StatusCode)
			t.Logf("attempt %d: node%d without a quorum: the plugin answered %d: %s", attempt, old, re.StatusCode, strings.Join(re.Errors, "; "))
			return old, killed
		}
		t.Logf("attempt %d: node%d without a quorum: Vault answered before the plugin was asked, so the fence did not run: %v", attempt, old, err)
		require.Less(t, attempt, quorumAttempts, "in %d attempts Vault always answered before the plugin was asked: the fence never ran", quorumAttempts)

		// The standbys come back; the scenario runs again on the leader,
		// with a token it has just made fresh.
		c.StartStopped(t, killed...)
		old = c.WaitActive(t, quorumTimeout)
		for _, i := range c.Standbys(old) {
			c.WaitRejoined(t, i, quorumTimeout)
		}
		sec, err = readFresh(cs.node(old).NewClientNoRetry(t, clusterReadTimeout))
		require.NoError(t, err, "a fresh token through node%d once the quorum is back", old)
		require.True(t, cs.fake.AccessTokenValid(sec.Data["access_token"].(string)))
		issued = time.Now()
	}
}

// refreshLedger logs, for the closing note, what became of the refresh
// tokens in scenario: sent to Resamania, stored (answered and kept), lost
// (answered, never stored: Resamania holds them live while no credential
// does), refused (spent tokens sent). holders is how many credentials hold a
// live refresh token now.
func (cs *clusterStack) refreshLedger(t *testing.T, scenario string, holders int) (sent, lost, refused int) {
	t.Helper()
	for _, r := range cs.fake.Requests() {
		if r.GrantType == fakeresamania.GrantRefreshToken {
			sent++
			if r.Status == http.StatusBadRequest {
				refused++
			}
		}
	}
	lost = cs.fake.LiveRefreshTokens(chain) - holders
	t.Logf("REFRESH TOKENS (%s): %d sent, %d stored, %d lost (answered, never stored), %d refused (spent tokens sent)", scenario, sent, sent-refused-lost, lost, refused)
	return sent, lost, refused
}

// requireNoRefreshLost checks that every refresh token Resamania issued is
// either spent by the plugin or the one the credential holds.
func (cs *clusterStack) requireNoRefreshLost(t *testing.T, scenario string) {
	t.Helper()
	_, lost, refused := cs.refreshLedger(t, scenario, 1)
	require.Zero(t, refused, "no spent refresh token was sent")
	require.Zero(t, lost, "no new refresh token was left unstored")
}

// Both standbys die; a read asks the active node for a fresh token; the
// old active node stalls while the standbys restart and elect one of
// themselves. The credential still refreshes on the new leader, and after
// the old node comes back.
func TestClusterQuorumLostLeadershipMoves(t *testing.T) {
	cs := newClusterStack(t, quorumMemberLife)
	c := cs.cluster
	old, killed := cs.loseQuorum(t)

	c.Stall(t, old)
	stalledAt := time.Now()
	c.StartStopped(t, killed...)
	leader := c.WaitActive(t, quorumTimeout)
	require.NotEqual(t, old, leader)
	t.Logf("node%d stalled; node%d active %s later", old, leader, time.Since(stalledAt).Round(time.Millisecond))

	first := cs.requireFreshRead(t, leader)
	firstAt := time.Now()
	c.Resume(t, old)
	c.WaitRejoined(t, old, quorumTimeout)
	require.Equal(t, leader, c.Active(t), "the old node came back as a standby")
	waitOlderThanMinLeft(firstAt)
	second := cs.requireFreshRead(t, old)
	require.NotEqual(t, first, second, "refreshed again, through the old node")
	require.Equal(t, second, cs.requireCredentialEverywhere(t, member))
	cs.requireNoRefreshLost(t, "quorum lost, leadership moved")

	calls := cs.upstreamCalls(t)
	t.Logf("upstream calls per node: %s (node%d active until the quorum was lost, then node%d)", describeCallsPerNode(calls), old, leader)
	requireNoRefreshTokenReused(t, calls)
}

// The same, but the old active node keeps running: it gets its quorum back
// when one standby returns, and leads again. The credential still refreshes.
func TestClusterQuorumLostLeadershipKept(t *testing.T) {
	cs := newClusterStack(t, quorumMemberLife)
	c := cs.cluster
	old, killed := cs.loseQuorum(t)

	lostAt := time.Now()
	c.StartStopped(t, killed[0])
	leader := c.WaitActive(t, quorumTimeout)
	t.Logf("node%d active %s after the quorum was lost", leader, time.Since(lostAt).Round(time.Millisecond))
	require.Equal(t, old, leader, "the old active node, whose log is the longest, leads again")

	first := cs.requireFreshRead(t, leader)
	firstAt := time.Now()
	c.StartStopped(t, killed[1])
	c.WaitRejoined(t, killed[1], quorumTimeout)
	waitOlderThanMinLeft(firstAt)
	second := cs.requireFreshRead(t, killed[1])
	require.NotEqual(t, first, second)
	require.Equal(t, second, cs.requireCredentialEverywhere(t, member))
	cs.requireNoRefreshLost(t, "quorum lost, leadership kept")
	requireNoRefreshTokenReused(t, cs.upstreamCalls(t))
}

// A full cluster stop and start, all three nodes: the chain's token and the
// member's credential survive, and nothing is minted again. Tokens live
// five minutes here, so that those read before the stop are still fresh
// after the start; the credential then refreshes on demand.
func TestClusterFullStopAndStart(t *testing.T) {
	const life = 300
	cs := newClusterStack(t, life)
	c := cs.cluster
	active := c.Active(t)
	cs.configure(t, active, nil)
	cs.signIn(t, active, member)
	chainToken := readAccessToken(t, cs.node(active).Client, tokenPath)
	memberToken := readAccessToken(t, cs.node(active).Client, credsPrefix+member)

	c.StopAll(t)
	c.StartAll(t)
	for i := range c.Nodes {
		require.Equal(t, chainToken, readAccessToken(t, cs.node(i).Client, tokenPath), "the chain's token through node%d", i)
		require.Equal(t, memberToken, readAccessToken(t, cs.node(i).Client, credsPrefix+member), "the member's token through node%d", i)
	}
	require.Equal(t, 1, cs.fake.TokenRequests(chain, fakeresamania.GrantClientCredentials), "nothing minted again")
	require.Equal(t, 1, cs.fake.TokenRequests(chain, fakeresamania.GrantAuthorizationCode))
	require.Zero(t, cs.fake.TokenRequests(chain, fakeresamania.GrantRefreshToken))

	sec, err := cs.node(c.Active(t)).Client.Logical().ReadWithData(credsPrefix+member, map[string][]string{"minimum_seconds": {fmt.Sprint(life - 1)}})
	require.NoError(t, err, "the credential refreshes after the restart")
	refreshed, _ := sec.Data["access_token"].(string)
	require.NotEqual(t, memberToken, refreshed)
	require.Equal(t, refreshed, cs.requireCredentialEverywhere(t, member))
	cs.requireNoRefreshLost(t, "full stop and start")
}

// The window the fence leaves, made to happen: the fence commits and the
// refresh reaches Resamania, which rotates the refresh token; both standbys
// die before its answer (delayed 3 s) comes back, so the old active node
// cannot store it. Leadership moves. The credential is lost, as nothing can
// prevent here, but it says exactly why: its refresh answer was lost in a
// failover, at that time, from the old node's plugin; the new leader's
// metric counts it.
func TestClusterQuorumLostMidRefreshIsReported(t *testing.T) {
	cs := newClusterStack(t, quorumMemberLife)
	c := cs.cluster
	old := c.Active(t)
	cs.configure(t, old, nil)
	cs.signIn(t, old, member)
	waitOlderThanMinLeft(time.Now())
	killed := c.Standbys(old)

	cs.fake.InjectFault(fakeresamania.Fault{GrantType: fakeresamania.GrantRefreshToken, Count: 1, AfterProcessing: true, Delay: 3 * time.Second})
	readErr := make(chan error, 1)
	go func() {
		_, err := readFresh(cs.node(old).NewClientNoRetry(t, clusterReadTimeout))
		readErr <- err
	}()
	waitRefreshInFlight(t, cs.fake)
	sentAt := time.Now()
	for _, i := range killed {
		c.Kill(t, i)
	}
	t.Logf("the read on node%d, whose refresh was answered after the quorum was lost: %v", old, <-readErr)

	c.Stall(t, old)
	c.StartStopped(t, killed...)
	leader := c.WaitActive(t, quorumTimeout)
	require.NotEqual(t, old, leader)
	_, err := readFresh(cs.node(leader).NewClientNoRetry(t, clusterReadTimeout))
	require.Error(t, err)
	require.Contains(t, err.Error(), "needs the member to sign in again")
	require.Contains(t, err.Error(), "lost in a failover")

	sec, err := cs.node(leader).Client.Logical().Read(credsPrefix + member + "/status")
	require.NoError(t, err)
	require.Equal(t, "sign_in_required", sec.Data["state"])
	reason, _ := sec.Data["state_reason"].(string)
	t.Logf("status through node%d: %s", leader, reason)
	pids := cs.node(old).PluginPIDs()
	require.NotEmpty(t, pids)
	require.Contains(t, reason, fmt.Sprintf("plugin pid %d) was lost in a failover", pids[len(pids)-1]), "names the old node's plugin")
	sentRecorded := regexpRFC3339.FindString(reason)
	at, perr := time.Parse(time.RFC3339, sentRecorded)
	require.NoError(t, perr, "a time in %q", reason)
	require.WithinDuration(t, sentAt, at, 5*time.Second, "the time the lost refresh was sent")

	metrics, err := cs.node(leader).Client.Logical().Read(mount + "/metrics")
	require.NoError(t, err)
	series, _ := metrics.Data["resamania_refresh_answers_lost_in_failover_total"].([]any)
	require.Len(t, series, 1)
	require.Equal(t, "1", fmt.Sprint(series[0].(map[string]any)["value"]), "the new leader counts it")

	sent, lost, refused := cs.refreshLedger(t, "quorum lost mid-refresh, leadership moved", 0)
	require.Equal(t, []int{2, 1, 1}, []int{sent, lost, refused}, "the one answer lost in the window, and the refusal that reports it")
}

// regexpRFC3339 finds a time as the plugin writes it in a state reason.
var regexpRFC3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
