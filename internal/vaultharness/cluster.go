package vaultharness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	// PluginDir becomes every node's plugin_directory (the nodes share it, as
	// they share the machine). Empty means no plugin directory.
	PluginDir string
	// LogLevel is Vault's log level; default "debug" (the level at which
	// Vault logs "plugin started ... pid=", which PluginPIDs reads).
	LogLevel string
	// ExtraEnv is appended to every node's environment (KEY=VALUE).
	ExtraEnv []string
	// PerformanceMultiplier is raft's performance_multiplier: heartbeat and
	// election timeouts are one second times it. Default 1, the fastest
	// failover (Vault's own default is 5).
	PerformanceMultiplier int
	// Timeout bounds StartCluster as a whole (processes up, initialised,
	// unsealed, all nodes voters, one active). Default 2 * StartTimeout.
	Timeout time.Duration
}

// Cluster is n `vault server` processes on 127.0.0.1 forming one HA cluster
// on integrated storage (raft), initialised with one key share and unsealed.
// Every node is stopped in t.Cleanup.
type Cluster struct {
	Nodes     []*Node
	RootToken string
	UnsealKey string
	PluginDir string

	opts ClusterOptions
	bin  string
}

// Node is one member of a Cluster. The embedded Server gives it Addr, Port,
// LogPath, Client (root token), CLI, MustCLI, ReadJSON, Log, WaitForLog,
// Stop and Register/Enable (on the active node); Restart is
// Node's own, a cluster-aware restart.
type Node struct {
	*Server
	Index  int
	NodeID string // raft node_id: "node<Index>"

	cluster *Cluster
}

// StartCluster starts n Vault servers with raft storage and retry_join
// stanzas naming each other, initialises node 0, unseals every node with the
// key, and waits until all n are raft voters and one node is active.
func StartCluster(t testing.TB, n int, opts ClusterOptions) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("vault cluster: need at least one node, got %d", n)
	}
	bin := Require(t)
	if opts.LogLevel == "" {
		opts.LogLevel = "debug"
	}
	if opts.PerformanceMultiplier <= 0 {
		opts.PerformanceMultiplier = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * StartTimeout
	}
	c := &Cluster{opts: opts, bin: bin}
	if opts.PluginDir != "" {
		abs, err := filepath.Abs(opts.PluginDir)
		if err != nil {
			t.Fatalf("plugin dir: %v", err)
		}
		c.PluginDir = abs
	}
	// Registered first so it runs last, after every other cleanup of the
	// test that might still talk to the nodes.
	t.Cleanup(c.stopAll)

	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		start := time.Now()
		if err = c.setup(t, n); err == nil {
			err = c.bootstrap(time.Now().Add(opts.Timeout))
		}
		if err == nil {
			t.Logf("vault cluster of %d nodes up after %s; active node%d; logs %s", n, time.Since(start).Round(time.Millisecond), c.activeIndex(), strings.Join(c.logPaths(), " "))
			return c
		}
		c.stopAll()
		// Another process may have taken a port between the probe and
		// Vault's bind; only that case is worth another try.
		if !c.anyLogContains("address already in use") {
			break
		}
	}
	var tails strings.Builder
	for _, node := range c.Nodes {
		fmt.Fprintf(&tails, "\n--- %s %s (tail) ---\n%s", node.NodeID, node.LogPath, logTail(node.LogPath, 40))
	}
	t.Fatalf("vault cluster did not start: %v%s", err, tails.String())
	return nil
}

