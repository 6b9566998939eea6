package upstream

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sync"
	"time"
)

// Resamania's gateway limits each gateway key (docs/resamania.md): a spike
// arrest per 100 ms slice, a rate limit per minute and a daily quota. Past one
// it answers 429 with no Retry-After, and says when the window ends in
// X-<Limit>-Reset (gateway_headers.go reads which). It asks integrators to
// back off and never loop.

// LimitWindow is a closed window of a gateway key: no request that uses the
// key is sent before Until.
type LimitWindow struct {
	Limit string // which limit, as gatewayLimit.name
	Until time.Time
}

// GatewayHolds remembers, per gateway key, the windows a 429 closed, so that
// no client sharing the key (every chain, club, member and background job of
// the mount) sends a request before the window ends. Safe for concurrent use.
type GatewayHolds struct {
	mu      sync.Mutex
	windows map[GatewayKeyID]LimitWindow // guarded by mu
	// onClose is told of each window a 429 closed or lengthened, outside mu.
	// Set once by OnClose, before any client uses the registry.
	onClose func(GatewayKeyID, LimitWindow)
}

// GatewayKeyID names a gateway key on one gateway host without holding it:
// a sha256, safe to log or store.
type GatewayKeyID [32]byte

func (id GatewayKeyID) String() string { return hex.EncodeToString(id[:]) }

// ParseGatewayKeyID reads what String wrote.
func ParseGatewayKeyID(s string) (GatewayKeyID, bool) {
	var id GatewayKeyID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

// NewGatewayHolds returns an empty registry, to share between the clients of
// one mount.
func NewGatewayHolds() *GatewayHolds {
	return &GatewayHolds{windows: make(map[GatewayKeyID]LimitWindow)}
}

// OnClose sets fn to be told of each window a 429 closes, so that the mount
// can store it and a process started before it ends (a plugin reload, a
// failover) can Restore it. Call it before the registry is used.
func (g *GatewayHolds) OnClose(fn func(GatewayKeyID, LimitWindow)) { g.onClose = fn }

// Restore holds the key back until w ends, as a 429 would, without telling
// OnClose: the window was told of when it closed.
func (g *GatewayHolds) Restore(id GatewayKeyID, w LimitWindow) { g.close(id, w) }

// closeAndTell records a window a 429 closed and tells OnClose, when it
// ends later than the one already known.
func (g *GatewayHolds) closeAndTell(id GatewayKeyID, w LimitWindow) {
	if g.close(id, w) && g.onClose != nil {
		g.onClose(id, w)
	}
}

// gatewayKeyID names a gateway key on one gateway host.
func gatewayKeyID(tokenURL, apiKey string) GatewayKeyID {
	host := tokenURL
	if u, err := url.Parse(tokenURL); err == nil {
		host = u.Host
	}
	return sha256.Sum256([]byte(host + "\x00" + apiKey))
}

// closed returns the window still closed for the key at now, if any.
func (g *GatewayHolds) closed(id GatewayKeyID, now time.Time) (LimitWindow, bool) {
	if g == nil {
		return LimitWindow{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	w, ok := g.windows[id]
	if ok && !now.Before(w.Until) {
		delete(g.windows, id)
		return LimitWindow{}, false
	}
	return w, ok
}

// close records a window; a later end wins. It reports whether w was kept.
func (g *GatewayHolds) close(id GatewayKeyID, w LimitWindow) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur, ok := g.windows[id]; !ok || w.Until.After(cur.Until) {
		g.windows[id] = w
		return true
	}
	return false
}
