package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// clusterStack is newStack's high-availability variant: a three-node Vault
// cluster on integrated storage with the plugin mounted, and a fake
// Resamania server.
type clusterStack struct {
	cluster *vaultharness.Cluster
	fake    *fakeresamania.Server
	plugin  *vaultharness.Plugin
}

const (
	clusterSize         = 3
	clusterTokenPath    = mount + "/token/" + chain
	clusterConfigPath   = mount + "/config/" + chain
	clusterCredsPrefix  = mount + "/creds/" + chain + "/"
	clusterReadTimeout  = 15 * time.Second // one read through a node, forwarding included
	clusterFailoverSLO  = 30 * time.Second // kill of the active node to the first good read
	clusterQuietTimeout = 20 * time.Second // to find a moment with no refresh in flight
)

// newClusterStack starts the fake (its tokens live expiresIn seconds; 0 is an
// hour), builds the plugin, starts the cluster and mounts the plugin.
func newClusterStack(t *testing.T, expiresIn int) *clusterStack {
	t.Helper()
	vaultharness.Require(t)
	fake := fakeresamania.Start(fakeresamania.Options{PathPrefix: "/integration", GatewayKey: gatewayKey})
	t.Cleanup(fake.Close)
	fake.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: clientID, ClientSecret: clientSecret, ExpiresIn: expiresIn, RedirectURIs: []string{redirectURI}})

	plugin := vaultharness.BuildPlugin(t, pluginVer)
	cs := &clusterStack{fake: fake, plugin: plugin}
	// Registered before the cluster's own cleanup, so it runs after every
	// node has stopped and written its last lines.
	t.Cleanup(func() { cs.assertNoSecretInLogs(t) })
	cs.cluster = vaultharness.StartCluster(t, clusterSize, vaultharness.ClusterOptions{PluginDir: plugin.Dir})
	cs.cluster.RegisterAndEnable(t, plugin, mount)
	return cs
}

// configure writes the chain's config through node i (a standby forwards it).
func (cs *clusterStack) configure(t *testing.T, i int, extra map[string]any) {
	t.Helper()
	data := map[string]any{"api_base_url": cs.fake.URL(), "client_id": clientID, "client_secret": clientSecret, "api_key": gatewayKey}
	for k, v := range extra {
		data[k] = v
	}
	_, err := cs.cluster.Nodes[i].Process.Client.Logical().Write(clusterConfigPath, data)
	require.NoError(t, err, "write config through node%d", i)
}

// signIn stores a member's credential through node i from a code the fake
// issued as if the member had signed in.
func (cs *clusterStack) signIn(t *testing.T, i int, name string) {
	t.Helper()
	code := cs.fake.IssueCode(chain, clientID, redirectURI, name)
	_, err := cs.cluster.Nodes[i].Process.Client.Logical().Write(clusterCredsPrefix+name, map[string]any{"code": code, "redirect_uri": redirectURI})
	require.NoError(t, err, "store credential %s through node%d", name, i)
}

// clusterRead reads path with c (one node's client) and returns the access
// token.
func clusterRead(t *testing.T, c *api.Client, path string) string {
	t.Helper()
	sec, err := c.Logical().Read(path)
	require.NoError(t, err, "read %s through %s", path, c.Address())
	require.NotNil(t, sec, "read %s through %s", path, c.Address())
	tok, _ := sec.Data["access_token"].(string)
	require.NotEmpty(t, tok, "read %s through %s", path, c.Address())
	return tok
}

var pluginUserAgentPID = regexp.MustCompile(`^vault-plugin-secrets-resamania/\S+ \(pid (\d+)\)$`)

// attributedCall is one request the fake received, attributed to a node.
type attributedCall struct {
	fakeresamania.RecordedRequest
	pid  int
	node int // -1: a pid no node's log names
}

