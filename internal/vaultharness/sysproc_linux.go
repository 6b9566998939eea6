//go:build linux

package vaultharness

import (
	"os"
	"syscall"
)

// sysProcAttr puts the child in its own process group and asks the kernel to
// send it SIGTERM if the test binary dies without running t.Cleanup (a
// `go test -timeout` panic, a kill -9). SIGTERM rather than SIGKILL: Vault
// then shuts down and stops its plugin processes, which SIGKILL would orphan.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

func terminate(p *os.Process) { _ = p.Signal(syscall.SIGTERM) }

// killGroup kills the process group led by p (Vault plus its plugins).
func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}
