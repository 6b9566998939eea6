package resamania_test

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// What the simulation learns as a schedule runs, that neither the fake's
// ledger nor storage can tell afterwards: who signed in where, what was
// deliberately forgotten, which answers were lost in transit.

type lineage struct {
	subject, chain, name string
	seq, step            int
	replaced             bool // the sign-in's answer replaced the credential: stored, or held to be stored
	replacedAt           int  // when, in seq
	// reportedLost: the plugin told the sign-in's caller that its answer was
	// lost after Resamania processed it (the member must sign in again): a
	// loss in transit the plugin saw, though no fault caused it (a client
	// timeout on a loaded machine).
	reportedLost bool
}

// forgetting is an operator's delete: of a credential, or of a whole chain
// (name ""), as of its config's deletion.
type forgetting struct {
	chain, name string
	seq         int
}

// lostAnswer is an answer Resamania sent that never arrived: a grant spent
// the secret spent, and issued the refresh token issued.
type lostAnswer struct {
	grant, spent, issued string
	step                 int
}

type facts struct {
	mu         sync.Mutex
	seq        int                 // orders events
	step       int                 // the step running
	lineages   map[string]*lineage // by subject
	forgets    []forgetting
	chainDrops map[string]bool // chain -> its last delete succeeded
	imports    map[string]bool // refresh tokens the simulation made up for an import
	before     map[string]int  // secret -> faulted requests that reached the fault
	after      map[string]int  // secret -> of those, the ones processed
	lost       []lostAnswer
	sentSteps  []int    // the step of each request in the fake's ledger, in order
	found      []string // violations seen while running
}

func newFacts() *facts {
	return &facts{lineages: map[string]*lineage{}, chainDrops: map[string]bool{}, imports: map[string]bool{},
		before: map[string]int{}, after: map[string]int{}}
}

func (f *facts) setStep(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.step = n
}

func (f *facts) startLineage(subject, chain, name string) *lineage {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	l := &lineage{subject: subject, chain: chain, name: name, seq: f.seq, step: f.step}
	f.lineages[subject] = l
	return l
}

func (f *facts) signedIn(l *lineage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	l.replaced, l.replacedAt = true, f.seq
}

func (f *facts) signInLost(l *lineage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l.reportedLost = true
}

func (f *facts) forgot(chain, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	f.forgets = append(f.forgets, forgetting{chain: chain, name: name, seq: f.seq})
}

func (f *facts) chainDeleted(chain string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chainDrops[chain] = ok
}

func (f *facts) imported(rt string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imports[rt] = true
}

func (f *facts) violation(kind, format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.found = append(f.found, kind+" | "+fmt.Sprintf("step %d: ", f.step)+fmt.Sprintf(format, args...))
}

// spentSecret is the single-use secret a grant request carries, if any.
func spentSecret(grantType string, get func(string) string) string {
	switch grantType {
	case fakeresamania.GrantRefreshToken:
		return get("refresh_token")
	case fakeresamania.GrantAuthorizationCode:
		return get("code")
	}
	return ""
}

// gate records a faulted request: whether the server processed it, and,
// when the fault loses the answer, the refresh token the answer carried.
func (f *facts) gate(ev fakeresamania.GateEvent, lost bool) {
	grant := ev.Form.Get("grant_type")
	secret := spentSecret(grant, ev.Form.Get)
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev.Point == fakeresamania.BeforeProcessing {
		f.before[secret]++
		return
	}
	f.after[secret]++
	if !lost {
		return
	}
	var answer struct {
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(ev.Answer, &answer) == nil && answer.RefreshToken != "" {
		f.lost = append(f.lost, lostAnswer{grant: grant, spent: secret, issued: answer.RefreshToken, step: f.step})
	}
}

// forgotten says whether l's credential was deliberately let go after l
// began: deleted (alone or with its chain), or replaced by another sign-in
// that ended later (storedNow is the sign-in whose refresh token the
// credential holds).
func (f *facts) forgotten(l *lineage, storedNow string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.forgets {
		if d.seq > l.seq && d.chain == l.chain && (d.name == "" || d.name == l.name) {
			return true
		}
	}
	for _, o := range f.lineages {
		if o != l && o.chain == l.chain && o.name == l.name &&
			((o.replaced && o.replacedAt > l.seq) || (o.subject == storedNow && o.seq > l.seq)) {
			return true
		}
	}
	return false
}

// deleteTried says whether an operator tried to delete the credential at
// chain/name (or its chain) since its last sign-in began: whatever storage
// still holds there was meant to go.
func (f *facts) deleteTried(chain, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	since := 0
	for _, l := range f.lineages {
		if l.replaced && l.chain == chain && l.name == name {
			since = max(since, l.seq)
		}
	}
	for _, d := range f.forgets {
		if d.seq > since && d.chain == chain && (d.name == "" || d.name == name) {
			return true
		}
	}
	return false
}

// sentAt records the step of the fake's next request.
func (f *facts) sentAt(step int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sentSteps = append(f.sentSteps, step)
}

// stepOfLocked is the step the fake's i-th request came in, 0 after the last.
func (f *facts) stepOfLocked(i int) int {
	if i < len(f.sentSteps) {
		return f.sentSteps[i]
	}
	return 0
}
