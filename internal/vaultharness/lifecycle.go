package vaultharness

import (
	"fmt"
	"time"

	"github.com/hashicorp/vault/api"
)

// start runs `vault server -config=<ConfigPath> extraArgs...`; it waits for
// nothing.
func (v *Process) start(extraArgs ...string) error {
	args := append([]string{"server", "-config=" + v.ConfigPath}, extraArgs...)
	p, err := startChild("", v.bin, args, v.env, v.LogPath)
	if err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	v.mu.Lock()
	v.proc = p
	v.mu.Unlock()
	return nil
}

// Stop stops the server: SIGTERM, a bounded wait, then SIGKILL of its
// process group (plugins included). Safe to call more than once.
func (v *Process) Stop() {
	if p := v.take(); p != nil {
		p.stop(StopTimeout)
	}
}

// kill is a crash: SIGKILL to the process group, plugins included, then a
// bounded wait for the process to be gone.
func (v *Process) kill() error {
	p := v.take()
	if p == nil {
		return fmt.Errorf("%s is not running", v.name)
	}
	if !p.kill() {
		return fmt.Errorf("%s: the process did not exit", v.name)
	}
	return nil
}

// take hands the running process over to whoever ends it.
func (v *Process) take() *child {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.proc
	v.proc = nil
	return p
}

// Running reports whether the server process is running.
func (v *Process) Running() bool { return v.gone() == nil }

// gone is nil while the process runs, and otherwise says why it does not:
// never started, stopped, or exited and how.
func (v *Process) gone() error {
	v.mu.Lock()
	p := v.proc
	v.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%s is not running", v.name)
	}
	if err := p.exitErr(); err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	return nil
}

// waitRunning is waitUntil that gives up as soon as the process has gone.
func (v *Process) waitRunning(deadline time.Time, what string, cond func() (bool, error)) error {
	return waitUntil(time.Until(deadline), v.name+" "+what, func() (bool, error) {
		if err := v.gone(); err != nil {
			return true, err
		}
		return cond()
	})
}

// waitHealth waits until sys/health answers and ok accepts the answer, and
// returns that answer.
func (v *Process) waitHealth(deadline time.Time, what string, ok func(*api.HealthResponse) bool) (*api.HealthResponse, error) {
	var h *api.HealthResponse
	err := v.waitRunning(deadline, what, func() (bool, error) {
		var err error
		h, err = health(v.Addr)
		return err == nil && ok(h), err
	})
	return h, err
}
