package vaultharness

import (
	"testing"
	"time"
)

// Kill simulates a crash of node i: SIGKILL to its process group, so the
// plugin processes it started die with it, then a bounded wait for the
// process to be gone.
func (c *Cluster) Kill(t testing.TB, i int) {
	t.Helper()
	if err := c.Nodes[i].Process.kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
}

// Restart starts node i again on its data dir, config and ports (after
// stopping it when it still runs) and unseals it; it then waits until the
// node is unsealed, knows the active node, and every node is a voter again.
// A node that has not rejoined after restartTry is stopped and started once
// more: on a loaded machine, a node killed while active sometimes never
// catches up with the new leader's Raft log (seen on Vault and OpenBao, with
// no plugin involved), and a second start is what an operator would do.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	n := c.Nodes[i]
	n.Process.Stop()
	start := time.Now()
	err := c.rejoin(n, start.Add(restartTry))
	if err != nil {
		n.Process.Stop()
		t.Logf("restart %s: not back after %s (%v); starting it once more\n--- %s (tail) ---\n%s",
			n.NodeID, time.Since(start).Round(time.Millisecond), err, n.Process.LogPath, logTail(n.Process.LogPath, 30))
		err = c.rejoin(n, time.Now().Add(StartTimeout))
	}
	if err != nil {
		n.Process.Stop()
		fatalAfterTails(t, tailOf(n.Process.LogPath, 60), "restart %s: %v", n.NodeID, err)
	}
	t.Logf("%s %s at %s restarted and unsealed in %s", n.Process.Flavor, n.NodeID, n.Process.Addr, time.Since(start).Round(time.Millisecond))
}

// restartTry is how long one start of a restarted node may take to rejoin
// before it is started again.
const restartTry = 40 * time.Second

// rejoin starts a stopped node and brings it back into the cluster.
func (c *Cluster) rejoin(n *Node, deadline time.Time) error {
	p := n.Process
	if err := startUnsealed(p, deadline); err != nil {
		return err
	}
	if err := p.waitKnowsLeader(deadline); err != nil {
		return err
	}
	return c.waitVoters(deadline, len(c.Nodes))
}
