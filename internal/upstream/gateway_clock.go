package upstream

import (
	"net/http"
	"time"
)

// A gateway's absolute resets are times on its own clock. Compared with the
// clock of a node that is off, they would hold a gateway key too long (and
// the hold is stored for every node) or retry into a window still closed.
// The answer's Date (RFC 9110) is the gateway's clock at the answer: the
// distance from it to a reset is the distance from our now.

const (
	// clockSkewNoise: a Date is whole seconds, stamped after the request
	// left; a gap this small is noise, and the reset is read as sent.
	clockSkewNoise = 2 * time.Second
	// maxClockSkew: a Date further off is misread or mis-sent, not a clock.
	maxClockSkew = 24 * time.Hour
)

// clockSkew is how far our clock, at now, is ahead of the clock that
// stamped the answer; 0 without a Date worth trusting.
func clockSkew(h http.Header, now time.Time) time.Duration {
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return 0
	}
	skew := now.Sub(date)
	if skew.Abs() <= clockSkewNoise || skew.Abs() > maxClockSkew {
		return 0
	}
	return skew
}

// localReset reads a -Reset on the gateway's clock (a reset in seconds from
// now is the same on both) and returns it on ours; zero stays zero.
func localReset(v string, now time.Time, skew time.Duration) time.Time {
	reset := parseReset(v, now.Add(-skew))
	if reset.IsZero() {
		return reset
	}
	return reset.Add(skew)
}
