package vaultharness

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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

	opts   ClusterOptions
	bin    string
	flavor Flavor
}

// Node is one member of a Cluster. It holds its server process; it is
// killed and restarted through the Cluster, which knows how a member comes
// back (unsealed, a voter again, knowing the active node).
type Node struct {
	Index   int
	NodeID  string   // raft node_id: "node<Index>"
	Process *Process // the node's vault server: address, client, CLI, log
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
	flavor := SelectedFlavor(t)
	opts.LogLevel = cmp.Or(opts.LogLevel, "debug")
	opts.PerformanceMultiplier = max(opts.PerformanceMultiplier, 1)
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * StartTimeout
	}
	c := &Cluster{opts: opts, bin: bin, flavor: flavor, PluginDir: absPluginDir(t, opts.PluginDir)}
	// Registered first so it runs last, after every other cleanup of the
	// test that might still talk to the nodes.
	t.Cleanup(c.stopAll)

	start := time.Now()
	err := retryOnPortClash(func() error {
		if err := c.setup(t, n); err != nil {
			return err
		}
		return c.bootstrap(time.Now().Add(opts.Timeout))
	}, c.stopAll, c.logs)
	if err != nil {
		var tails strings.Builder
		for _, node := range c.Nodes {
			fmt.Fprintf(&tails, "\n--- %s %s (tail) ---\n%s", node.NodeID, node.Process.LogPath, logTail(node.Process.LogPath, 40))
		}
		fatalAfterTails(t, tails.String(), "%s cluster did not start: %v", flavor, err)
	}
	active, _ := c.activeNow()
	t.Logf("%s cluster of %d nodes up after %s; active node%d; logs %s", flavor, n, time.Since(start).Round(time.Millisecond), active, strings.Join(c.logPaths(), " "))
	return c
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
		node, err := c.newNode(t, i, ports)
		if err != nil {
			return err
		}
		c.Nodes = append(c.Nodes, node)
	}
	for _, node := range c.Nodes {
		if err := node.Process.start(); err != nil {
			return err
		}
	}
	return nil
}

// newNode prepares node i on ports[i]: its directories and its config, whose
// retry_join stanzas name every other node.
func (c *Cluster) newNode(t testing.TB, i int, ports []int) (*Node, error) {
	dir := t.TempDir()
	nodeID := fmt.Sprintf("node%d", i)
	p := &Process{
		name:       nodeID,
		bin:        c.bin,
		Flavor:     c.flavor,
		env:        append(baseEnv(), c.opts.ExtraEnv...),
		LogPath:    filepath.Join(dir, fmt.Sprintf("vault-%s.log", nodeID)),
		ConfigPath: filepath.Join(dir, fmt.Sprintf("vault-%s.hcl", nodeID)),
		PluginDir:  c.PluginDir,
		DataDir:    t.TempDir(),
	}
	p.listenOn(ports[i])
	if err := os.MkdirAll(raftPath(p.DataDir), 0o700); err != nil {
		return nil, err
	}
	var peers []string
	for j, port := range ports {
		if j != i {
			peers = append(peers, fmt.Sprintf("http://127.0.0.1:%d", port))
		}
	}
	cfg := serverConfig{
		Port:      p.Port,
		PluginDir: p.PluginDir,
		LogLevel:  c.opts.LogLevel,
		Flavor:    c.flavor,
		Storage:   raftStorage(p.DataDir, nodeID, c.opts.PerformanceMultiplier, peers),
	}
	if err := writeConfig(p.ConfigPath, cfg); err != nil {
		return nil, err
	}
	return &Node{Index: i, NodeID: nodeID, Process: p}, nil
}

// RegisterAndEnable registers p in the catalog and mounts it at mountPath,
// through the active node; the catalog and the mount table replicate.
func (c *Cluster) RegisterAndEnable(t testing.TB, p *Plugin, mountPath string) {
	t.Helper()
	c.Nodes[c.Active(t)].Process.RegisterAndEnable(t, p, mountPath)
	c.WaitMountRouted(t, mountPath)
}

// mountRoutedTimeout bounds the wait for every node to route a new mount.
const mountRoutedTimeout = 15 * time.Second

// WaitMountRouted waits until every running node answers path-help for
// mountPath. An OpenBao standby, which answers requests itself, mounts a new
// mount a moment after the active node, when the mount table's change
// reaches it; until then it answers 404 "no handler for route", unforwarded.
func (c *Cluster) WaitMountRouted(t testing.TB, mountPath string) {
	t.Helper()
	deadline := time.Now().Add(mountRoutedTimeout)
	for _, n := range c.Nodes {
		if !n.Process.Running() {
			continue
		}
		for {
			_, err := n.Process.Client.Help(mountPath + "/")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not route %s/ %s after it was mounted: %v", n.NodeID, mountPath, mountRoutedTimeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (c *Cluster) logPaths() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Process.LogPath)
	}
	return out
}

// logs is every node's log, one after the other.
func (c *Cluster) logs() string {
	var b strings.Builder
	for _, n := range c.Nodes {
		b.WriteString(n.Process.Log())
	}
	return b.String()
}

// stopAll stops every node at once (one after the other would make each stop
// wait on elections among the rest).
func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Process.Stop()
		}()
	}
	wg.Wait()
}
