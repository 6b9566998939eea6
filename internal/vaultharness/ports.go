package vaultharness

import (
	"fmt"
	"net"
	"strings"
)

// freePortPair returns a loopback port p such that p and p+1 are both free:
// Vault puts its cluster listener on the API port + 1, and a collision there
// would make the server fail to start.
func freePortPair() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1))
		l.Close()
		if err != nil {
			continue
		}
		l2.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free pair of loopback ports found")
}

// freePortPairs returns n ports p, each with p and p+1 free, all distinct.
func freePortPairs(n int) ([]int, error) {
	var ports []int
	taken := map[int]bool{}
	for len(ports) < n {
		if len(taken) > 50*n {
			return nil, fmt.Errorf("no %d distinct pairs of free loopback ports found", n)
		}
		p, err := freePortPair()
		if err != nil {
			return nil, err
		}
		if taken[p] || taken[p+1] {
			taken[p] = true
			continue
		}
		taken[p], taken[p+1] = true, true
		ports = append(ports, p)
	}
	return ports, nil
}

// retryOnPortClash runs start up to three times, calling stop after each
// failure. Another process may take a port between the probe and Vault's
// bind; only that failure, which the log shows, is worth another try.
func retryOnPortClash(start func() error, stop func(), log func() string) error {
	var err error
	for range 3 {
		if err = start(); err == nil {
			return nil
		}
		stop()
		if !strings.Contains(log(), "address already in use") {
			break
		}
	}
	return err
}
