package resamania_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"

	resamania "github.com/resamania-oss/vault-plugin-secrets-resamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
)

// The world of one schedule: the fake Resamania, one storage, the plugin
// instances over it (the active one and a standby), the clocks, and what the
// simulation learns as it goes, for the invariants.

// plugin is what the simulation uses of a backend.
type plugin interface {
	logical.Backend
	TokenCacheSizes() (entries, inUse int)
	HeldCredentials() []string
	WaitForFlights(limit time.Duration) bool
}

// The pools actions pick from: few names, so that actors collide.
var (
	simChains   = []string{"alpha", "beta"}
	simMembers  = []string{"ann", "bob"}
	simContacts = []string{"cat", "dan"}
	simClubs    = []string{"1", "2"}
)

const (
	simRedirect   = "https://app.example.test/callback"
	simTokenLife  = 300 // seconds an access token lives
	simMountPoint = "resamania/"
)

// simClock is the gateway's clock: real time as it passes, plus the jumps
// the simulation makes. Real time passes in it because the plugin waits in
// real time for the windows a gateway's 429 names.
type simClock struct {
	base  time.Time
	start time.Time
	jump  atomic.Int64 // nanoseconds added by jumps
}

func newSimClock() *simClock {
	return &simClock{base: testsupport.NewClock().Now(), start: time.Now()}
}

func (c *simClock) Now() time.Time {
	return c.base.Add(time.Since(c.start) + time.Duration(c.jump.Load()))
}

func (c *simClock) advance(d time.Duration) { c.jump.Add(int64(d)) }

// node is one plugin instance over the shared storage.
type node struct {
	name  string
	b     plugin
	store *nodeStorage // this node's view of the shared storage
}

// nodeStorage is one node's view of the shared storage: once the node has
// stepped down, its writes fail, as Raft refuses a node that is no longer
// the leader, so two nodes never both write.
type nodeStorage struct {
	logical.Storage
	steppedDown atomic.Bool
}

var errNotLeader = errors.New("node is not the leader")

func (s *nodeStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	return s.Storage.Put(s.leading(ctx), e)
}

func (s *nodeStorage) Delete(ctx context.Context, key string) error {
	return s.Storage.Delete(s.leading(ctx), key)
}

// leading lets the shared storage ask, as the write commits, whether this
// node still leads.
func (s *nodeStorage) leading(ctx context.Context) context.Context {
	return context.WithValue(ctx, leaderCheck{}, func() bool { return !s.steppedDown.Load() })
}

type world struct {
	seed  int64
	clock *simClock
	skew  atomic.Int64 // the nodes' clock minus the gateway's, in nanoseconds
	fake  *fakeresamania.Server
	store *simStorage
	logs  *testsupport.SyncBuffer
	hist  *history
	facts *facts // its own lock

	nodes atomic.Int32 // instances built, to name them
	life  sync.Mutex   // one reload or take-over at a time
	// routing is held shared by each request while the plugin handles it,
	// and alone by a reload: Vault reloads a plugin under its route's lock,
	// once the requests under way have ended.
	routing sync.RWMutex
	pending actorCount // actors an interleaving started, still running

	mu      sync.Mutex
	active  *node    // guarded by mu: serves requests and ticks
	standby *node    // guarded by mu: gets the invalidations
	cur     *stepRun // guarded by mu: the step running
	secrets []string // guarded by mu: what no log line may hold, besides what the fake issued

	// configWrites counts each chain's config writes that succeeded, so a
	// write can tell whether another one configured the chain meanwhile.
	configWrites sync.Map // chain -> *atomic.Int64
}

// configWritesOf is the count of chain's successful config writes.
func (w *world) configWritesOf(chain string) *atomic.Int64 {
	n, _ := w.configWrites.LoadOrStore(chain, new(atomic.Int64))
	return n.(*atomic.Int64)
}

// stepRun is one step as it runs: the cancel of its caller's context, for a
// fault to hang up, and what happened besides its outcome.
type stepRun struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	notes  []string
}

