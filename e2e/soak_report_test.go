package e2e

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// closedWindowGrace is how long after a 429 left the gateway a request may
// still arrive without counting as sent into the closed window: one already
// on its way when the 429 was read (loopback, a busy 2-core machine).
const closedWindowGrace = 250 * time.Millisecond

// What the soak's footprint may grow by between the warm-up and the end.
const (
	soakGoroutineGrowth = 20
	soakRSSGrowthFactor = 1.5
	soakRSSGrowthKB     = 32 << 10
)

// upstreamLedger is what the fake server saw.
type upstreamLedger struct {
	byGrant         map[string]int                  // requests the OAuth server answered, by grant
	refused         map[fakeresamania.LimitKind]int // 429s the gateway answered in its place
	intoClosed      int                             // requests that arrived while a window they had been told of was closed
	refreshTwice    int                             // refresh tokens sent again after Resamania had used them
	refreshRejected int                             // refreshes answered 400 (a refresh token lost or reused)
	samples         []string
}

func readUpstream(reqs []fakeresamania.RecordedRequest) upstreamLedger {
	u := upstreamLedger{byGrant: map[string]int{}, refused: map[fakeresamania.LimitKind]int{}}
	var refusals []fakeresamania.RecordedRequest
	used := map[string]bool{} // refresh tokens Resamania has processed
	for _, r := range reqs {
		if r.GatewayLimit != "" {
			u.refused[r.GatewayLimit]++
			refusals = append(refusals, r)
			continue
		}
		u.byGrant[r.GrantType]++
		if r.GrantType != fakeresamania.GrantRefreshToken {
			continue
		}
		rt := r.Form.Get("refresh_token")
		if used[rt] {
			u.refreshTwice++
		}
		switch r.Status {
		case 200:
			used[rt] = true
		case 400:
			u.refreshRejected++
		}
	}
	for _, r := range reqs {
		if q, ok := closedOn(r, refusals); ok {
			u.intoClosed++
			if len(u.samples) < maxSamples {
				u.samples = append(u.samples, fmt.Sprintf("a %s request arrived %s after a %s 429 that closed the window until %s",
					r.GrantType, r.Time.Sub(q.Answered).Round(time.Millisecond), q.GatewayLimit, q.GatewayReset.Format(time.RFC3339Nano)))
			}
		}
	}
	return u
}

// closedOn finds the 429, answered a grace before r arrived, whose window
// was still closed when r arrived.
func closedOn(r fakeresamania.RecordedRequest, refusals []fakeresamania.RecordedRequest) (fakeresamania.RecordedRequest, bool) {
	for _, q := range refusals {
		if q.GatewayKey == r.GatewayKey && !q.Answered.IsZero() &&
			q.Answered.Add(closedWindowGrace).Before(r.Time) && r.Time.Before(q.GatewayReset) {
			return q, true
		}
	}
	return fakeresamania.RecordedRequest{}, false
}

// soakReport is everything the soak prints and judges.
type soakReport struct {
	reads        map[readKind]readTally
	readSamples  []string
	upstream     upstreamLedger
	creds        int
	after        settled
	reloads      int
	reloadErrors []string
	bursts       int
	limits       fakeresamania.GatewayLimits
	start, end   soakSnapshot
}

func (sk *soak) report(start, end soakSnapshot, after settled) soakReport {
	reads, samples := sk.reads.tallies()
	sk.events.mu.Lock()
	defer sk.events.mu.Unlock()
	return soakReport{
		reads: reads, readSamples: samples, upstream: readUpstream(sk.fake.Requests()),
		creds: len(sk.creds), after: after,
		reloads: sk.events.reloads, reloadErrors: slices.Clone(sk.events.reloadFailures), bursts: sk.events.bursts,
		limits: sk.events.limits, start: start, end: end,
	}
}

// lostRefreshTokens: credentials whose refresh token no longer works (their
// final read failed), and refresh tokens the fake still honours that no
// credential holds (orphaned by a rotation the plugin did not keep).
func (r soakReport) lostRefreshTokens() int {
	final := r.reads[readFinal]
	failed := r.creds - (final.Served - final.Expired - final.Unknown)
	return failed + max(0, r.after.liveRefresh-r.creds)
}

func (r soakReport) sum(field func(readTally) int) int {
	n := 0
	for _, t := range r.reads {
		n += field(t)
	}
	return n
}

