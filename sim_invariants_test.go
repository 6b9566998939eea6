package resamania_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
)

// The invariants, checked after every schedule from the fake's ledger, a
// dump of storage, the plugin's memory and its log.

// storedCred is what the invariants read of a stored credential.
type storedCred struct {
	RefreshToken string `json:"refresh_token"`
	State        string `json:"state"`
	StateReason  string `json:"state_reason"`
}

// chainScoped are the storage prefixes that hold a chain's entries
// (storage_layout.go), each followed by the chain's name.
var chainScoped = []string{"config/", "cache/token/", "cache/club-token/", "cache/contact-token/", "contacts/", "creds/", "auth-state/"}

// chainKeys lists the keys of dump stored under chain; exceptOwn leaves out
// the two entries named by the chain itself (its config, its token).
func chainKeys(dump map[string][]byte, chain string, exceptOwn bool) []string {
	var out []string
	for key := range dump {
		for _, p := range chainScoped {
			own := key == p+chain
			if (own && !exceptOwn && (p == "config/" || p == "cache/token/")) || strings.HasPrefix(key, p+chain+"/") {
				out = append(out, key)
			}
		}
	}
	sort.Strings(out)
	return out
}

// checkStartsEmpty: a chain configured where none was holds nothing else.
func (w *world) checkStartsEmpty(chain string) {
	if left := chainKeys(w.store.dump(), chain, true); len(left) > 0 {
		w.facts.mu.Lock()
		deleted, known := w.facts.chainDrops[chain]
		w.facts.mu.Unlock()
		after := "after a deletion that succeeded"
		if known && !deleted {
			after = "after a deletion that failed midway"
		}
		w.facts.violation("(c) a chain configured again does not start empty", "chain %q, %s: %s", chain, after, strings.Join(left, ", "))
	}
}

// check runs every invariant on the world at rest and returns what failed.
func (w *world) check() []string {
	dump := w.store.dump()
	creds := map[string]storedCred{} // by key
	holder := map[string]string{}    // refresh token -> key
	for key, v := range dump {
		if !strings.HasPrefix(key, "creds/") {
			continue
		}
		var c storedCred
		if json.Unmarshal(v, &c) == nil {
			creds[key] = c
			holder[c.RefreshToken] = key
		}
	}
	var out []string
	fail := func(kind, format string, args ...any) { out = append(out, kind+" | "+fmt.Sprintf(format, args...)) }
	f := w.facts
	f.mu.Lock()
	out = append(out, f.found...)
	f.mu.Unlock()

	if lost := w.unloadLosses(); len(lost) > 0 {
		// Storage refused every write of an unload: the plugin said which
		// rotated refresh tokens went with the process, and the next
		// instance sends their spent predecessors (the fence's documented
		// window). What was said is checked; (a) and (b) cannot hold.
		w.hist.add("the plugin said storage refused the unload's every write for %s: (a) and (b) are not checked", strings.Join(lost, ", "))
	} else {
		w.checkSentOnce(fail)
		w.checkLiveTokensKept(creds, holder, fail)
	}
	w.checkDeletedChains(dump, fail)
	w.checkMemory(fail)
	w.checkLog(fail)
	return out
}

// (a) no refresh token or code reached Resamania's grant twice.
func (w *world) checkSentOnce(fail func(kind, format string, args ...any)) {
	count := map[string]int{}
	grant := map[string]string{}
	steps := map[string][]string{}
	f := w.facts
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range w.fake.Requests() {
		if r.GatewayLimit != "" {
			continue
		}
		if s := spentSecret(r.GrantType, r.Form.Get); s != "" {
			count[s]++
			grant[s] = r.GrantType
			steps[s] = append(steps[s], fmt.Sprint(f.stepOfLocked(i)))
		}
	}
	for s, n := range count {
		processed := n - (f.before[s] - f.after[s])
		if processed > 1 {
			fail("(a) a code or refresh token processed twice", "a %s (%.8s...) was processed by Resamania %d times (sent at steps %s; 0 is the end)",
				grant[s], s, processed, strings.Join(steps[s], ", "))
		}
	}
}