func (s *stepRun) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

func newWorld(seed int64) *world {
	w := &world{seed: seed, clock: newSimClock(), store: newSimStorage(), logs: &testsupport.SyncBuffer{}, facts: newFacts()}
	w.hist = &history{}
	w.fake = fakeresamania.Start(fakeresamania.Options{Now: w.clock.Now})
	for _, chain := range simChains {
		w.fake.AddClient(fakeresamania.Client{ClientToken: chain, ClientID: clientID(chain), ClientSecret: clientSecret(seed, chain),
			ExpiresIn: simTokenLife, RedirectURIs: []string{simRedirect}, AllowedGrants: []string{
				fakeresamania.GrantClientCredentials, fakeresamania.GrantAuthorizationCode, fakeresamania.GrantRefreshToken,
				fakeresamania.GrantClubCredentials, fakeresamania.GrantContactCredentials}})
		for _, club := range simClubs {
			var id int
			fmt.Sscan(club, &id)
			w.fake.AddClub(chain, id)
		}
		for _, c := range simContacts {
			w.fake.AddMember(chain, contactEmail(c), "SENTINEL-contact-password")
		}
		w.secrets = append(w.secrets, clientSecret(seed, chain), apiKey(seed, chain))
	}
	for _, c := range simContacts {
		w.secrets = append(w.secrets, contactEmail(c))
	}
	w.active = w.newNode()
	w.initialize(w.active)
	w.standby = w.newNode()
	w.store.onWrite(w.written)
	return w
}

// written is told of each committed write: Vault invalidates the key on
// the standby, and a chain is deleted once its config is.
func (w *world) written(op, key string) {
	w.invalidateStandby(key)
	if chain, ok := strings.CutPrefix(key, "config/"); ok && op == "delete" {
		w.facts.forgot(chain, "")
	}
}

func clientID(chain string) string { return "42_" + chain }
func clientSecret(seed int64, chain string) string {
	return fmt.Sprintf("SENTINEL-secret-%s-%d", chain, seed)
}
func apiKey(seed int64, chain string) string {
	return fmt.Sprintf("SENTINEL-apikey-%s-%d", chain, seed)
}
func contactEmail(name string) string { return "contact." + name + "@example.test" }

// now is the nodes' clock: the gateway's, skewed.
func (w *world) now() time.Time { return w.clock.Now().Add(time.Duration(w.skew.Load())) }

// newNode builds and sets up a plugin instance, as Vault does on load.
func (w *world) newNode() *node {
	n := &node{name: fmt.Sprintf("node%d", w.nodes.Add(1)), store: &nodeStorage{Storage: w.store}}
	b := resamania.NewBackend(w.now)
	conf := logical.TestBackendConfig()
	conf.StorageView = n.store
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: n.name, Level: hclog.Trace, Output: w.logs})
	if err := b.Setup(context.Background(), conf); err != nil {
		panic(err)
	}
	n.b = b
	return n
}

func (w *world) initialize(n *node) {
	if err := n.b.Initialize(context.Background(), &logical.InitializationRequest{Storage: n.store}); err != nil {
		w.note("%s: initialize: %v", n.name, err)
	}
}

// invalidateStandby is what Vault tells the other node of a committed write.
func (w *world) invalidateStandby(key string) {
	w.mu.Lock()
	n := w.standby
	w.mu.Unlock()
	if n != nil {
		n.b.InvalidateKey(context.Background(), key)
	}
}

func (w *world) activeNode() *node {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.active
}

// note adds to the running step's history.
func (w *world) note(format string, args ...any) {
	w.mu.Lock()
	s := w.cur
	w.mu.Unlock()
	if s != nil {
		s.note(format, args...)
	}
}

// request sends one request to the active node, as Vault does.
func (w *world) request(ctx context.Context, op logical.Operation, path string, data map[string]any) outcome {
	w.routing.RLock()
	defer w.routing.RUnlock()
	n := w.activeNode()
	resp, err := n.b.HandleRequest(ctx, &logical.Request{
		Operation: op, Path: path, Data: data, Storage: n.store, MountPoint: simMountPoint,
	})
	return outcomeOf(n, resp, err)
}

