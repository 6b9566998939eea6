package fakeresamania

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// LimitKind names one of the gateway's rate limits.
type LimitKind string

// The gateway's limits.
const (
	LimitQuota       LimitKind = "quota"        // per day
	LimitRate        LimitKind = "rate-limit"   // per minute
	LimitSpikeArrest LimitKind = "spike-arrest" // per 100 ms slice
)

// spikeSlice is the spike arrest's window.
const spikeSlice = 100 * time.Millisecond

// GatewayLimits are the limits Gravitee applies per gateway key, across
// every chain and grant. 0 turns a limit off.
type GatewayLimits struct {
	SpikeArrest   int // requests per 100 ms slice
	RatePerMinute int // requests per minute
	DailyQuota    int // requests per day
}

// DefaultGatewayLimits is the plan a new server runs: a rate limit and a
// quota no test reaches, so that every answer carries their headers, 200s
// included, as the real gateway's do, and nothing is refused. No spike
// arrest: tests that want one set it.
var DefaultGatewayLimits = GatewayLimits{RatePerMinute: 100_000, DailyQuota: 10_000_000}

// refusalLimits are the limits a Fault's 429 names for a policy the plan
// does not run: the published guideline and [RL]'s examples.
var refusalLimits = GatewayLimits{SpikeArrest: 16, RatePerMinute: 1000, DailyQuota: 50_000}

// limitSpec is what the gateway says about one limit.
type limitSpec struct {
	kind    LimitKind
	window  time.Duration // windows start at multiples of it, by the server's clock
	header  string        // response header prefix
	message string        // Gravitee's refusal, given the limit
	limit   func(GatewayLimits) int
}

// limitSpecs in the order a plan runs them.
var limitSpecs = []limitSpec{
	{LimitQuota, 24 * time.Hour, "X-Quota", "Quota exceeded ! You reach the limit of %d requests per 1 days",
		func(l GatewayLimits) int { return l.DailyQuota }},
	{LimitRate, time.Minute, "X-Rate-Limit", "Rate limit exceeded ! You reach the limit of %d requests per 1 minutes",
		func(l GatewayLimits) int { return l.RatePerMinute }},
	{LimitSpikeArrest, spikeSlice, "X-Spike-Arrest", "Spike limit exceeded ! You reach the limit of %d requests per 100 ms.",
		func(l GatewayLimits) int { return l.SpikeArrest }},
}

// gatewayWindowID is one limit of one gateway key.
type gatewayWindowID struct {
	key  string // x-gravitee-api-key as received, "" without one
	kind LimitKind
}

// gatewayWindow counts one key's requests in one limit's current window.
type gatewayWindow struct {
	end   time.Time // exclusive
	count int
}

// gatewayState is the gateway's memory. Guarded by Server.mu.
type gatewayState struct {
	limits  GatewayLimits
	windows map[gatewayWindowID]*gatewayWindow // counted windows
	closed  map[gatewayWindowID]time.Time      // windows closed by CloseGatewayWindow, until then
}

// gatewayRefusal is a 429 the gateway answers in place of the server.
type gatewayRefusal struct {
	spec  limitSpec
	limit int
	reset time.Time
}

// SetGatewayLimits sets the gateway's limits and starts every counted
// window afresh. Windows closed by CloseGatewayWindow stay closed.
func (s *Server) SetGatewayLimits(l GatewayLimits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gateway.limits = l
	s.gateway.windows = map[gatewayWindowID]*gatewayWindow{}
}

// CloseGatewayWindow makes every request with gateway key key ("" for
// none) get the 429 of limit kind, without counting anything, until the
// server's clock reaches until. A zero until reopens it.
func (s *Server) CloseGatewayWindow(key string, kind LimitKind, until time.Time) {
	specOf(kind) // panics on an unknown kind
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gateway.closed == nil {
		s.gateway.closed = map[gatewayWindowID]time.Time{}
	}
	s.gateway.closed[gatewayWindowID{key, kind}] = until
}

// GatewayRefusals counts the recorded requests with gateway key key ("" for
// none) that the gateway refused with a 429, counted or closed windows
// alike. ResetCounters sets it back to zero.
func (s *Server) GatewayRefusals(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, rec := range s.requests {
		if rec.GatewayKey == key && rec.GatewayLimit != "" {
			n++
		}
	}
	return n
}

