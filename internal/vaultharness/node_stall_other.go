//go:build !linux

package vaultharness

import (
	"errors"
	"os"
)

type signal int

const (
	sigStop signal = iota
	sigCont
)

// Outside Linux there is no process group to stall (see sysproc_other.go).
func signalGroup(*os.Process, signal) error {
	return errors.New("stalling a node needs Linux")
}