// upstreamCalls attributes every request the fake received to the node whose
// plugin process sent it: the pid in the User-Agent, looked up among the
// plugin pids each node's log names.
func (cs *clusterStack) upstreamCalls(t *testing.T) []attributedCall {
	t.Helper()
	owners := cs.cluster.PluginPIDOwners()
	var calls []attributedCall
	for _, r := range cs.fake.Requests() {
		ua := r.Header.Get("User-Agent")
		m := pluginUserAgentPID.FindStringSubmatch(ua)
		require.NotNil(t, m, "User-Agent %q does not name the plugin's pid", ua)
		pid, _ := strconv.Atoi(m[1])
		node, ok := owners[pid]
		if !ok {
			node = -1
		}
		calls = append(calls, attributedCall{RecordedRequest: r, pid: pid, node: node})
	}
	return calls
}

// describeCallsPerNode counts calls by node, for the log.
func describeCallsPerNode(calls []attributedCall) string {
	counts := make([]int, clusterSize)
	var unknown int
	for _, c := range calls {
		if c.node < 0 {
			unknown++
			continue
		}
		counts[c.node]++
	}
	var parts []string
	for i, n := range counts {
		parts = append(parts, fmt.Sprintf("node%d=%d", i, n))
	}
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("unknown=%d", unknown))
	}
	return strings.Join(parts, " ")
}

// requireCallsFrom: every upstream call came from node's plugin.
func requireCallsFrom(t *testing.T, calls []attributedCall, node int) {
	t.Helper()
	require.NotEmpty(t, calls)
	for _, c := range calls {
		require.Equal(t, node, c.node, "%s call at %s from pid %d: only the active node%d may call Resamania (%s)",
			c.GrantType, c.Time.Format(time.StampMilli), c.pid, node, describeCallsPerNode(calls))
	}
}

// requireNoRefreshTokenReused: every refresh was answered 200 (the fake
// answers a reused or lost refresh token with invalid_grant), no refresh
// token was sent twice, and every code exchange succeeded. It returns the
// number of refreshes.
func requireNoRefreshTokenReused(t *testing.T, calls []attributedCall) (refreshes int) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range calls {
		switch c.GrantType {
		case "refresh_token":
			refreshes++
			require.Equal(t, http.StatusOK, c.Status, "refresh at %s from node%d: a refresh token was reused or lost", c.Time.Format(time.StampMilli), c.node)
			rt := c.Form.Get("refresh_token")
			require.NotEmpty(t, rt)
			require.False(t, seen[rt], "refresh token sent twice (at %s, node%d)", c.Time.Format(time.StampMilli), c.node)
			seen[rt] = true
		case "authorization_code":
			require.Equal(t, http.StatusOK, c.Status, "code exchange at %s", c.Time.Format(time.StampMilli))
		}
	}
	return refreshes
}