// passGateway runs the plan's policies on a recorded request, in the order
// a Gravitee plan chains them (quota, rate limit, spike arrest). Each policy
// that runs counts the request and sets its headers on h, so a refusal by
// one carries the headers of those before it, with requests left, and every
// answer that passes carries them all. A window closed by
// CloseGatewayWindow refuses without counting. It returns the refusal to
// answer, or nil. The answer's Date is the server's clock, as its resets are
// (net/http would stamp the machine's), so a test can set the two apart.
func (s *Server) passGateway(rec *RecordedRequest, h http.Header) *gatewayRefusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	g := &s.gateway
	for _, spec := range limitSpecs {
		limit := spec.limit(g.limits)
		id := gatewayWindowID{rec.GatewayKey, spec.kind}
		if until, ok := g.closed[id]; ok {
			if now.Before(until) {
				spec.setHeaders(h, limit, 0, until)
				return refuse(rec, spec, limit, until)
			}
			delete(g.closed, id)
		}
		if limit <= 0 {
			continue
		}
		w := g.windows[id]
		if w == nil || !now.Before(w.end) {
			w = &gatewayWindow{end: now.Truncate(spec.window).Add(spec.window)}
			if g.windows == nil {
				g.windows = map[gatewayWindowID]*gatewayWindow{}
			}
			g.windows[id] = w
		}
		w.count++
		spec.setHeaders(h, limit, limit-w.count, w.end)
		if w.count > limit {
			return refuse(rec, spec, limit, w.end)
		}
	}
	return nil
}

// faultRefusal is the 429 of a Fault (see Fault): passGateway has run and
// set the headers of the plan's policies; the refusing policy's become
// "nothing left until the reset", and those after it in the plan, which
// never run once it refuses, are removed.
func (s *Server) faultRefusal(rec *RecordedRequest, h http.Header, f *Fault) *gatewayRefusal {
	kind := cmp.Or(f.Limit, LimitRate)
	spec := specOf(kind)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	reset := now.Add(cmp.Or(f.ResetIn, time.Second))
	if kind == LimitSpikeArrest && f.ResetIn == 0 {
		reset = now.Truncate(spikeSlice).Add(spikeSlice)
	}
	limit := spec.limit(s.gateway.limits)
	if limit <= 0 {
		limit = spec.limit(refusalLimits)
	}
	after := false
	for _, other := range limitSpecs {
		if after {
			for _, suffix := range []string{"-Limit", "-Remaining", "-Reset", "-Slice-Period"} {
				h.Del(other.header + suffix)
			}
		}
		after = after || other.kind == kind
	}
	spec.setHeaders(h, limit, 0, reset)
	return refuse(rec, spec, limit, reset)
}

// refuse marks rec as refused by the limit, until reset.
func refuse(rec *RecordedRequest, spec limitSpec, limit int, reset time.Time) *gatewayRefusal {
	rec.GatewayLimit, rec.GatewayReset = spec.kind, reset
	return &gatewayRefusal{spec: spec, limit: limit, reset: reset}
}

// write answers the 429 as Gravitee does: JSON with the refusing policy's
// message, and no Retry-After. The headers are set already.
func (g *gatewayRefusal) write(w http.ResponseWriter) int {
	body, _ := json.Marshal(struct {
		Message        string `json:"message"`
		HTTPStatusCode int    `json:"http_status_code"`
	}{fmt.Sprintf(g.spec.message, g.limit), http.StatusTooManyRequests})
	writeRaw(w, http.StatusTooManyRequests, "application/json", string(body))
	return http.StatusTooManyRequests
}

// setHeaders sets the limit's headers as its policy does; each -Reset is
// the window's end in epoch milliseconds. The spike arrest sends its slice
// ("100ms") instead of a remaining count.
func (spec limitSpec) setHeaders(h http.Header, limit, remaining int, reset time.Time) {
	h.Set(spec.header+"-Limit", strconv.Itoa(limit))
	if spec.kind == LimitSpikeArrest {
		h.Set(spec.header+"-Slice-Period", strconv.FormatInt(spikeSlice.Milliseconds(), 10)+"ms")
	} else {
		h.Set(spec.header+"-Remaining", strconv.Itoa(max(remaining, 0)))
	}
	h.Set(spec.header+"-Reset", strconv.FormatInt(reset.UnixMilli(), 10))
}

func specOf(kind LimitKind) limitSpec {
	for _, spec := range limitSpecs {
		if spec.kind == kind {
			return spec
		}
	}
	panic("fakeresamania: unknown gateway limit " + strconv.Quote(string(kind)))
}