// setup allocates ports and directories, writes each node's config and
// starts the processes. It does not wait for anything.
func (c *Cluster) setup(t testing.TB, n int) error {
	c.Nodes = nil
	c.RootToken, c.UnsealKey = "", ""
	ports, err := freePortPairs(n)
	if err != nil {
		return err
	}
	for i := range n {
		dir := t.TempDir()
		s := &Server{
			Port:       ports[i],
			Addr:       fmt.Sprintf("http://127.0.0.1:%d", ports[i]),
			LogPath:    filepath.Join(dir, fmt.Sprintf("vault-node%d.log", i)),
			ConfigPath: filepath.Join(dir, fmt.Sprintf("vault-node%d.hcl", i)),
			PluginDir:  c.PluginDir,
			DataDir:    t.TempDir(),
			bin:        c.bin,
			logLevel:   c.opts.LogLevel,
			extraEnv:   c.opts.ExtraEnv,
		}
		node := &Node{Server: s, Index: i, NodeID: fmt.Sprintf("node%d", i), cluster: c}
		if err := os.MkdirAll(raftPath(s.DataDir), 0o700); err != nil {
			return err
		}
		var peers []string
		for j, p := range ports {
			if j != i {
				peers = append(peers, fmt.Sprintf("http://127.0.0.1:%d", p))
			}
		}
		if err := writeRaftConfig(s.ConfigPath, node, peers, c.opts.PerformanceMultiplier); err != nil {
			return err
		}
		c.Nodes = append(c.Nodes, node)
	}
	for _, node := range c.Nodes {
		if err := node.startProcess(); err != nil {
			return err
		}
	}
	return nil
}

// bootstrap initialises node 0, unseals every node and waits for a healthy
// cluster: one active node and every node a raft voter.
func (c *Cluster) bootstrap(deadline time.Time) error {
	first := c.Nodes[0]
	h, err := first.waitListener(deadline)
	if err != nil {
		return fmt.Errorf("%s: %w", first.NodeID, err)
	}
	if h.Initialized {
		return fmt.Errorf("%s: a fresh node reports itself initialised", first.NodeID)
	}
	anon, err := newClient(first.Addr, "", 0, CLITimeout)
	if err != nil {
		return err
	}
	initResp, err := anon.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		return fmt.Errorf("%s: init: %w", first.NodeID, err)
	}
	if len(initResp.KeysB64) != 1 || initResp.RootToken == "" {
		return fmt.Errorf("%s: init: unexpected answer with %d keys", first.NodeID, len(initResp.KeysB64))
	}
	c.RootToken, c.UnsealKey = initResp.RootToken, initResp.KeysB64[0]
	for _, node := range c.Nodes {
		node.RootToken, node.UnsealKey = c.RootToken, c.UnsealKey
		if node.Client, err = newClient(node.Addr, c.RootToken, 2, CLITimeout); err != nil {
			return err
		}
	}
	if err := first.unseal(deadline); err != nil {
		return err
	}
	if err := first.waitHealth(deadline, "active", isActive); err != nil {
		return err
	}
	// New voters wait out autopilot's server_stabilization_time (10 s by
	// default) as non-voters first; one second is plenty on loopback.
	if _, err := first.Client.Logical().Write("sys/storage/raft/autopilot/configuration", map[string]any{
		"server_stabilization_time": "1s",
	}); err != nil {
		return fmt.Errorf("%s: autopilot configuration: %w", first.NodeID, err)
	}
	// The joiners need node 0's challenge (fetched by retry_join every two
	// seconds) before the key can unseal them; unseal them in parallel.
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, node := range c.Nodes[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := node.waitListener(deadline); err != nil {
				errs[i] = fmt.Errorf("%s: %w", node.NodeID, err)
				return
			}
			errs[i] = node.unseal(deadline)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := c.waitVoters(deadline, len(c.Nodes)); err != nil {
		return err
	}
	for _, node := range c.Nodes {
		if err := node.waitKnowsLeader(deadline); err != nil {
			return err
		}
	}
	return waitUntil(time.Until(deadline), "one active node", func() (bool, error) {
		_, err := c.activeNow()
		return err == nil, err
	})
}

// writeRaftConfig writes the HCL config of one cluster node: raft storage
// with a retry_join per peer, a plain-HTTP loopback listener, and the
// cluster port on Port+1.
func writeRaftConfig(path string, n *Node, peers []string, multiplier int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "storage \"raft\" {\n  path = %q\n  node_id = %q\n", raftPath(n.DataDir), n.NodeID)
	fmt.Fprintf(&b, "  performance_multiplier = %d\n", multiplier)
	// Autopilot notices joiners and promotes them to voters sooner.
	fmt.Fprintf(&b, "  autopilot_update_interval = \"500ms\"\n  autopilot_reconcile_interval = \"1s\"\n")
	for _, p := range peers {
		fmt.Fprintf(&b, "  retry_join {\n    leader_api_addr = %q\n  }\n", p)
	}
	fmt.Fprintf(&b, "}\n")
	fmt.Fprintf(&b, "listener \"tcp\" {\n  address = %q\n  cluster_address = %q\n  tls_disable = true\n}\n",
		fmt.Sprintf("127.0.0.1:%d", n.Port), fmt.Sprintf("127.0.0.1:%d", n.Port+1))
	fmt.Fprintf(&b, "api_addr = %q\n", n.Addr)
	fmt.Fprintf(&b, "cluster_addr = %q\n", fmt.Sprintf("https://127.0.0.1:%d", n.Port+1))
	if n.PluginDir != "" {
		fmt.Fprintf(&b, "plugin_directory = %q\n", n.PluginDir)
	}
	fmt.Fprintf(&b, "disable_mlock = true\n")
	fmt.Fprintf(&b, "log_level = %q\n", n.logLevel)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func raftPath(dataDir string) string { return filepath.Join(dataDir, "raft") }

