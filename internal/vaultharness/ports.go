package vaultharness

import (
	"fmt"
	"net"
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
