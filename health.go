package resamania

import (
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/framework"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// The health states of a chain or a member credential.
const (
	// healthUnknown: this node has sent no grant for it since the plugin
	// started or its config changed.
	healthUnknown = "unknown"
	// healthOK: the last grant succeeded.
	healthOK = "ok"
	// healthDegraded: the last grant failed because Resamania was unreachable,
	// rate-limited it or failed (5xx): retried later; cached tokens still serve.
	healthDegraded = "degraded"
	// healthFailing: Resamania refused the last grant (an OAuth error, the
	// gateway key, TLS, an answer that is no token): someone has to fix it.
	healthFailing = "failing"
	// healthSignInRequired: a credential only; its stored state is
	// sign_in_required or uncertain: the member must sign in again.
	healthSignInRequired = "sign_in_required"
)

// healthBook keeps, per chain and per member credential, what this node saw
// of its grants. It lives in memory, per node, on purpose: it describes this
// plugin process's own calls (as its metrics do), and storing it would turn
// every failed call into a replicated storage write on the read path, which a
// standby cannot make and a failing Resamania would multiply. What must
// survive (a credential that needs a sign-in) is already in storage.
type healthBook struct {
	mu       sync.Mutex
	subjects map[string]*health // guarded by mu; by storage key (config/<chain>, creds/<chain>/<name>)
}

// health is one subject's record. Guarded by healthBook.mu.
type health struct {
	state               string
	lastSuccess         time.Time
	lastError           string // upstream.Error's text: status, OAuth code and description; no body, no secret
	lastErrorAt         time.Time
	consecutiveFailures int
}

func newHealthBook() *healthBook {
	return &healthBook{subjects: make(map[string]*health)}
}

// record notes a grant's outcome for subject. Errors that are not Resamania's
// answer (a missing config, storage) say nothing of its health and are skipped.
func (h *healthBook) record(subject string, err error, now time.Time) {
	var ue *upstream.Error
	if err != nil && !errors.As(err, &ue) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.subjects[subject]
	if r == nil {
		r = &health{}
		h.subjects[subject] = r
	}
	if err == nil {
		r.state, r.lastSuccess, r.consecutiveFailures = healthOK, now, 0
		return
	}
	r.state = healthFailing
	if ue.Kind == upstream.KindTransient {
		r.state = healthDegraded
	}
	r.lastError, r.lastErrorAt = ue.Error(), now
	r.consecutiveFailures++
}

// fields is what a read shows of subject's health. needsSignIn overrides the
// state: the stored credential cannot be refreshed, whatever this node saw.
func (h *healthBook) fields(subject string, needsSignIn bool) map[string]any {
	h.mu.Lock()
	r := health{state: healthUnknown}
	if got := h.subjects[subject]; got != nil {
		r = *got
	}
	h.mu.Unlock()
	if needsSignIn {
		r.state = healthSignInRequired
	}
	return map[string]any{
		"health":               r.state,
		"last_success_at":      rfc3339OrEmpty(r.lastSuccess),
		"last_error":           r.lastError,
		"last_error_at":        rfc3339OrEmpty(r.lastErrorAt),
		"consecutive_failures": r.consecutiveFailures,
	}
}

// forget drops subject's record (its config changed, or it was deleted).
func (h *healthBook) forget(subject string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subjects, subject)
}

// forgetPrefix drops the records of every subject under prefix (a deleted
// chain's credentials).
func (h *healthBook) forgetPrefix(prefix string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	deleteUnderPrefix(h.subjects, prefix)
}

// reset drops every record (the mount is being unloaded).
func (h *healthBook) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.subjects)
}

// healthFields is the schema of what fields returns, on config and status reads.
func healthFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"health":               {Type: framework.TypeString, Description: "What the node serving the read saw of its grants since the plugin started: unknown (none sent), ok, degraded (Resamania unreachable, rate-limiting or failing; retried), failing (Resamania refused: fix the config), or sign_in_required (a credential whose member must sign in again)."},
		"last_success_at":      {Type: framework.TypeString, Description: "When a grant last succeeded (RFC 3339), empty if never."},
		"last_error":           {Type: framework.TypeString, Description: "The last failure: Resamania's error code and description, or the HTTP status or transport failure. Never a body or a secret."},
		"last_error_at":        {Type: framework.TypeString, Description: "When the last failure happened (RFC 3339), empty if never."},
		"consecutive_failures": {Type: framework.TypeInt, Description: "Grants failed in a row since the last success."},
	}
}

// rfc3339OrEmpty formats t in UTC, or "" for the zero time.
func rfc3339OrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// chainHealthSubject names a chain's health record by its config's storage
// key; a credential's record is named by the credential's (credKey).
func chainHealthSubject(chain string) string { return configKey(chain) }
