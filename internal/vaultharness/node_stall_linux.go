//go:build linux

package vaultharness

import (
	"os"
	"syscall"
)

type signal = syscall.Signal

const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

// signalGroup signals the process group led by p (Vault plus its plugins).
func signalGroup(p *os.Process, sig signal) error {
	return syscall.Kill(-p.Pid, sig)
}
