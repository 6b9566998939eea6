package vaultharness

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// TestCluster drives a real three-node raft cluster: writes through a
// standby, a crash of the active node (its plugin process included), a new
// active node, and the crashed node back as a voter.
func TestCluster(t *testing.T) {
	Require(t)
	p := BuildPlugin(t, "v0.0.1-cluster")
	c := StartCluster(t, 3, ClusterOptions{PluginDir: p.Dir})

	peers := c.Peers(t)
	if len(peers) != 3 {
		t.Fatalf("raft peers = %+v, want 3", peers)
	}
	for _, peer := range peers {
		if !peer.Voter {
			t.Fatalf("peer %s is not a voter: %+v", peer.NodeID, peers)
		}
	}
	active := c.Active(t)
	standbys := c.Standbys(active)
	if len(standbys) != 2 {
		t.Fatalf("standbys of node%d = %v", active, standbys)
	}
	for _, i := range standbys {
		h, err := c.Nodes[i].Process.Health()
		if err != nil || !h.Standby || h.Sealed {
			t.Fatalf("node%d health = %+v, %v; want an unsealed standby", i, h, err)
		}
	}

	// Mount and write through a standby (forwarded), read through the other.
	c.Nodes[standbys[0]].Process.MustCLI(t, "secrets", "enable", "-path=kv", "kv")
	c.Nodes[standbys[0]].Process.MustCLI(t, "kv", "put", "kv/harness", "color=blue")
	requireColor(t, c.Nodes[standbys[1]], "blue")

	// The plugin runs on the active node, and dies with it; a Vault standby
	// runs none (an OpenBao standby may: it answers reads).
	c.RegisterAndEnable(t, p, "resamania")
	c.Nodes[active].Process.WaitForLog(t, "plugin started", 10*time.Second)
	pids := c.Nodes[active].Process.PluginPIDs()
	if len(pids) == 0 {
		t.Fatalf("no plugin pid in node%d's log", active)
	}
	alive := slices.ContainsFunc(pids, ProcessAlive)
	if !alive {
		t.Fatalf("no plugin process of node%d is alive: %v", active, pids)
	}
	for _, i := range standbys {
		if got := c.Nodes[i].Process.PluginPIDs(); len(got) != 0 && c.flavor == FlavorVault {
			t.Errorf("standby node%d started plugin processes %v", i, got)
		}
	}

	killedAt := time.Now()
	c.Kill(t, active)
	if c.Nodes[active].Process.Running() {
		t.Fatal("killed node still running")
	}
	for _, pid := range pids {
		if !ProcessGoneWithin(pid, 5*time.Second) {
			t.Errorf("plugin pid %d of the killed node is still alive 5 s later", pid)
		}
	}
	next := c.WaitActive(t, 60*time.Second)
	t.Logf("node%d active %s after node%d was killed", next, time.Since(killedAt).Round(time.Millisecond), active)
	if next == active {
		t.Fatalf("the killed node%d is reported active", active)
	}
	for _, i := range c.Standbys(-1) {
		requireColor(t, c.Nodes[i], "blue")
	}
	if out := c.Nodes[next].Process.MustCLI(t, "secrets", "list"); !strings.Contains(out, "resamania/") {
		t.Fatalf("plugin mount missing on the new active node:\n%s", out)
	}

	c.Restart(t, active)
	h, err := c.Nodes[active].Process.Health()
	if err != nil || h.Sealed || !h.Standby {
		t.Fatalf("restarted node%d health = %+v, %v; want an unsealed standby", active, h, err)
	}
	c.Nodes[active].Process.MustCLI(t, "kv", "put", "kv/harness", "color=green")
	if got := c.Nodes[next].Process.ReadJSON(t, "kv/harness")["data"].(map[string]any)["color"]; got != "green" {
		t.Fatalf("write through the restarted node: color = %v", got)
	}
}

// requireColor reads kv/harness through node until it says want, for at most
// 5 s: an OpenBao standby answers reads from its own storage, which follows
// the active node's a moment later.
func requireColor(t *testing.T, node *Node, want string) {
	t.Helper()
	var (
		got any
		err error
	)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var sec *api.Secret
		if sec, err = node.Process.Client.Logical().Read("kv/harness"); err == nil && sec != nil {
			if got = sec.Data["color"]; got == want {
				return
			}
		}
	}
	t.Fatalf("read through %s: color = %v (%v), want %s", node.NodeID, got, err, want)
}