func TestClusterReadsThroughEveryNode(t *testing.T) {
	cs := newClusterStack(t, 0)
	c := cs.cluster
	active := c.Active(t)
	standbys := c.Standbys(active)
	require.Len(t, standbys, clusterSize-1)
	cs.configure(t, standbys[0], nil)

	// A cold chain, read by 30 readers at once spread over the three nodes:
	// the standbys forward to the active node, whose plugin makes one call.
	clients := make([]*api.Client, clusterSize)
	for i, n := range c.Nodes {
		clients[i] = n.Process.NewClientNoRetry(t, clusterReadTimeout)
	}
	const readers = 30
	tokens := make([]string, readers)
	errs := make([]error, readers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sec, err := clients[r%clusterSize].Logical().Read(clusterTokenPath)
			if err != nil {
				errs[r] = err
				return
			}
			tokens[r], _ = sec.Data["access_token"].(string)
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d concurrent cold reads over %d nodes took %s", readers, clusterSize, time.Since(began).Round(time.Millisecond))
	for r := range readers {
		require.NoError(t, errs[r], "reader %d through node%d", r, r%clusterSize)
		require.Equal(t, tokens[0], tokens[r], "reader %d through node%d", r, r%clusterSize)
	}
	require.True(t, cs.fake.AccessTokenValid(tokens[0]))
	require.Equal(t, 1, cs.fake.TokenRequests(chain, "client_credentials"), "one upstream call for 30 readers on 3 nodes")

	// Each node, the standbys included, serves the cached token, the config
	// without its secrets, and a member's credential stored through a standby.
	cs.signIn(t, standbys[1], member)
	var credToken string
	for i, n := range c.Nodes {
		require.Equal(t, tokens[0], clusterRead(t, n.Process.Client, clusterTokenPath), "token through node%d", i)
		sec, err := n.Process.Client.Logical().Read(clusterConfigPath)
		require.NoError(t, err)
		require.Equal(t, clientID, sec.Data["client_id"], "config through node%d", i)
		require.Equal(t, true, sec.Data["client_secret_set"])
		tok := clusterRead(t, n.Process.Client, clusterCredsPrefix+member)
		if credToken == "" {
			credToken = tok
		}
		require.Equal(t, credToken, tok, "credential through node%d", i)
		sec, err = n.Process.Client.Logical().Read(clusterCredsPrefix + member + "/status")
		require.NoError(t, err)
		require.Equal(t, "active", sec.Data["state"], "status through node%d", i)
	}
	require.True(t, cs.fake.AccessTokenValid(credToken))
	require.Equal(t, 1, cs.fake.TokenRequests(chain, "client_credentials"), "reads through standbys use the active node's cache")
	require.Equal(t, 1, cs.fake.TokenRequests(chain, "authorization_code"))
	require.Zero(t, cs.fake.TokenRequests(chain, "refresh_token"))

	calls := cs.upstreamCalls(t)
	t.Logf("upstream calls per node: %s (active node%d)", describeCallsPerNode(calls), active)
	requireCallsFrom(t, calls, active)
	require.Empty(t, c.Nodes[standbys[0]].Process.PluginPIDs(), "a standby runs no plugin process")
	require.Empty(t, c.Nodes[standbys[1]].Process.PluginPIDs(), "a standby runs no plugin process")
}

func TestClusterConfigChangeSeenOnEveryNode(t *testing.T) {
	cs := newClusterStack(t, 0)
	c := cs.cluster
	active := c.Active(t)
	t.Logf("active node%d", active)

	// Written through node 0, read through node 2.
	cs.configure(t, 0, map[string]any{"scope": "a"})
	sec, err := c.Nodes[2].Process.Client.Logical().Read(clusterConfigPath)
	require.NoError(t, err)
	require.Equal(t, "a", sec.Data["scope"], "config written through node0, read through node2")

	sec, err = c.Nodes[1].Process.Client.Logical().Read(clusterTokenPath)
	require.NoError(t, err)
	first, _ := sec.Data["access_token"].(string)
	require.Equal(t, "a", sec.Data["scope"])
	require.Equal(t, 1, cs.fake.TokenRequests(chain, "client_credentials"))

	// Changed through node 2: node 0 sees it, and the next token read through
	// node 1 gets a token minted with the new config, not the cached one.
	_, err = c.Nodes[2].Process.Client.Logical().Write(clusterConfigPath, map[string]any{"scope": "b"})
	require.NoError(t, err)
	sec, err = c.Nodes[0].Process.Client.Logical().Read(clusterConfigPath)
	require.NoError(t, err)
	require.Equal(t, "b", sec.Data["scope"], "config changed through node2, read through node0")
	require.Equal(t, clientID, sec.Data["client_id"], "an update changes only the fields it names")

	sec, err = c.Nodes[1].Process.Client.Logical().Read(clusterTokenPath)
	require.NoError(t, err)
	second, _ := sec.Data["access_token"].(string)
	require.NotEqual(t, first, second, "the token minted with the old config must not outlive it")
	require.Equal(t, "b", sec.Data["scope"])
	require.True(t, cs.fake.AccessTokenValid(second))
	reqs := cs.fake.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "a", reqs[0].Form.Get("scope"))
	require.Equal(t, "b", reqs[1].Form.Get("scope"), "the new token was asked for with the new config")

	// A broken secret written through a standby takes effect at once, everywhere.
	standby := c.Standbys(active)[0]
	const wrong = "SENTINEL-e2e-wrong-secret-7a1c"
	_, err = c.Nodes[standby].Process.Client.Logical().Write(clusterConfigPath, map[string]any{"client_secret": wrong})
	require.NoError(t, err)
	for i, n := range c.Nodes {
		// No retries: the api client would retry the 502.
		_, err := n.Process.NewClientNoRetry(t, clusterReadTimeout).Logical().Read(clusterTokenPath)
		require.Error(t, err, "token through node%d after the secret broke", i)
		require.Contains(t, err.Error(), "invalid_client", "node%d", i)
		require.NotContains(t, err.Error(), wrong)
	}
	cs.configure(t, standby, nil)
	require.True(t, cs.fake.AccessTokenValid(clusterRead(t, c.Nodes[standby].Process.Client, clusterTokenPath)))

	calls := cs.upstreamCalls(t)
	t.Logf("upstream calls per node: %s (active node%d)", describeCallsPerNode(calls), active)
	requireCallsFrom(t, calls, active)
}

