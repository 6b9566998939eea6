package vaultharness

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

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
	peers, err := raftPeers(c.Nodes[c.Active(t)].Process)
	if err != nil {
		t.Fatalf("raft peers: %v", err)
	}
	return peers
}

func raftPeers(v *Process) ([]RaftPeer, error) {
	sec, err := v.Client.Logical().Read("sys/storage/raft/configuration")
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

// quickAutopilot shortens autopilot's server_stabilization_time: new voters
// wait it out (10 s by default) as non-voters first, and one second is
// plenty on loopback.
func quickAutopilot(active *Process) error {
	if _, err := active.Client.Logical().Write("sys/storage/raft/autopilot/configuration", map[string]any{
		"server_stabilization_time": "1s",
	}); err != nil {
		return fmt.Errorf("%s: autopilot configuration: %w", active.name, err)
	}
	return nil
}

// waitVoters waits until the active node's raft configuration lists want
// voters and autopilot finds every server healthy (in contact, caught up).
func (c *Cluster) waitVoters(deadline time.Time, want int) error {
	return waitUntil(time.Until(deadline), fmt.Sprintf("%d healthy raft voters", want), func() (bool, error) {
		i, err := c.activeNow()
		if err != nil {
			return false, err
		}
		active := c.Nodes[i].Process
		peers, err := raftPeers(active)
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
		state, err := active.Client.Sys().RaftAutopilotState()
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
		if !n.Process.Running() {
			continue
		}
		h, err := n.Process.Health()
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
		if n.Index != active && n.Process.Running() {
			out = append(out, n.Index)
		}
	}
	return out
}

// StepDown makes the active node i give up leadership gracefully
// (`vault operator step-down`); another node takes over.
func (c *Cluster) StepDown(t testing.TB, i int) {
	t.Helper()
	c.Nodes[i].Process.MustCLI(t, "operator", "step-down")
}

// waitKnowsLeader waits until the node is active or a standby that knows
// the active node's address: only then can it forward requests.
func (v *Process) waitKnowsLeader(deadline time.Time) error {
	return v.waitRunning(deadline, "knowing the active node", func() (bool, error) {
		l, err := v.leader()
		if err != nil {
			return false, err
		}
		return l.IsSelf || l.LeaderAddress != "", nil
	})
}

// leader is sys/leader: whether this server is the active node, and the
// active node's address as it knows it.
func (v *Process) leader() (*api.LeaderResponse, error) {
	c, err := newClient(v.Addr, "", 0, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return c.Sys().Leader()
}
