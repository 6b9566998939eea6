package upstream

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resamania's gateway limits each gateway key (SERVER-BEHAVIOUR.md): a spike
// arrest per 100 ms slice, a rate limit per minute and a daily quota. Past one
// it answers 429 with no Retry-After, and says when the window ends in
// X-<Limit>-Reset, in epoch milliseconds. It asks integrators to back off and
// never loop.

// gatewayLimit is one of the gateway's limits, by its header prefix.
type gatewayLimit struct {
	header string // X-Rate-Limit, X-Quota, X-Spike-Arrest
	name   string // as an operator reads it
}

var gatewayLimits = []gatewayLimit{
	{"X-Spike-Arrest", "spike arrest"},
	{"X-Rate-Limit", "rate limit"},
	{"X-Quota", "daily quota"},
}

// limitWindow is a closed window of a gateway key: no request that uses the
// key is sent before Until.
type limitWindow struct {
	Limit string // which limit, as gatewayLimit.name
	Until time.Time
}

// closedWindow reads which limit a 429 answer says was reached, and until
// when: of the limits whose Remaining is 0 (all of them, when the gateway
// sends no Remaining), the one that ends last. ok is false without a usable
// reset header.
func closedWindow(h http.Header, now time.Time) (w limitWindow, ok bool) {
	var anyExhausted bool
	for _, l := range gatewayLimits {
		if h.Get(l.header+"-Remaining") == "0" {
			anyExhausted = true
		}
	}
	for _, l := range gatewayLimits {
		if anyExhausted && h.Get(l.header+"-Remaining") != "0" {
			continue
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(h.Get(l.header+"-Reset")), 10, 64)
		if err != nil || ms <= 0 {
			continue
		}
		until := time.UnixMilli(ms)
		if until.After(now) && until.After(w.Until) {
			w, ok = limitWindow{Limit: l.name, Until: until}, true
		}
	}
	return w, ok
}

// GatewayHolds remembers, per gateway key, the windows a 429 closed, so that
// no client sharing the key (every chain, club, member and background job of
// the mount) sends a request before the window ends. Safe for concurrent use.
type GatewayHolds struct {
	mu      sync.Mutex
	windows map[[32]byte]limitWindow // guarded by mu, by gatewayKeyID
}

// NewGatewayHolds returns an empty registry, to share between the clients of
// one mount.
func NewGatewayHolds() *GatewayHolds {
	return &GatewayHolds{windows: make(map[[32]byte]limitWindow)}
}

// gatewayKeyID names a gateway key on one gateway host without holding it.
func gatewayKeyID(tokenURL, apiKey string) [32]byte {
	host := tokenURL
	if u, err := url.Parse(tokenURL); err == nil {
		host = u.Host
	}
	return sha256.Sum256([]byte(host + "\x00" + apiKey))
}

// closed returns the window still closed for the key at now, if any.
func (g *GatewayHolds) closed(id [32]byte, now time.Time) (limitWindow, bool) {
	if g == nil {
		return limitWindow{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	w, ok := g.windows[id]
	if ok && !now.Before(w.Until) {
		delete(g.windows, id)
		return limitWindow{}, false
	}
	return w, ok
}

// close records a window; a later end wins.
func (g *GatewayHolds) close(id [32]byte, w limitWindow) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur, ok := g.windows[id]; !ok || w.Until.After(cur.Until) {
		g.windows[id] = w
	}
}
