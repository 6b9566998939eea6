package vaultharness

import (
	"errors"
	"sync"
	"time"
)

// bootstrap initialises node 0, unseals every node and waits for a healthy
// cluster: every node a raft voter that knows the active node, and exactly
// one node active.
func (c *Cluster) bootstrap(deadline time.Time) error {
	if err := c.initFirst(deadline); err != nil {
		return err
	}
	if err := c.unsealJoiners(deadline); err != nil {
		return err
	}
	if err := c.waitVoters(deadline, len(c.Nodes)); err != nil {
		return err
	}
	for _, node := range c.Nodes {
		if err := node.Process.waitKnowsLeader(deadline); err != nil {
			return err
		}
	}
	return waitUntil(time.Until(deadline), "one active node", func() (bool, error) {
		_, err := c.activeNow()
		return err == nil, err
	})
}

// initFirst initialises node 0, gives every node the root token, the key
// and a client, unseals node 0 and waits until it is active.
func (c *Cluster) initFirst(deadline time.Time) error {
	first := c.Nodes[0].Process
	h, err := first.waitHealth(deadline, "listener", answering)
	if err != nil {
		return err
	}
	if h.Initialized {
		return errors.New(first.name + ": a fresh node reports itself initialised")
	}
	if err := first.initialise(); err != nil {
		return err
	}
	c.RootToken, c.UnsealKey = first.RootToken, first.UnsealKey
	for _, node := range c.Nodes {
		node.Process.RootToken, node.Process.UnsealKey = c.RootToken, c.UnsealKey
		if err := node.Process.connect(); err != nil {
			return err
		}
	}
	if err := first.unseal(deadline); err != nil {
		return err
	}
	if _, err := first.waitHealth(deadline, "active", isActive); err != nil {
		return err
	}
	return quickAutopilot(first)
}

// unsealJoiners unseals every node but the first, in parallel: each needs
// node 0's challenge, which retry_join fetches every two seconds, before the
// key can unseal it.
func (c *Cluster) unsealJoiners(deadline time.Time) error {
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, node := range c.Nodes[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := node.Process.waitHealth(deadline, "listener", answering); err != nil {
				errs[i] = err
				return
			}
			errs[i] = node.Process.unseal(deadline)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