// freePortPairs returns n ports p, each with p and p+1 free, all distinct.
func freePortPairs(n int) ([]int, error) {
	var ports []int
	taken := map[int]bool{}
	for len(ports) < n {
		if len(taken) > 50*n {
			return nil, fmt.Errorf("no %d distinct pairs of free loopback ports found", n)
		}
		p, err := freePortPair()
		if err != nil {
			return nil, err
		}
		if taken[p] || taken[p+1] {
			taken[p] = true
			continue
		}
		taken[p], taken[p+1] = true, true
		ports = append(ports, p)
	}
	return ports, nil
}

// startProcess starts the node's vault process; it waits for nothing.
func (n *Node) startProcess() error {
	env := append(baseEnv(), n.extraEnv...)
	p, err := startProcess(n.bin, []string{"server", "-config=" + n.ConfigPath}, env, n.LogPath)
	if err != nil {
		return fmt.Errorf("%s: %w", n.NodeID, err)
	}
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
	return nil
}

func (n *Node) process() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// Running reports whether the node's vault process is running.
func (n *Node) Running() bool {
	p := n.process()
	return p != nil && !p.exited()
}

// waitListener waits until the node answers sys/health.
func (n *Node) waitListener(deadline time.Time) (*api.HealthResponse, error) {
	var h *api.HealthResponse
	err := waitUntil(time.Until(deadline), n.NodeID+"'s listener", func() (bool, error) {
		if p := n.process(); p == nil || p.exited() {
			return true, n.exitErr(p)
		}
		var err error
		h, err = health(n.Addr)
		return err == nil, err
	})
	return h, err
}

// waitHealth waits until the node's sys/health satisfies ok.
func (n *Node) waitHealth(deadline time.Time, what string, ok func(*api.HealthResponse) bool) error {
	return waitUntil(time.Until(deadline), n.NodeID+" "+what, func() (bool, error) {
		if p := n.process(); p == nil || p.exited() {
			return true, n.exitErr(p)
		}
		h, err := health(n.Addr)
		return err == nil && ok(h), err
	})
}

func (n *Node) exitErr(p *process) error {
	if p == nil {
		return fmt.Errorf("%s is not running", n.NodeID)
	}
	return fmt.Errorf("%s: %w", n.NodeID, errExited(p))
}

// unseal submits the key until the node is unsealed. A joiner refuses the
// key ("not initialized") until retry_join has fetched the leader's
// challenge; then the key both answers it and unseals.
func (n *Node) unseal(deadline time.Time) error {
	anon, err := newClient(n.Addr, "", 0, CLITimeout)
	if err != nil {
		return err
	}
	return waitUntil(time.Until(deadline), n.NodeID+" unsealed", func() (bool, error) {
		if p := n.process(); p == nil || p.exited() {
			return true, n.exitErr(p)
		}
		st, err := anon.Sys().Unseal(n.UnsealKey)
		if err != nil {
			return false, err
		}
		return !st.Sealed, nil
	})
}

// waitKnowsLeader waits until the node is active or a standby that knows
// the active node's address: only then can it forward requests.
func (n *Node) waitKnowsLeader(deadline time.Time) error {
	return waitUntil(time.Until(deadline), n.NodeID+" knowing the active node", func() (bool, error) {
		if p := n.process(); p == nil || p.exited() {
			return true, n.exitErr(p)
		}
		l, err := n.Leader()
		if err != nil {
			return false, err
		}
		return l.IsSelf || l.LeaderAddress != "", nil
	})
}

