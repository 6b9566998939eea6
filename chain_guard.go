package resamania

import "sync"

// chainGuards keep a chain's deletion apart from all that writes under the
// chain: a refresh, a sign-in, a contact write, a mint that stores a token,
// a sign-in state, a config write. Each of those holds its chain's guard
// shared from before it looks the chain up until its last write; a deletion
// holds it alone for the whole cascade. So nothing that passed the lookup
// before a deletion stores after it, and a deletion never sees (nor deletes)
// what a chain configured again stores after it.
//
// Lock order: a token key's lock (tokenCache) before the guard, the guard
// before the chain cache's lock. A deletion takes no key lock, and nothing
// waits on a token flight while holding a guard.
type chainGuards struct {
	mu     sync.Mutex
	guards map[string]*chainGuard // guarded by mu; an entry lives while someone holds or awaits it
}

type chainGuard struct {
	sync.RWMutex
	users int // guarded by chainGuards.mu
}

func newChainGuards() *chainGuards {
	return &chainGuards{guards: make(map[string]*chainGuard)}
}

// use holds chain's guard shared, for work that writes under the chain;
// release when its last write is done.
func (g *chainGuards) use(chain string) (release func()) {
	guard := g.enter(chain)
	guard.RLock()
	return func() {
		guard.RUnlock()
		g.leave(chain, guard)
	}
}

// exclusive holds chain's guard alone: it waits for the work under way on
// the chain to end, and holds back any new one until release.
func (g *chainGuards) exclusive(chain string) (release func()) {
	guard := g.enter(chain)
	guard.Lock()
	return func() {
		guard.Unlock()
		g.leave(chain, guard)
	}
}

func (g *chainGuards) enter(chain string) *chainGuard {
	g.mu.Lock()
	defer g.mu.Unlock()
	guard := g.guards[chain]
	if guard == nil {
		guard = &chainGuard{}
		g.guards[chain] = guard
	}
	guard.users++
	return guard
}

func (g *chainGuards) leave(chain string, guard *chainGuard) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if guard.users--; guard.users == 0 {
		delete(g.guards, chain)
	}
}

// count is how many chains have a guard in use, for tests: none when idle.
func (g *chainGuards) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.guards)
}