// clusterReadResult is one read by a failover reader.
type clusterReadResult struct {
	node       int
	path       string
	start, end time.Time
	token      string
	err        error
}

// clusterReaders keeps reading paths through every node until stopped.
type clusterReaders struct {
	mu      sync.Mutex
	results []clusterReadResult
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startClusterReaders(t *testing.T, c *vaultharness.Cluster, paths []string, pause time.Duration) *clusterReaders {
	p := &clusterReaders{stop: make(chan struct{})}
	for _, n := range c.Nodes {
		client := n.Process.NewClientNoRetry(t, clusterReadTimeout)
		for _, path := range paths {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				for {
					select {
					case <-p.stop:
						return
					default:
					}
					r := clusterReadResult{node: n.Index, path: path, start: time.Now()}
					sec, err := client.Logical().Read(path)
					r.end, r.err = time.Now(), err
					if err == nil && sec != nil {
						r.token, _ = sec.Data["access_token"].(string)
					}
					if err == nil && r.token == "" {
						r.err = fmt.Errorf("read %s: no access_token in %v", path, sec)
					}
					p.mu.Lock()
					p.results = append(p.results, r)
					p.mu.Unlock()
					select {
					case <-p.stop:
						return
					case <-time.After(pause):
					}
				}
			}()
		}
	}
	t.Cleanup(p.halt)
	return p
}

func (p *clusterReaders) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

func (p *clusterReaders) snapshot() []clusterReadResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.results)
}

// quietMomentToKill reports whether killing the active node now cannot lose a
// refresh token: no refresh is in flight or was sent in the last half second
// (its rotated token is committed to raft by then), and each of the n
// credentials refreshed within the last two seconds, so none is due for a
// reader's refresh (3 s into a 5 s token) or the periodic refresh ahead
// (2.5 s in) before the kill lands. A crash between Resamania's rotation and
// the commit of the new refresh token loses the grant whatever the plugin
// does (SERVER-BEHAVIOUR.md, "Rotation"), so the test does not aim there.
func quietMomentToKill(fake *fakeresamania.Server, n int, now time.Time) bool {
	var refreshes []time.Time
	for _, r := range fake.Requests() {
		if r.Status == 0 {
			return false
		}
		if r.GrantType == "refresh_token" {
			refreshes = append(refreshes, r.Time)
		}
	}
	if len(refreshes) < n {
		return false
	}
	sort.Slice(refreshes, func(i, j int) bool { return refreshes[i].Before(refreshes[j]) })
	last, nth := refreshes[len(refreshes)-1], refreshes[len(refreshes)-n]
	return now.Sub(last) >= 500*time.Millisecond && now.Sub(nth) <= 2*time.Second
}