// reload unloads the active instance and loads a new one over the same
// storage: a plugin reload, or a restart of the node.
func (w *world) reload() outcome {
	w.life.Lock()
	defer w.life.Unlock()
	w.routing.Lock()
	defer w.routing.Unlock()
	w.mu.Lock()
	old := w.active
	w.mu.Unlock()
	old.b.Cleanup(context.Background())
	n := w.newNode()
	w.initialize(n)
	w.mu.Lock()
	w.active = n
	w.mu.Unlock()
	return outcome{text: fmt.Sprintf("%s unloaded, %s loaded", old.name, n.name)}
}

// takeOver makes the standby the active node: Vault initializes the mount
// there, and the old active node unloads it as it steps down.
func (w *world) takeOver() outcome {
	w.life.Lock()
	defer w.life.Unlock()
	// As leadership moves in Vault: the old active node's writes fail from
	// the moment it steps down (a request of its under way included), the
	// new one serves while its Initialize runs, and the old one unloads.
	w.mu.Lock()
	old, next := w.active, w.standby
	w.standby = nil
	w.mu.Unlock()
	old.store.steppedDown.Store(true)
	w.mu.Lock()
	w.active = next
	w.mu.Unlock()
	w.initialize(next)
	old.b.Cleanup(context.Background())
	fresh := w.newNode()
	w.mu.Lock()
	w.standby = fresh
	w.mu.Unlock()
	return outcome{text: fmt.Sprintf("%s stepped down, %s active, %s standby", old.name, next.name, fresh.name)}
}

// tick runs the periodic function on the active node, as Vault's rollback
// manager does every minute.
func (w *world) tick(ctx context.Context) outcome {
	return w.request(ctx, logical.RollbackOperation, "", nil)
}

// interleave runs a while the caller is paused, for at most a moment: the
// paused request goes on when a ends or waits on something the paused
// request holds. a then ends on its own, before the step does.
func (w *world) interleave(where string, a act) {
	done := make(chan outcome, 1)
	w.pending.add(1)
	go func() {
		defer w.pending.add(-1)
		defer func() {
			if p := recover(); p != nil {
				w.facts.violation("panic", "%s: %v", a.what, p)
				done <- outcome{}
			}
		}()
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), nestedKey{}, true), requestDeadline)
		defer cancel()
		o := a.run(w, ctx)
		w.note("  %s, ran meanwhile: %s %s -> %s", where, a.actor, a.what, o.text)
		done <- o
	}()
	select {
	case <-done:
	case <-time.After(interleaveWait):
		w.note("  %s: the paused request went on while %s %s was still running", where, a.actor, a.what)
	}
}

const (
	// requestDeadline bounds each request, as Vault's max request duration does.
	requestDeadline = 20 * time.Second
	// interleaveWait is how long a paused request waits for the actor run meanwhile.
	interleaveWait = 300 * time.Millisecond
)

// unloadAll unloads every instance still loaded.
func (w *world) unloadAll() {
	w.mu.Lock()
	nodes := []*node{w.active, w.standby}
	w.active, w.standby = nil, nil
	w.mu.Unlock()
	for _, n := range nodes {
		if n != nil {
			n.b.Cleanup(context.Background())
		}
	}
}

// actorCount counts the actors running in the background. Unlike a
// WaitGroup's, its count may rise while someone waits: a paused request
// may start one at any time, a flight's even after its step.
type actorCount struct {
	mu   sync.Mutex
	n    int // guarded by mu
	zero *sync.Cond
}

func (c *actorCount) add(d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
	if c.n == 0 && c.zero != nil {
		c.zero.Broadcast()
	}
}

// wait returns once none runs.
func (c *actorCount) wait() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.zero == nil {
		c.zero = sync.NewCond(&c.mu)
	}
	for c.n > 0 {
		c.zero.Wait()
	}
}
