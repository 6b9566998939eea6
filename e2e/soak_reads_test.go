package e2e

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// readTally counts one kind of read by outcome.
type readTally struct {
	Served       int // a token came back
	Stale        int // ... with the warning that Resamania failed and the cached token serves
	Documented   int // a documented error: 502 or 503 naming the chain and what Resamania answered
	Undocumented int // any other error
	Expired      int // a token that had expired when the read was sent
	TooShort     int // a minimum_seconds read given a token with less left
	Unknown      int // a token the fake server never issued
}

// readLedger records every read of the soak.
type readLedger struct {
	fake *fakeresamania.Server

	mu      sync.Mutex
	byKind  map[readKind]*readTally
	samples []string // the first few undocumented errors and bad tokens, to print
}

func newReadLedger(fake *fakeresamania.Server) *readLedger {
	return &readLedger{fake: fake, byKind: map[readKind]*readTally{}}
}

const maxSamples = 8

func (l *readLedger) record(kind readKind, sent time.Time, minLeft time.Duration, secret *api.Secret, err error) {
	var problem string
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.byKind[kind]
	if t == nil {
		t = &readTally{}
		l.byKind[kind] = t
	}
	switch {
	case err != nil && documentedReadError(err):
		t.Documented++
	case err != nil:
		t.Undocumented++
		problem = fmt.Sprintf("%s read: %s", kind, strings.Join(strings.Fields(err.Error()), " "))
	default:
		t.Served++
		if len(secret.Warnings) > 0 {
			t.Stale++
		}
		problem = l.checkToken(t, kind, sent, minLeft, secret)
	}
	if problem != "" && len(l.samples) < maxSamples {
		l.samples = append(l.samples, problem)
	}
}

// checkToken holds a served token against the fake server's own record of
// when it expires. The 1 s allowance is the whole-second rounding of
// minimum_seconds against the token's expiry.
func (l *readLedger) checkToken(t *readTally, kind readKind, sent time.Time, minLeft time.Duration, secret *api.Secret) string {
	token, _ := secret.Data["access_token"].(string)
	exp, ok := l.fake.AccessTokenExpiry(token)
	switch {
	case !ok:
		t.Unknown++
		return fmt.Sprintf("%s read: a token the server never issued", kind)
	case !exp.After(sent):
		t.Expired++
		return fmt.Sprintf("%s read sent at %s: a token that expired at %s", kind, sent.Format(time.RFC3339Nano), exp.Format(time.RFC3339Nano))
	case minLeft > 0 && exp.Before(sent.Add(minLeft-time.Second)):
		t.TooShort++
		return fmt.Sprintf("%s read: %s left, %s asked", kind, exp.Sub(sent).Round(time.Millisecond), minLeft)
	}
	return ""
}

// documentedReadError: the plugin's documented answers to a read it could
// not serve during the soak, where every chain is configured and no
// credential should need signing in again: 502 or 503, naming the chain and
// what Resamania answered (errors.go's upstreamError).
func documentedReadError(err error) bool {
	var re *api.ResponseError
	if !errors.As(err, &re) || (re.StatusCode != 502 && re.StatusCode != 503) {
		return false
	}
	// Vault wraps a plugin's coded error as "1 error occurred:\n\t* <msg>".
	for _, msg := range re.Errors {
		if strings.HasPrefix(msg, `chain "`) || strings.Contains(msg, "\t* chain \"") {
			return true
		}
	}
	return false
}

// tallies returns a copy of the counts, and the samples.
func (l *readLedger) tallies() (map[readKind]readTally, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[readKind]readTally{}
	for k, t := range l.byKind {
		out[k] = *t
	}
	return out, append([]string(nil), l.samples...)
}
