package upstream

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// How the gateway's answers are read (docs/resamania.md, "Rate limits"). A
// Gravitee plan chains a quota, a rate limit and a spike arrest; each policy
// that ran sets its own headers on the answer, 200s included, so a refusal by
// one policy also carries the others' headers, with requests left. Each
// -Reset is the end of the policy's window in epoch milliseconds, on the
// gateway's clock (gateway_clock.go brings it to ours); the spike arrest
// sends its slice period instead of a Remaining.

// gatewayLimit is one of the gateway's limits, by its header prefix.
type gatewayLimit struct {
	header string // X-Quota, X-Rate-Limit, X-Spike-Arrest
	name   string // as an operator reads it
	// refusal is how Gravitee's message for this policy's 429 begins, in
	// lower case: "Spike limit exceeded ! You reach the limit of 16 ...".
	refusal string
}

var (
	limitSpike = gatewayLimit{"X-Spike-Arrest", "spike arrest", "spike limit exceeded"}
	limitRate  = gatewayLimit{"X-Rate-Limit", "rate limit", "rate limit exceeded"}
	limitQuota = gatewayLimit{"X-Quota", "daily quota", "quota exceeded"}
	// gatewayLimits in the order a plan runs them.
	gatewayLimits = []gatewayLimit{limitQuota, limitRate, limitSpike}
)

// defaultSpikeSlice is the spike arrest's slice when the answer names none.
const defaultSpikeSlice = 100 * time.Millisecond

// limitState is what one answer says of one limit. A header may carry several
// values (repeated, or joined by commas, when several plans' policies ran):
// each index is one state.
type limitState struct {
	limit        gatewayLimit
	max          int64 // -Limit; 0 when absent or unreadable
	remaining    int64 // -Remaining; meaningful when hasRemaining
	hasRemaining bool  // a Remaining was sent and is a number >= 0 (-1 means unknown)
	reset        time.Time
}

// readLimitStates reads every state the headers give of limit l.
func readLimitStates(h http.Header, l gatewayLimit, now time.Time) []limitState {
	maxes, remainings, resets := headerValues(h, l.header+"-Limit"), headerValues(h, l.header+"-Remaining"), headerValues(h, l.header+"-Reset")
	n := max(len(maxes), len(remainings), len(resets))
	skew := clockSkew(h, now)
	states := make([]limitState, n)
	for i := range states {
		s := limitState{limit: l}
		if i < len(maxes) {
			s.max, _ = strconv.ParseInt(maxes[i], 10, 64)
		}
		if i < len(remainings) {
			r, err := strconv.ParseInt(remainings[i], 10, 64)
			s.remaining, s.hasRemaining = r, err == nil && r >= 0
		}
		if i < len(resets) {
			s.reset = localReset(resets[i], now, skew)
		}
		states[i] = s
	}
	return states
}

// headerValues splits every value of a header on commas.
func headerValues(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			out = append(out, strings.TrimSpace(part))
		}
	}
	return out
}

// parseReset reads a -Reset: epoch milliseconds as Gravitee sends, epoch
// seconds from a gateway that sends those, and a small number as seconds
// from now (the IETF RateLimit headers' form). Zero for -1 (Gravitee's
// "unknown"), garbage, or nothing.
func parseReset(v string, now time.Time) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil || n <= 0:
		return time.Time{}
	case n >= 1e11: // epoch ms: 1e11 ms is March 1973
		return time.UnixMilli(n)
	case n >= 1e9: // epoch s: 1e9 s is September 2001
		return time.Unix(n, 0)
	default:
		return now.Add(time.Duration(n) * time.Second)
	}
}

// spikeSlice reads X-Spike-Arrest-Slice-Period: "100ms" from Gravitee, or a
// bare number of milliseconds.
func spikeSlice(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get(limitSpike.header + "-Slice-Period"))
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return defaultSpikeSlice
}

// closedWindow reads which limit a 429 says was reached, and until when, as
// Gravitee means it: the limit its message names; else a limit whose
// Remaining is 0; else any limit that does not say it has requests left. A
// limit with requests left never closed the window. Of the candidates, the
// soonest future reset wins: a wrong guess then costs one more 429, never
// hours of silence. A spike arrest ends within its slice, whatever its reset
// says. ok is false when no candidate has a usable reset.
func closedWindow(h http.Header, message string, now time.Time) (LimitWindow, bool) {
	named, found := limitNamedBy(message)
	var s limitState
	var ok bool
	if found {
		s, ok = soonestReset(readLimitStates(h, named, now), now)
	}
	spike := found && named == limitSpike
	if !ok && !spike {
		s, ok = soonestReset(exhaustedStates(h, now), now)
	}
	if spike || (ok && s.limit == limitSpike) {
		// A spike arrest ends within its slice: a reset further off is
		// misread or mis-sent, and none means one slice from now.
		until := now.Add(spikeSlice(h))
		if ok && s.reset.Before(until) {
			until = s.reset
		}
		return LimitWindow{Limit: limitSpike.name, Until: until}, true
	}
	if !ok {
		return LimitWindow{}, false
	}
	return LimitWindow{Limit: s.limit.name, Until: s.reset}, true
}

// soonestReset is the state whose reset is the soonest after now; ok is
// false when none is.
func soonestReset(states []limitState, now time.Time) (soonest limitState, ok bool) {
	for _, s := range states {
		if s.reset.After(now) && (!ok || s.reset.Before(soonest.reset)) {
			soonest, ok = s, true
		}
	}
	return soonest, ok
}

// exhaustedStates are the states of a 429 that no message names: those whose
// Remaining is 0, else those that do not say they have requests left.
func exhaustedStates(h http.Header, now time.Time) []limitState {
	var zero, unknown []limitState
	for _, l := range gatewayLimits {
		for _, s := range readLimitStates(h, l, now) {
			switch {
			case s.hasRemaining && s.remaining == 0:
				zero = append(zero, s)
			case !s.hasRemaining:
				unknown = append(unknown, s)
			}
		}
	}
	if len(zero) > 0 {
		return zero
	}
	return unknown
}

// limitNamedBy finds the policy a Gravitee refusal message names.
func limitNamedBy(message string) (gatewayLimit, bool) {
	m := strings.ToLower(strings.TrimSpace(message))
	for _, l := range gatewayLimits {
		if strings.HasPrefix(m, l.refusal) {
			return l, true
		}
	}
	return gatewayLimit{}, false
}

// gatewayText is what a refusal's body says, for matching against known
// texts only: Gravitee's JSON {"message": ...}, else the body as plain text.
// It is never shown as such: a body may echo what the request carried.
func gatewayText(body []byte) string {
	var g struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &g) == nil && g.Message != "" {
		return g.Message
	}
	return strings.TrimSpace(string(body))
}
