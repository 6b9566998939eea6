package vaultharness

import (
	"fmt"
	"time"
)

// Timeouts used by the harness. They are variables so a slow machine can
// raise them from a TestMain.
var (
	StartTimeout = 60 * time.Second // server start until healthy (incl. init/unseal)
	CLITimeout   = 60 * time.Second // one `vault` CLI invocation
	StopTimeout  = 15 * time.Second // SIGTERM grace period before SIGKILL
	BuildTimeout = 5 * time.Minute  // one `go build` of a plugin
)

const pollInterval = 100 * time.Millisecond

// waitUntil polls cond until it reports done, returns an error, or the
// timeout passes. It never waits longer than timeout plus one poll.
func waitUntil(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		done, err := cond()
		if done {
			return err
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				return fmt.Errorf("timed out after %s waiting for %s: last error: %w", timeout, what, lastErr)
			}
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}