// check lists what fails the soak.
func (r soakReport) check(length time.Duration) []string {
	var failures []string
	fail := func(cond bool, format string, args ...any) {
		if cond {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	fail(r.lostRefreshTokens() != 0, "%d refresh tokens lost (zero allowed)", r.lostRefreshTokens())
	fail(r.upstream.refreshTwice != 0, "%d refresh tokens sent again after use (zero allowed)", r.upstream.refreshTwice)
	fail(r.upstream.refreshRejected != 0, "%d refreshes refused with 400 (zero allowed)", r.upstream.refreshRejected)
	expired := r.sum(func(t readTally) int { return t.Expired + t.Unknown })
	fail(expired != 0, "%d reads returned an expired or unknown token (zero allowed)", expired)
	short := r.sum(func(t readTally) int { return t.TooShort })
	fail(short != 0, "%d minimum_seconds reads got less than they asked (zero allowed)", short)
	undocumented := r.sum(func(t readTally) int { return t.Undocumented })
	fail(undocumented != 0, "%d reads failed with an undocumented error (zero allowed)", undocumented)
	fail(r.upstream.intoClosed != 0, "%d upstream requests sent into a closed gateway window (zero allowed)", r.upstream.intoClosed)
	fail(r.after.liveLeases != 0, "%d leases still live %s after the load's last token expired (zero allowed)", r.after.liveLeases, soakLeaseWait)
	fail(len(r.reloadErrors) != 0, "%d plugin reloads failed: %v", len(r.reloadErrors), r.reloadErrors)
	fail(r.reloads < int(length/(soakReloadEvery*time.Second)), "only %d plugin reloads in %s", r.reloads, length)
	fail(r.end.goroutines > r.start.goroutines+soakGoroutineGrowth, "the test process's goroutines grew from %d to %d", r.start.goroutines, r.end.goroutines)
	fail(r.end.pluginGoroutines > r.start.pluginGoroutines+soakGoroutineGrowth, "the plugin's goroutines grew from %d to %d", r.start.pluginGoroutines, r.end.pluginGoroutines)
	rssBound := int(float64(r.start.pluginRSSkB)*soakRSSGrowthFactor) + soakRSSGrowthKB
	fail(r.end.pluginRSSkB > rssBound, "the plugin's RSS grew from %d kB to %d kB (bound %d kB)", r.start.pluginRSSkB, r.end.pluginRSSkB, rssBound)
	refused := 0
	for _, n := range r.upstream.refused {
		refused += n
	}
	// The full soak must reach the gateway's limits, or the hold check
	// proves nothing; a short run may not.
	fail(length >= 5*time.Minute && refused == 0, "the gateway never answered 429: the limits were never reached, so the hold was never tested")
	return failures
}

func (r soakReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "SOAK RESULTS\n")
	fmt.Fprintf(&b, "%-16s %8s %7s %11s %13s %8s %9s %8s\n", "reads", "served", "stale", "documented", "undocumented", "expired", "too short", "unknown")
	for _, k := range []readKind{readCached, readMinimum, readCredential, readCold, readFinal} {
		t := r.reads[k]
		fmt.Fprintf(&b, "%-16s %8d %7d %11d %13d %8d %9d %8d\n", k, t.Served, t.Stale, t.Documented, t.Undocumented, t.Expired, t.TooShort, t.Unknown)
	}
	fmt.Fprintf(&b, "upstream requests answered by Resamania: %v\n", r.upstream.byGrant)
	fmt.Fprintf(&b, "gateway 429s: %v (limits %+v)\n", r.upstream.refused, r.limits)
	fmt.Fprintf(&b, "requests sent into a closed window: %d\n", r.upstream.intoClosed)
	fmt.Fprintf(&b, "refresh tokens lost: %d; sent again after use: %d; refreshes refused: %d; live at the end: %d for %d credentials\n",
		r.lostRefreshTokens(), r.upstream.refreshTwice, r.upstream.refreshRejected, r.after.liveRefresh, r.creds)
	fmt.Fprintf(&b, "plugin reloads: %d (%d failed); fault bursts: %d\n", r.reloads, len(r.reloadErrors), r.bursts)
	fmt.Fprintf(&b, "live leases after the load's tokens expired: %d\n", r.after.liveLeases)
	fmt.Fprintf(&b, "test-process goroutines: %d -> %d\n", r.start.goroutines, r.end.goroutines)
	fmt.Fprintf(&b, "plugin process: RSS %d kB -> %d kB, goroutines %d -> %d, threads %d -> %d (pid %d -> %d)\n",
		r.start.pluginRSSkB, r.end.pluginRSSkB, r.start.pluginGoroutines, r.end.pluginGoroutines, r.start.pluginThreads, r.end.pluginThreads, r.start.pluginPID, r.end.pluginPID)
	for _, s := range append(r.readSamples, r.upstream.samples...) {
		fmt.Fprintf(&b, "  sample: %s\n", s)
	}
	return b.String()
}
