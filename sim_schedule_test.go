package resamania_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// The schedule generator: a seed gives the same steps every time. Each step
// is an action from the table, and now and then a fault or two from the
// catalogue, armed for that step only.

type step struct {
	n      int
	act    act
	faults []plannedFault
}

// gen draws a schedule's choices from its seed.
type gen struct {
	r        *rand.Rand
	subjects int
	aim      *act // the paused actor a nested action aims at, if any
}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// chain is mostly the first of the pool, so that actors collide; chain and
// member are mostly the paused actor's when a nested action aims at it.
func (g *gen) chain() string {
	if g.aim != nil && g.aim.chain != "" && g.r.IntN(4) > 0 {
		return g.aim.chain
	}
	if g.r.IntN(4) == 0 {
		return simChains[1]
	}
	return simChains[0]
}

func (g *gen) member() string {
	if g.aim != nil && g.aim.name != "" && g.r.IntN(4) > 0 {
		return g.aim.name
	}
	return simMembers[g.r.IntN(len(simMembers))]
}

// subject is a new member at Resamania: each sign-in has its own, so a
// refresh token tells which sign-in it descends from.
func (g *gen) subject() string {
	g.subjects++
	return fmt.Sprintf("member%d@example.test", g.subjects)
}

func weighted[T any](r *rand.Rand, items []T, weight func(T) int) T {
	total := 0
	for _, it := range items {
		total += weight(it)
	}
	n := r.IntN(total)
	for _, it := range items {
		if n -= weight(it); n < 0 {
			return it
		}
	}
	return items[len(items)-1]
}

// nested is an action to run while main is paused, aimed at what main touches.
func (g *gen) nested(main act) act {
	k := weighted(g.r, nestedActions, func(a actionKind) int { return a.weight })
	g.aim = &main
	defer func() { g.aim = nil }()
	return k.make(g)
}

// Schedule length and fault density.
const (
	minSteps       = 12
	maxSteps       = 28
	faultPerCent   = 35 // steps with at least one fault
	secondFaultPer = 20 // of those, steps with two
)

// newSchedule is the steps of schedule seed.
func newSchedule(seed int64) []step {
	g := &gen{r: rand.New(rand.NewPCG(uint64(seed), 0x5eed))}
	var steps []step
	// Every schedule starts with a configured chain and a signed-in member,
	// so that most steps have something to work on.
	for _, a := range []act{configure(simChains[0], false), signIn(g, false)} {
		steps = append(steps, step{n: len(steps) + 1, act: a})
	}
	for range minSteps + g.r.IntN(maxSteps-minSteps+1) {
		k := weighted(g.r, actions, func(a actionKind) int { return a.weight })
		a := k.make(g)
		st := step{n: len(steps) + 1, act: a}
		if g.r.IntN(100) < faultPerCent {
			for range 1 + boolInt(g.r.IntN(100) < secondFaultPer) {
				f := weighted(g.r, faults, func(f faultKind) int { return f.weight })
				st.faults = append(st.faults, f.make(g, a))
			}
		}
		steps = append(steps, st)
	}
	return steps
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A seed must give the same schedule every time, or -seed replays nothing.
func TestSimulationScheduleIsItsSeeds(t *testing.T) {
	describe := func(seed int64) string {
		var b strings.Builder
		for _, st := range newSchedule(seed) {
			fmt.Fprintf(&b, "%d %s %s %s;", st.n, st.act.actor, st.act.what, st.act.chain)
			for _, f := range st.faults {
				b.WriteString(f.what + ";")
			}
		}
		return b.String()
	}
	seen := map[string]bool{}
	for seed := int64(1); seed <= 50; seed++ {
		first := describe(seed)
		if again := describe(seed); again != first {
			t.Fatalf("schedule %d differs when drawn again:\n%s\n%s", seed, first, again)
		}
		seen[first] = true
	}
	if len(seen) < 50 {
		t.Fatalf("50 seeds gave only %d different schedules", len(seen))
	}
}