func TestClusterFailoverKeepsEveryRefreshToken(t *testing.T) {
	const (
		tokenLife = 5 // seconds: a refresh every ~3 s per credential
		members   = 2
	)
	cs := newClusterStack(t, tokenLife)
	c := cs.cluster
	active := c.Active(t)
	cs.configure(t, active, nil)

	// The members sign in at once through the standbys, so their refreshes
	// stay in step.
	names := make([]string, members)
	paths := []string{clusterTokenPath}
	standbys := c.Standbys(active)
	errs := make([]error, members)
	var wg sync.WaitGroup
	for m := range members {
		names[m] = fmt.Sprintf("member%d", m)
		paths = append(paths, clusterCredsPrefix+names[m])
		code := cs.fake.IssueCode(chain, clientID, redirectURI, names[m])
		node := c.Nodes[standbys[m%len(standbys)]]
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[m] = node.Process.Client.Logical().Write(clusterCredsPrefix+names[m], map[string]any{"code": code, "redirect_uri": redirectURI})
		}()
	}
	wg.Wait()
	for m := range members {
		require.NoError(t, errs[m], "sign-in of %s", names[m])
	}

	readers := startClusterReaders(t, c, paths, 100*time.Millisecond)
	// Warm up over two refresh rounds.
	time.Sleep(7 * time.Second)
	require.GreaterOrEqual(t, cs.fake.TokenRequests(chain, "refresh_token"), 2*members, "credentials refresh before the failover")

	var killAt time.Time
	quietStart := time.Now()
	quietDeadline := quietStart.Add(clusterQuietTimeout)
	for {
		now := time.Now()
		if quietMomentToKill(cs.fake, members, now) {
			killAt = now
			break
		}
		require.True(t, now.Before(quietDeadline), "no moment without a refresh in flight in %s", clusterQuietTimeout)
		time.Sleep(10 * time.Millisecond)
	}
	killedPIDs := c.Nodes[active].Process.PluginPIDs()
	c.Kill(t, active)
	killDone := time.Now()
	for _, pid := range killedPIDs {
		require.False(t, vaultharness.ProcessAlive(pid), "plugin pid %d of the killed node%d is alive", pid, active)
	}
	t.Logf("killed the active node%d after waiting %s for a moment with no refresh in flight (the kill took %s)",
		active, killAt.Sub(quietStart).Round(time.Millisecond), killDone.Sub(killAt).Round(time.Millisecond))

	// Reads resume through the surviving nodes: wait for a good read of every
	// path through every survivor that started after the kill.
	survivors := c.Standbys(active)
	resumed := map[string]time.Duration{} // "node<i> <path>" -> since the kill
	require.Eventually(t, func() bool {
		for _, r := range readers.snapshot() {
			key := fmt.Sprintf("node%d %s", r.node, r.path)
			if r.err == nil && r.start.After(killDone) && slices.Contains(survivors, r.node) {
				if _, ok := resumed[key]; !ok {
					resumed[key] = r.end.Sub(killAt)
				}
			}
		}
		return len(resumed) == len(survivors)*len(paths)
	}, clusterFailoverSLO, 50*time.Millisecond, "reads did not resume through every surviving node")
	newActive := c.WaitActive(t, 10*time.Second)
	require.NotEqual(t, active, newActive)
	failover := time.Duration(1<<63 - 1)
	for _, d := range resumed {
		failover = min(failover, d)
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(resumed)) {
		lines = append(lines, fmt.Sprintf("%s %s", k, resumed[k].Round(time.Millisecond)))
	}
	t.Logf("FAILOVER: node%d is active; first good read %s after the kill; per node and path:\n  %s",
		newActive, failover.Round(time.Millisecond), strings.Join(lines, "\n  "))
	require.Less(t, failover, clusterFailoverSLO)

	// Two more refresh rounds on the new active node, then the killed node
	// comes back as a standby and serves reads again.
	time.Sleep(7 * time.Second)
	c.Restart(t, active)
	restarted := time.Now()
	require.Eventually(t, func() bool {
		for _, r := range readers.snapshot() {
			if r.node == active && r.err == nil && r.start.After(restarted) {
				return true
			}
		}
		return false
	}, 20*time.Second, 50*time.Millisecond, "reads through the restarted node%d", active)
	time.Sleep(2 * time.Second)
	readers.halt()
	require.Equal(t, newActive, c.Active(t), "the restarted node came back as a standby")

	// Every reader error falls in the failover window or hit the killed node
	// while it was down; none says a credential was lost.
	results := readers.snapshot()
	var total, failed int
	for _, r := range results {
		total++
		if r.err == nil {
			continue
		}
		failed++
		require.NotContains(t, r.err.Error(), "sign in again", "node%d %s: a credential was lost", r.node, r.path)
		// In flight at the kill or started before reads resumed on that node.
		inWindow := !r.end.Before(killAt) && r.start.Before(killAt.Add(resumedAfterKill(resumed, r.node, r.path)))
		deadNode := r.node == active && !r.end.Before(killAt)
		require.True(t, inWindow || deadNode, "node%d %s failed outside the failover window (at %s, kill at %s): %v",
			r.node, r.path, r.start.Format(time.StampMilli), killAt.Format(time.StampMilli), r.err)
	}
	t.Logf("readers: %d reads, %d failed (all during the failover or on the dead node)", total, failed)

	// No refresh token was lost: after their tokens expire, every credential
	// still refreshes, through every node.
	time.Sleep(time.Duration(tokenLife)*time.Second + 500*time.Millisecond)
	for _, name := range names {
		var first string
		for i, n := range c.Nodes {
			tok := clusterRead(t, n.Process.Client, clusterCredsPrefix+name)
			require.True(t, cs.fake.AccessTokenValid(tok), "%s through node%d", name, i)
			if first == "" {
				first = tok
			}
			require.Equal(t, first, tok, "%s through node%d: one refresh serves every node", name, i)
			sec, err := n.Process.Client.Logical().Read(clusterCredsPrefix + name + "/status")
			require.NoError(t, err)
			require.Equal(t, "active", sec.Data["state"], "%s through node%d", name, i)
		}
	}

	// No refresh token was sent twice, and only one node's plugin ever
	// called Resamania at a time: the old active's before the kill, the new
	// one's after.
	calls := cs.upstreamCalls(t)
	refreshes := requireNoRefreshTokenReused(t, calls)
	var before, after []attributedCall
	var refreshesAfter int
	for _, call := range calls {
		switch {
		case call.Time.Before(killAt):
			before = append(before, call)
		case call.Time.After(killDone):
			after = append(after, call)
			if call.GrantType == "refresh_token" {
				refreshesAfter++
			}
		default:
			require.Equal(t, active, call.node, "a call during the kill itself can only come from the dying node")
		}
	}
	requireCallsFrom(t, before, active)
	requireCallsFrom(t, after, newActive)
	require.GreaterOrEqual(t, refreshesAfter, 3*members, "credentials kept refreshing on the new active node")
	t.Logf("upstream calls per node: %s (node%d active until killed, then node%d); refresh_token grants: %d (%d before the kill, %d after), all answered 200, all with distinct refresh tokens; client_credentials grants: %d",
		describeCallsPerNode(calls), active, newActive, refreshes, refreshes-refreshesAfter, refreshesAfter, cs.fake.TokenRequests(chain, "client_credentials"))
}

