package vaultharness

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// What the quorum tests do to a cluster beyond a crash and a restart: stall
// a node (it keeps believing what it believed, as a node cut off by a
// partition or paused by its host does), bring back several stopped nodes
// at once (a quorum made of them alone), and stop and start the whole
// cluster.

// Stall freezes node i: SIGSTOP to its process group, its plugin processes
// included. It stays stalled until Resume, or the end of the test.
func (c *Cluster) Stall(t testing.TB, i int) {
	t.Helper()
	p := c.Nodes[i].Process
	if err := p.signalGroup(sigStop); err != nil {
		t.Fatalf("stall %s: %v", c.Nodes[i].NodeID, err)
	}
	// Thawed before the cluster's cleanup stops it, which would otherwise
	// wait out StopTimeout on a process that cannot act on SIGTERM.
	t.Cleanup(func() { _ = p.signalGroup(sigCont) })
}

// Resume thaws a stalled node i.
func (c *Cluster) Resume(t testing.TB, i int) {
	t.Helper()
	if err := c.Nodes[i].Process.signalGroup(sigCont); err != nil {
		t.Fatalf("resume %s: %v", c.Nodes[i].NodeID, err)
	}
}

// StartStopped starts the given stopped (or killed) nodes again on their
// data, all at once, and unseals them, without waiting for the rest of the
// cluster: two nodes of three must both be up before either can see a
// leader. It returns once each is unsealed; WaitActive tells when one of
// them leads.
func (c *Cluster) StartStopped(t testing.TB, nodes ...int) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(StartTimeout)
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for k, i := range nodes {
		p := c.Nodes[i].Process
		if p.Running() {
			t.Fatalf("start %s: it is running", c.Nodes[i].NodeID)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = startUnsealed(p, deadline)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fatalAfterTails(t, c.tails(nodes), "start nodes %v: %v", nodes, err)
	}
	t.Logf("vault nodes %v started and unsealed in %s", nodes, time.Since(start).Round(time.Millisecond))
}

// StopAll stops every node at once (SIGTERM, then SIGKILL after
// StopTimeout): a whole cluster shut down.
func (c *Cluster) StopAll(t testing.TB) {
	t.Helper()
	c.stopAll()
}

// StartAll starts every node again on its data after StopAll, unseals them
// all, and waits for a healthy cluster: every node a voter that knows the
// active node, and one node active.
func (c *Cluster) StartAll(t testing.TB) {
	t.Helper()
	all := make([]int, len(c.Nodes))
	for i := range all {
		all[i] = i
	}
	start := time.Now()
	c.StartStopped(t, all...)
	deadline := start.Add(c.opts.Timeout)
	err := c.waitVoters(deadline, len(c.Nodes))
	for _, n := range c.Nodes {
		if err == nil {
			err = n.Process.waitKnowsLeader(deadline)
		}
	}
	if err != nil {
		fatalAfterTails(t, c.tails(all), "vault cluster did not come back: %v", err)
	}
	t.Logf("vault cluster of %d nodes back after %s; active node%d", len(c.Nodes), time.Since(start).Round(time.Millisecond), c.WaitActive(t, time.Until(deadline)))
}

// startUnsealed starts a stopped node and unseals it.
func startUnsealed(p *Process, deadline time.Time) error {
	if err := p.start(); err != nil {
		return err
	}
	if _, err := p.waitHealth(deadline, "listener", answering); err != nil {
		return err
	}
	if err := p.unseal(deadline); err != nil {
		return err
	}
	_, err := p.waitHealth(deadline, "unsealed", isUnsealed)
	return err
}

// signalGroup sends sig to the process group of the running server.
func (v *Process) signalGroup(sig signal) error {
	v.mu.Lock()
	p := v.proc
	v.mu.Unlock()
	if p == nil || p.exited() {
		return fmt.Errorf("%s is not running", v.name)
	}
	return signalGroup(p.cmd.Process, sig)
}

// tails is the end of the given nodes' logs, for a failure message.
func (c *Cluster) tails(nodes []int) string {
	var out string
	for _, i := range nodes {
		n := c.Nodes[i]
		out += fmt.Sprintf("\n--- %s %s (tail) ---\n%s", n.NodeID, n.Process.LogPath, logTail(n.Process.LogPath, 40))
	}
	return out
}

// WaitRejoined waits up to timeout until node i (resumed, or started by
// StartStopped) is unsealed and knows the active node, and every node is a
// healthy raft voter again.
func (c *Cluster) WaitRejoined(t testing.TB, i int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	p := c.Nodes[i].Process
	_, err := p.waitHealth(deadline, "unsealed", isUnsealed)
	if err == nil {
		err = p.waitKnowsLeader(deadline)
	}
	if err == nil {
		err = c.waitVoters(deadline, len(c.Nodes))
	}
	if err != nil {
		fatalAfterTails(t, c.tails([]int{i}), "%s did not rejoin: %v", c.Nodes[i].NodeID, err)
	}
}
