package resamania

import (
	"fmt"
	"sync"
	"time"
)

// A club or member that Resamania refused (an unknown club id, an email it
// does not know) is remembered per scoped token key, so that a reader
// looping on a made-up club id costs Resamania one request per
// refusalMemory, not one per read: the gateway's budget is every chain's.

const (
	// refusalMemory is how long a refusal is answered from memory.
	refusalMemory = 5 * time.Minute
	// maxRememberedRefusals bounds the memory a reader can fill with
	// made-up keys; past it, the oldest refusals go first.
	maxRememberedRefusals = 10000
)

// refusedScopes holds the refusals. Safe for concurrent use.
type refusedScopes struct {
	now func() time.Time // set once

	mu       sync.Mutex
	refusals map[string]refusal // guarded by mu, by scoped token key
}

// refusal is one refused grant, good while the chain's config is the one it
// was refused under, until its end.
type refusal struct {
	err         *scopeRefusedError
	fingerprint string
	at, until   time.Time
}

func newRefusedScopes(now func() time.Time) *refusedScopes {
	return &refusedScopes{now: now, refusals: make(map[string]refusal)}
}

// recall is the refusal remembered for key under the config fingerprint,
// or nil.
func (r *refusedScopes) recall(key, fingerprint string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, ok := r.refusals[key]
	if !ok || ref.fingerprint != fingerprint || !r.now().Before(ref.until) {
		return nil
	}
	return &scopeRefusedError{remembered: true, msg: fmt.Sprintf("%s; remembered from %s: not asked again before %s or a change of the chain's config",
		ref.err.msg, ref.at.UTC().Format(time.RFC3339), ref.until.UTC().Format(time.RFC3339))}
}

// remember keeps err as key's refusal under the config fingerprint.
func (r *refusedScopes) remember(key, fingerprint string, err *scopeRefusedError) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, known := r.refusals[key]; !known && len(r.refusals) >= maxRememberedRefusals {
		r.makeRoomLocked(now)
	}
	r.refusals[key] = refusal{err: err, fingerprint: fingerprint, at: now, until: now.Add(refusalMemory)}
}

// makeRoomLocked drops the ended refusals, else the oldest one.
func (r *refusedScopes) makeRoomLocked(now time.Time) {
	oldestKey, oldest := "", time.Time{}
	for key, ref := range r.refusals {
		if !now.Before(ref.until) {
			delete(r.refusals, key)
			continue
		}
		if oldestKey == "" || ref.at.Before(oldest) {
			oldestKey, oldest = key, ref.at
		}
	}
	if len(r.refusals) >= maxRememberedRefusals {
		delete(r.refusals, oldestKey)
	}
}

// forget drops key's refusal (a contact's email changed or deleted).
func (r *refusedScopes) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.refusals, key)
}

// forgetPrefix drops the refusals of every key under prefix (a chain
// changed or deleted, a contact's email changed).
func (r *refusedScopes) forgetPrefix(prefix string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	deleteUnderPrefix(r.refusals, prefix)
}

// count is how many refusals are remembered.
func (r *refusedScopes) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.refusals)
}