// resumedAfterKill is how long after the kill reads of path through node resumed;
// the whole SLO when they never did (the killed node).
func resumedAfterKill(resumed map[string]time.Duration, node int, path string) time.Duration {
	if d, ok := resumed[fmt.Sprintf("node%d %s", node, path)]; ok {
		return d
	}
	return clusterFailoverSLO
}

// assertNoSecretInLogs: no secret in any node's log.
func (cs *clusterStack) assertNoSecretInLogs(t *testing.T) {
	if cs.cluster == nil {
		return
	}
	secrets := append([]string{clientSecret, gatewayKey}, cs.fake.IssuedAccessTokens()...)
	secrets = append(secrets, cs.fake.IssuedRefreshTokens()...)
	secrets = append(secrets, cs.fake.IssuedCodes()...)
	for _, n := range cs.cluster.Nodes {
		text := n.Process.Log()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("a secret appears in %s: %.14s...", n.Process.LogPath, s)
			}
		}
	}
}

// waitRefreshInFlight waits until the fake holds a refresh_token request it
// has not answered yet, and returns its refresh token.
func waitRefreshInFlight(t *testing.T, fake *fakeresamania.Server) string {
	t.Helper()
	var rt string
	require.Eventually(t, func() bool {
		for _, r := range fake.Requests() {
			if r.GrantType == "refresh_token" && r.Status == 0 {
				rt = r.Form.Get("refresh_token")
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no refresh in flight")
	return rt
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
	path := clusterCredsPrefix + member
	stale := func() { time.Sleep(3500 * time.Millisecond) } // a 5 s token is refreshed 3 s in

	// 1. Step-down: Resamania rotates at once and answers 3 s later.
	stale()
	cs.fake.InjectFault(fakeresamania.Fault{GrantType: "refresh_token", Count: 1, AfterProcessing: true, Delay: 3 * time.Second})
	reader := c.Nodes[c.Standbys(first)[0]].Process.NewClientNoRetry(t, clusterReadTimeout)
	readErr := make(chan error, 1)
	go func() {
		_, err := reader.Logical().Read(path)
		readErr <- err
	}()
	waitRefreshInFlight(t, cs.fake)
	stepDownAt := time.Now()
	c.StepDown(t, first)
	require.NoError(t, <-readErr, "a graceful step-down lets the refresh in flight finish")
	second := c.WaitActive(t, clusterFailoverSLO)
	require.NotEqual(t, first, second)
	t.Logf("node%d stepped down during a refresh; node%d active %s later", first, second, time.Since(stepDownAt).Round(time.Millisecond))
	sec, err := c.Nodes[second].Process.Client.Logical().Read(path + "/status")
	require.NoError(t, err)
	require.Equal(t, "active", sec.Data["state"])
	require.Equal(t, "1", fmt.Sprint(sec.Data["refreshes"]), "the refresh answered after the step-down was stored")
	stale()
	tok := clusterRead(t, c.Nodes[second].Process.Client, path)
	require.True(t, cs.fake.AccessTokenValid(tok), "the new active node refreshes with the rotated token")

	// 2. Crash: the request waits at Resamania, unprocessed, when the active
	// node dies; the connection drops with it, so nothing rotates.
	stale()
	cs.fake.InjectFault(fakeresamania.Fault{GrantType: "refresh_token", Count: 1, Delay: 10 * time.Second})
	reader = c.Nodes[c.Standbys(second)[0]].Process.NewClientNoRetry(t, clusterReadTimeout)
	go func() {
		_, err := reader.Logical().Read(path)
		readErr <- err
	}()
	unspent := waitRefreshInFlight(t, cs.fake)
	killAt := time.Now()
	c.Kill(t, second)
	killDone := time.Now()
	t.Logf("read in flight when node%d was killed: %v", second, <-readErr)
	third := c.WaitActive(t, clusterFailoverSLO)
	t.Logf("node%d active %s after node%d was killed during a refresh", third, time.Since(killAt).Round(time.Millisecond), second)
	var tokens []string
	for _, i := range c.Standbys(-1) {
		tokens = append(tokens, clusterRead(t, c.Nodes[i].Process.Client, path))
	}
	require.True(t, cs.fake.AccessTokenValid(tokens[0]))
	require.Equal(t, tokens[0], tokens[1])
	stale()
	require.True(t, cs.fake.AccessTokenValid(clusterRead(t, c.Nodes[third].Process.Client, path)), "and refreshes again")

	// Every refresh answered 200 but the one cut by the crash, whose token,
	// never spent, was the next one sent; each node called only while active.
	calls := cs.upstreamCalls(t)
	var byPhase [3][]attributedCall
	var cut []attributedCall
	var clean []attributedCall
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
	var next string
	for _, call := range byPhase[2] {
		if call.GrantType == "refresh_token" {
			next = call.Form.Get("refresh_token")
			break
		}
	}
	require.Equal(t, unspent, next, "the new active node sends the refresh token the crash left unspent")
	t.Logf("upstream calls per node: %s (node%d, then node%d after the step-down, then node%d after the kill); %d refresh grants answered 200, 1 cut by the crash",
		describeCallsPerNode(calls), first, second, third, refreshes)
}
