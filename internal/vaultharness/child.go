package vaultharness

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// child is one long-running process the harness started (a vault server or
// agent) whose stdout and stderr go to a log file, so tests can grep what
// Vault and the plugins it runs said.
type child struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	err      error         // exit error, valid once done is closed
	stopOnce sync.Once     // the first stop or kill acts, later ones do nothing
}

// startChild starts bin in dir ("" = the test's working directory) and in
// its own process group (where the OS allows), so stop can also reach the
// plugin processes Vault spawned. Output is appended to logPath.
func startChild(dir, bin string, args, env []string, logPath string) (*child, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "=== vaultharness %s: %s %q\n", time.Now().Format(time.RFC3339Nano), bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has already exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exitErr is nil while the process runs and says how it ended once it has
// exited: the check every wait makes, so a dead process fails a test at once
// rather than at the timeout.
func (c *child) exitErr() error {
	switch {
	case !c.exited():
		return nil
	case c.err != nil:
		return fmt.Errorf("process exited: %w", c.err)
	default:
		return fmt.Errorf("process exited with status 0")
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs the process group.
// The group kill also runs after a clean exit, to reap any plugin process
// that outlived Vault. Only the first stop or kill acts: a later group kill
// could hit a process group id the OS has handed out again.
func (c *child) stop(grace time.Duration) {
	c.stopOnce.Do(func() {
		if !c.exited() {
			terminate(c.cmd.Process)
			c.waitExit(grace)
		}
		c.killGroupAndWait()
	})
}

// kill is a crash: SIGKILL to the process group at once, so the plugin
// processes die with it. It reports whether the process is gone because of
// this call (false when it had been stopped or killed before).
func (c *child) kill() bool {
	killed := false
	c.stopOnce.Do(func() {
		killed = true
		c.killGroupAndWait()
	})
	return killed && c.exited()
}

// killGroupAndWait kills the process group, then waits a bounded time for
// the process to be reaped.
func (c *child) killGroupAndWait() {
	killGroup(c.cmd.Process)
	c.waitExit(10 * time.Second)
}

func (c *child) waitExit(timeout time.Duration) {
	select {
	case <-c.done:
	case <-time.After(timeout):
	}
}
