//go:build !linux

package vaultharness

import (
	"os"
	"syscall"
)

// Outside Linux the harness keeps to what every OS offers: no process group,
// so only the vault process itself is signalled.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) {
	if err := p.Signal(os.Interrupt); err != nil {
		_ = p.Kill()
	}
}

func killGroup(p *os.Process) { _ = p.Kill() }