// (b) every refresh token Resamania issued and still accepts is stored under
// its member's credential, or its answer was lost in transit, or the
// credential was deliberately let go; and no active credential holds a
// refresh token Resamania already consumed.
func (w *world) checkLiveTokensKept(creds map[string]storedCred, holder map[string]string, fail func(kind, format string, args ...any)) {
	f := w.facts
	f.mu.Lock()
	lost := map[string]lostAnswer{}
	for _, l := range f.lost {
		lost[l.issued] = l
	}
	// An answer lost in transit without a fault: its client had hung up
	// (its own timeout, on a loaded machine) by the time it was written.
	for _, r := range w.fake.Requests() {
		if r.ClientGone && r.IssuedRefreshToken != "" {
			if _, known := lost[r.IssuedRefreshToken]; !known {
				lost[r.IssuedRefreshToken] = lostAnswer{grant: r.GrantType, spent: spentSecret(r.GrantType, r.Form.Get), issued: r.IssuedRefreshToken}
			}
		}
	}
	imports := f.imports
	lineages := f.lineages
	f.mu.Unlock()
	liveTokens := w.fake.LiveRefreshTokenList()
	subjectOf := map[string]string{}
	for _, live := range liveTokens {
		subjectOf[live.Token] = live.Subject
	}
	for _, live := range liveTokens {
		if imports[live.Token] {
			continue // the app's own token, never sent
		}
		l := lineages[live.Subject]
		if l == nil {
			continue // a club's or a contact's: scoped tokens keep no refresh token
		}
		want := "creds/" + l.chain + "/" + l.name
		if key, ok := holder[live.Token]; ok {
			if key != want {
				fail("(b) a refresh token stored under another credential", "the refresh token of the sign-in at step %d to %s is stored under %s", l.step, want, key)
			}
			continue
		}
		if _, ok := lost[live.Token]; ok || f.forgotten(l, subjectOf[creds[want].RefreshToken]) {
			continue
		}
		if l.reportedLost && subjectOf[creds[want].RefreshToken] != l.subject {
			continue // its caller was told the answer was lost, and nothing of it is stored
		}
		if c, ok := creds[want]; ok && c.State == "uncertain" {
			continue // the refresh that issued it lost its answer, and the credential says so
		}
		state := "no credential stored"
		if c, ok := creds[want]; ok {
			state = fmt.Sprintf("stored credential %s: %s (%s)", want, c.State, clipText(c.StateReason))
		}
		fail("(b) a live refresh token stored nowhere, not lost in transit", "the sign-in at step %d to %s; %s",
			l.step, want, state)
	}
	for _, l := range lost {
		key, ok := holder[l.spent]
		if ok && l.grant == "refresh_token" && creds[key].State != "uncertain" {
			fail("(b) a refresh lost in transit left its credential other than uncertain",
				"%s still holds the refresh token spent at step %d, in state %s (%s)", key, l.step, creds[key].State, clipText(creds[key].StateReason))
		}
	}
	for key, c := range creds {
		parts := strings.Split(key, "/") // creds/<chain>/<name>
		if len(parts) == 3 && f.deleteTried(parts[1], parts[2]) {
			continue
		}
		if c.State == "active" && c.RefreshToken != "" && !w.fake.RefreshTokenKnown(c.RefreshToken) && !imports[c.RefreshToken] {
			fail("(b) an active credential holds a consumed refresh token", "%s: its next refresh loses the member", key)
		}
	}
}

// (c) a chain whose deletion succeeded, and that was not configured again,
// left nothing.
func (w *world) checkDeletedChains(dump map[string][]byte, fail func(kind, format string, args ...any)) {
	f := w.facts
	for _, chain := range simChains {
		f.mu.Lock()
		deleted, known := f.chainDrops[chain]
		f.mu.Unlock()
		if !known || !deleted {
			continue
		}
		if _, configured := dump["config/"+chain]; configured {
			continue
		}
		if left := chainKeys(dump, chain, false); len(left) > 0 {
			fail("(c) a deleted chain left entries", "chain %q: %s", chain, strings.Join(left, ", "))
		}
	}
}

// (d) the active node's memory: nothing held unsaved once storage works,
// and no token cache entry without a token or a flight.
func (w *world) checkMemory(fail func(kind, format string, args ...any)) {
	n := w.activeNode()
	if held := n.b.HeldCredentials(); len(held) > 0 {
		fail("(d) credentials held in memory after a tick with working storage", "%s", strings.Join(held, ", "))
	}
	if entries, inUse := n.b.TokenCacheSizes(); entries > inUse {
		fail("(d) token cache entries without a token, a flight or a block", "%d entries, %d with a token, a flight or a block", entries, inUse)
	}
}

// (e) no secret and no email in any log line.
func (w *world) checkLog(fail func(kind, format string, args ...any)) {
	w.mu.Lock()
	secrets := append([]string(nil), w.secrets...)
	w.mu.Unlock()
	secrets = append(secrets, w.fake.IssuedSecrets()...)
	for _, s := range testsupport.FoundSecrets(w.logs.String(), secrets) {
		fail("(e) a secret or an email in the log", "%.10s...", s)
	}
}

// unloadLosses are the credentials whose rotated refresh token the plugin
// said was lost when it unloaded, storage refusing every write it tried.
func (w *world) unloadLosses() []string {
	var keys []string
	for _, line := range strings.Split(w.logs.String(), "\n") {
		if !strings.Contains(line, "is lost with this process") {
			continue
		}
		if _, key, ok := strings.Cut(line, "credential="); ok {
			keys = append(keys, strings.Fields(key)[0])
		}
	}
	return keys
}
