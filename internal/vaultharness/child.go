package vaultharness

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// process is one long-running vault process (server or agent) whose stdout
// and stderr go to a log file, so tests can grep what Vault and the plugins
// it runs said.
type process struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	err      error         // exit error, valid once done is closed
	stopOnce sync.Once
}

// startProcess starts bin in its own process group (where the OS allows) so
// stop can also reach the plugin processes Vault spawned. Output is appended
// to logPath.
func startProcess(bin string, args, env []string, logPath string) (*process, error) {
	return startProcessIn("", bin, args, env, logPath)
}

// startProcessIn is startProcess with a working directory ("" = the test's).
func startProcessIn(dir, bin string, args, env []string, logPath string) (*process, error) {
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
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has already exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs the process group.
// The group kill also runs after a clean exit, to reap any plugin process
// that outlived Vault. It returns once the process is gone or after a bounded
// extra wait. Only the first call acts: a later group kill could hit a
// process group id the OS has handed out again.
func (p *process) stop(grace time.Duration) {
	p.stopOnce.Do(func() { p.stopNow(grace) })
}

func (p *process) stopNow(grace time.Duration) {
	if !p.exited() {
		terminate(p.cmd.Process)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	killGroup(p.cmd.Process)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// errExited describes an exited process; call only once p.done is closed.
func errExited(p *process) error {
	if p.err != nil {
		return fmt.Errorf("process exited: %w", p.err)
	}
	return fmt.Errorf("process exited with status 0")
}
