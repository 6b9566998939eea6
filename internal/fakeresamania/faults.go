package fakeresamania

import (
	"maps"
	"net/http"
	"slices"
	"time"
)

// maxFaultDelay bounds Fault.Delay so a forgotten fault cannot hang a test.
const maxFaultDelay = 2 * time.Minute

// Fault makes the token endpoint misbehave the way a gateway, a PHP fatal
// or a lossy network does. Delay, then one of Reset, RedirectTo, Garbage,
// Oversize or Status answers instead of the server (in that order of
// precedence). Override and Truncate instead alter the server's own answer,
// so the grant always happens for them.
//
// A Status of 429 is the gateway's refusal, as Gravitee sends it
// (docs/resamania.md, "Rate limits"): the JSON message of the policy named
// by Limit, that policy's headers with nothing remaining and a reset
// ResetIn from now, the headers of the plan's policies before it, and no
// Retry-After. It is recorded as a gateway refusal, so TokenRequests does
// not count it and GatewayRefusals does. Body, ContentType, RetryAfter and
// AfterProcessing do not go with it: Gravitee sends none of them.
type Fault struct {
	Status          int             // answer with this status (500, 502, 503, 429...)
	Limit           LimitKind       // for a 429: the refusing policy; default LimitRate
	ResetIn         time.Duration   // for a 429: until the refusing policy's window ends; default 1 s, the end of the slice for the spike arrest
	Body            string          // raw body for the answer; default: an HTML error page
	ContentType     string          // default: text/html
	RetryAfter      string          // Retry-After header value; never on a 429
	Delay           time.Duration   // sleep first (bounded, ends when the client gives up)
	Hold            <-chan struct{} // wait first until it is closed (bounded like Delay): a test holds a request open until it lets it go
	Reset           bool            // close the connection without an answer
	Truncate        bool            // the real answer cut in the middle (Content-Length too large)
	Garbage         bool            // 200 with a non-JSON body
	Oversize        int             // 200 whose body is this many bytes of valid-looking JSON
	RedirectTo      string          // redirect to this URL (307, or Status when it is 3xx)
	Override        map[string]any  // top-level JSON fields replaced in the real answer; nil deletes (json.RawMessage("null") sends null)
	AfterProcessing bool            // let the grant happen first (rotate, consume), then misbehave: a lost answer
	Count           int             // next Count matching requests only; 0 = until ClearFaults
	GrantType       string          // only requests of this grant_type; "" = any

	// Gate is called as the request passes each GatePoint, to pause it there (gate.go).
	Gate func(GateEvent)
}

// InjectFault queues a fault; the first pending fault that matches applies.
// It panics on a 429 that Gravitee would not send (see Fault).
func (s *Server) InjectFault(f Fault) {
	if f.Status == http.StatusTooManyRequests && (f.Body != "" || f.ContentType != "" || f.RetryAfter != "" || f.AfterProcessing) {
		panic("fakeresamania: a 429 is Gravitee's: no Body, ContentType, RetryAfter or AfterProcessing")
	}
	if f.Limit != "" {
		specOf(f.Limit) // panics on an unknown kind
	}
	f.Override = maps.Clone(f.Override)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the fault for a request of grantType, if any, and
// counts it against the fault's Count.
func (s *Server) takeFault(grantType string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.GrantType != "" && f.GrantType != grantType {
			continue
		}
		taken := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return &taken
	}
	return nil
}

// answersInstead reports whether the fault replaces the server's answer.
func (f *Fault) answersInstead() bool {
	return f.Reset || f.RedirectTo != "" || f.Garbage || f.Oversize > 0 || f.Status != 0
}

// pause waits for f's Hold to be closed, then sleeps its Delay, each
// bounded by maxFaultDelay, and reports false if the client went away or
// the server is closing first.
func (s *Server) pause(r *http.Request, f *Fault) bool {
	if f.Hold != nil && !s.wait(r, f.Hold, maxFaultDelay) {
		return false
	}
	return f.Delay <= 0 || s.wait(r, nil, f.Delay)
}

// wait waits until ch is closed (a nil ch never is) or d has passed, bounded
// by maxFaultDelay; false if the client went away or the server is closing.
func (s *Server) wait(r *http.Request, ch <-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(min(d, maxFaultDelay))
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}
