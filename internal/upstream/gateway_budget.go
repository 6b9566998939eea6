package upstream

import (
	"net/http"
	"sync"
	"time"
)

// Every answer through the gateway, 200s included, carries what is left of
// the key's rate limit and quota. The latest is kept per key, so an operator
// sees a budget running out before the gateway refuses anything.

// LimitBudget is what the gateway last said of one limit of a key.
type LimitBudget struct {
	Limit     int64
	Remaining int64
	Reset     time.Time // zero when the gateway did not say
}

// At is the budget as it stands at now: once its reset has passed, the
// window has started afresh with all of its requests.
func (l LimitBudget) At(now time.Time) LimitBudget {
	if !l.Reset.IsZero() && !now.Before(l.Reset) {
		return LimitBudget{Limit: l.Limit, Remaining: l.Limit}
	}
	return l
}

// Ratio is the share of the window's requests left, 0 to 1.
func (l LimitBudget) Ratio() float64 {
	if l.Limit <= 0 {
		return 1
	}
	return min(max(float64(l.Remaining)/float64(l.Limit), 0), 1)
}

// GatewayBudget is what the latest answers said of a key's rate limit and
// quota; a nil limit was never reported.
type GatewayBudget struct {
	Rate, Quota *LimitBudget
}

// GatewayBudgets keeps the latest budget of each gateway key. Safe for
// concurrent use; share one between the clients of a mount.
type GatewayBudgets struct {
	mu   sync.Mutex
	keys map[GatewayKeyID]GatewayBudget // guarded by mu
}

// NewGatewayBudgets returns an empty registry.
func NewGatewayBudgets() *GatewayBudgets {
	return &GatewayBudgets{keys: make(map[GatewayKeyID]GatewayBudget)}
}

// Of returns the key's latest budget; ok is false before any answer told it.
func (g *GatewayBudgets) Of(id GatewayKeyID) (b GatewayBudget, ok bool) {
	if g == nil {
		return b, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok = g.keys[id]
	return b, ok
}

// All returns every key's latest budget, in no order and naming no key.
func (g *GatewayBudgets) All() []GatewayBudget {
	g.mu.Lock()
	defer g.mu.Unlock()
	all := make([]GatewayBudget, 0, len(g.keys))
	for _, b := range g.keys {
		all = append(all, b)
	}
	return all
}

// note keeps what an answer's headers say of the key's rate limit and quota.
// A limit the answer does not report keeps its last known budget.
func (g *GatewayBudgets) note(id GatewayKeyID, h http.Header, now time.Time) {
	if g == nil || h == nil {
		return
	}
	rate, quota := tightest(h, limitRate, now), tightest(h, limitQuota, now)
	if rate == nil && quota == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.keys[id]
	if rate != nil {
		b.Rate = rate
	}
	if quota != nil {
		b.Quota = quota
	}
	g.keys[id] = b
}

// tightest is the state of limit l with the fewest requests left, of those
// that give a limit and a Remaining; nil when none does.
func tightest(h http.Header, l gatewayLimit, now time.Time) *LimitBudget {
	var best *LimitBudget
	for _, s := range readLimitStates(h, l, now) {
		if s.max <= 0 || !s.hasRemaining {
			continue
		}
		if best == nil || s.remaining < best.Remaining {
			best = &LimitBudget{Limit: s.max, Remaining: s.remaining, Reset: s.reset}
		}
	}
	return best
}