// Leader is the node's sys/leader answer: whether it is the active node,
// and the active node's address as the node knows it.
func (n *Node) Leader() (*api.LeaderResponse, error) {
	c, err := newClient(n.Addr, "", 0, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return c.Sys().Leader()
}

func isUnsealed(h *api.HealthResponse) bool { return h != nil && h.Initialized && !h.Sealed }

// RaftPeer is one server of the raft configuration.
type RaftPeer struct {
	NodeID  string `json:"node_id"`
	Address string `json:"address"`
	Leader  bool   `json:"leader"`
	Voter   bool   `json:"voter"`
}

// Peers returns the raft configuration as the active node sees it.
func (c *Cluster) Peers(t testing.TB) []RaftPeer {
	t.Helper()
	i := c.Active(t)
	peers, err := c.peers(c.Nodes[i])
	if err != nil {
		t.Fatalf("raft peers: %v", err)
	}
	return peers
}

func (c *Cluster) peers(n *Node) ([]RaftPeer, error) {
	sec, err := n.Client.Logical().Read("sys/storage/raft/configuration")
	if err != nil {
		return nil, err
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("sys/storage/raft/configuration: empty answer")
	}
	cfg, _ := sec.Data["config"].(map[string]any)
	servers, _ := cfg["servers"].([]any)
	var out []RaftPeer
	for _, raw := range servers {
		m, _ := raw.(map[string]any)
		p := RaftPeer{}
		p.NodeID, _ = m["node_id"].(string)
		p.Address, _ = m["address"].(string)
		p.Leader, _ = m["leader"].(bool)
		p.Voter, _ = m["voter"].(bool)
		out = append(out, p)
	}
	return out, nil
}

// waitVoters waits until the active node's raft configuration lists want
// voters and autopilot finds every server healthy (in contact, caught up).
func (c *Cluster) waitVoters(deadline time.Time, want int) error {
	return waitUntil(time.Until(deadline), fmt.Sprintf("%d healthy raft voters", want), func() (bool, error) {
		i, err := c.activeNow()
		if err != nil {
			return false, err
		}
		peers, err := c.peers(c.Nodes[i])
		if err != nil {
			return false, err
		}
		voters := 0
		for _, p := range peers {
			if p.Voter {
				voters++
			}
		}
		if voters < want {
			return false, fmt.Errorf("%d of %d servers are voters: %+v", voters, len(peers), peers)
		}
		state, err := c.Nodes[i].Client.Sys().RaftAutopilotState()
		if err != nil {
			return false, err
		}
		if state == nil || !state.Healthy {
			return false, fmt.Errorf("autopilot: cluster not healthy: %v", state)
		}
		return true, nil
	})
}

// activeNow asks every running node's sys/health once and returns the one
// active node; an error when there is none or more than one.
func (c *Cluster) activeNow() (int, error) {
	active := -1
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		h, err := health(n.Addr)
		if err != nil || !isActive(h) {
			continue
		}
		if active >= 0 {
			return -1, fmt.Errorf("both node%d and node%d report themselves active", active, n.Index)
		}
		active = n.Index
	}
	if active < 0 {
		return -1, fmt.Errorf("no node is active")
	}
	return active, nil
}

func (c *Cluster) activeIndex() int {
	i, _ := c.activeNow()
	return i
}

// Active returns the index of the active node, failing the test when no
// node (or more than one) reports itself active right now.
func (c *Cluster) Active(t testing.TB) int {
	t.Helper()
	i, err := c.activeNow()
	if err != nil {
		t.Fatalf("vault cluster: %v", err)
	}
	return i
}

