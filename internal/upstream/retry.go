package upstream

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	backoffBase = 250 * time.Millisecond
	backoffCap  = 4 * time.Second
	// maxRetryAfter: a server asking for a longer pause is not waited for;
	// the caller gets the error (and a cached token, if one is still good).
	maxRetryAfter = 30 * time.Second
	// minAttemptBudget: no retry starts with less time than this left.
	minAttemptBudget = 500 * time.Millisecond
)

// retryWait says how long to wait before attempt n+1, honouring Retry-After,
// with exponential backoff and jitter otherwise; ok is false when the wait
// would not leave room for another attempt before the deadline.
func retryWait(ctx context.Context, n int, retryAfter time.Duration) (time.Duration, bool) {
	wait := backoffBase << (n - 1)
	if wait > backoffCap || wait <= 0 {
		wait = backoffCap
	}
	wait = wait/2 + rand.N(wait/2+1) // jitter spreads the retries of many nodes
	if retryAfter > 0 {
		if retryAfter > maxRetryAfter {
			return 0, false
		}
		wait = retryAfter
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait+minAttemptBudget {
		return 0, false
	}
	return wait, true
}

// parseRetryAfter reads delay-seconds or an HTTP-date (RFC 9110 10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > 86400 {
			secs = 86400
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}
