package upstream

import (
	"crypto/sha256"
	"sync"
)

// sharedIdlePerHost is how many idle connections a shared pool keeps to one
// gateway host: enough for a mount's requests in flight to find one warm.
const sharedIdlePerHost = 32

// Transports shares connection pools between the clients of a mount, one
// pool per CA bundle (the system roots, or an operator's ca_pem), so that
// 10,000 chains behind one gateway hold a few connections to it, not one
// pool, its idle connections and their goroutines each. Requests carry their
// own credentials; a connection is only a channel to the same host, trusted
// by the same CAs. Safe for concurrent use.
type Transports struct {
	mu    sync.Mutex
	pools map[[32]byte]*recordingTransport // guarded by mu, by sha256 of the CA bundle
}

// NewTransports returns an empty set of pools, to share within one mount.
func NewTransports() *Transports {
	return &Transports{pools: make(map[[32]byte]*recordingTransport)}
}

// pool returns the pool that trusts caPEM (the system roots when empty).
func (t *Transports) pool(caPEM string) (*recordingTransport, error) {
	id := sha256.Sum256([]byte(caPEM))
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.pools[id]; p != nil {
		return p, nil
	}
	p, err := newTransport(caPEM)
	if err != nil {
		return nil, err
	}
	p.idlePerHost(sharedIdlePerHost)
	t.pools[id] = p
	return p, nil
}

// CloseIdleConnections closes every pool's idle connections (the mount is
// being unloaded).
func (t *Transports) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pools {
		p.CloseIdleConnections()
	}
}