// WaitActive waits up to timeout until exactly one running node reports
// itself active (unsealed, HA lock held, mounts set up) and returns it.
func (c *Cluster) WaitActive(t testing.TB, timeout time.Duration) int {
	t.Helper()
	active := -1
	err := waitUntil(timeout, "an active node", func() (bool, error) {
		var err error
		active, err = c.activeNow()
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("vault cluster: %v", err)
	}
	return active
}

// Standbys returns the indexes of the running nodes other than active.
func (c *Cluster) Standbys(active int) []int {
	var out []int
	for _, n := range c.Nodes {
		if n.Index != active && n.Running() {
			out = append(out, n.Index)
		}
	}
	return out
}

// RegisterAndEnable registers p in the catalog and mounts it at mountPath,
// through the active node; the catalog and the mount table replicate.
func (c *Cluster) RegisterAndEnable(t testing.TB, p *Plugin, mountPath string) {
	t.Helper()
	c.Nodes[c.Active(t)].RegisterAndEnable(t, p, mountPath)
}

// Kill simulates a crash of node i: SIGKILL to its process group, so the
// plugin processes it started die with it, then a bounded wait for the
// process to be gone.
func (c *Cluster) Kill(t testing.TB, i int) {
	t.Helper()
	c.Nodes[i].Kill(t)
}

// Kill simulates a crash of the node: see Cluster.Kill.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p == nil {
		t.Fatalf("kill %s: not running", n.NodeID)
	}
	killed := false
	p.stopOnce.Do(func() {
		killed = true
		killGroup(p.cmd.Process)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
	if !killed || !p.exited() {
		t.Fatalf("kill %s: the process did not exit", n.NodeID)
	}
}

// Restart starts node i again on its data dir, config and ports (after
// stopping it when it still runs) and unseals it; it then waits until the
// node is unsealed and every node is a voter again.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	c.Nodes[i].Restart(t)
}

// Restart is Cluster.Restart for this node. It shadows Server.Restart, whose
// single-server init would be wrong here.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	start := time.Now()
	deadline := start.Add(StartTimeout)
	err := n.startProcess()
	if err == nil {
		_, err = n.waitListener(deadline)
	}
	if err == nil {
		err = n.unseal(deadline)
	}
	if err == nil {
		err = n.waitHealth(deadline, "unsealed", isUnsealed)
	}
	if err == nil {
		err = n.waitKnowsLeader(deadline)
	}
	if err == nil {
		err = n.cluster.waitVoters(deadline, len(n.cluster.Nodes))
	}
	if err != nil {
		n.Stop()
		t.Fatalf("restart %s: %v\n--- %s (tail) ---\n%s", n.NodeID, err, n.LogPath, logTail(n.LogPath, 60))
	}
	t.Logf("vault %s at %s restarted and unsealed in %s", n.NodeID, n.Addr, time.Since(start).Round(time.Millisecond))
}

// Health is the node's sys/health answer (any status), or an error when the
// node does not answer.
func (n *Node) Health() (*api.HealthResponse, error) { return health(n.Addr) }

// NewClientNoRetry returns a client of this node with the root token, no
// retries and the given timeout: what a test needs to see each failure as
// it happens, e.g. during a failover.
func (n *Node) NewClientNoRetry(t testing.TB, timeout time.Duration) *api.Client {
	t.Helper()
	c, err := newClient(n.Addr, n.RootToken, 0, timeout)
	if err != nil {
		t.Fatalf("vault client: %v", err)
	}
	return c
}

// pluginStartedRe matches go-plugin's debug line when Vault starts a plugin
// process: "... plugin started: path=/x/vault-plugin-... pid=12345".
var pluginStartedRe = regexp.MustCompile(`plugin started: path=.* pid=(\d+)`)

// PluginPIDs lists the pids of every plugin process this node started, in
// order, over all its starts (it reads the node's log, so the log level must
// be debug or trace).
func (n *Node) PluginPIDs() []int {
	var pids []int
	for _, m := range pluginStartedRe.FindAllStringSubmatch(n.Log(), -1) {
		if pid, err := strconv.Atoi(m[1]); err == nil && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// PluginPIDOwners maps the pid of every plugin process any node started to
// that node's index.
func (c *Cluster) PluginPIDOwners() map[int]int {
	owners := map[int]int{}
	for _, n := range c.Nodes {
		for _, pid := range n.PluginPIDs() {
			owners[pid] = n.Index
		}
	}
	return owners
}

// ProcessAlive reports whether pid is a live process (not a zombie).
func ProcessAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func (c *Cluster) logPaths() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.LogPath)
	}
	return out
}

func (c *Cluster) anyLogContains(substr string) bool {
	for _, n := range c.Nodes {
		if strings.Contains(n.Log(), substr) {
			return true
		}
	}
	return false
}

// stopAll stops every node at once (one after the other would make each stop
// wait on elections among the rest).
func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Stop()
		}()
	}
	wg.Wait()
}
