package resamania_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The runner: TestSimulation replays one schedule (-seed N) or runs the
// fixed set, seeds 1 to -sim.count, in parallel; TestSimulationLong runs
// schedules from a random base seed for -sim (a duration).

var (
	simSeed    = flag.Int64("seed", 0, "TestSimulation: replay this schedule only, with its history")
	simCount   = flag.Int("sim.count", 2000, "TestSimulation: how many schedules, seeds 1 to this")
	simFor     = flag.Duration("sim", 0, "TestSimulationLong: run schedules for this long (e.g. 10m)")
	simWorkers = flag.Int("sim.workers", 64, "schedules run at once (most of their time is waiting)")
	simLog     = flag.Bool("sim.log", false, "TestSimulation -seed: print the plugin's log too")
	simShow    = flag.Int("sim.histories", 3, "how many failing schedules are shown whole")
)

// result is one schedule's run.
type result struct {
	seed       int64
	violations []string
	log        string
	history    string
	took       time.Duration
}

func (r result) failed() bool { return len(r.violations) > 0 }

type nestedKey struct{}

// nested says whether ctx is an actor's run while another is paused.
func nested(ctx context.Context) bool { return ctx.Value(nestedKey{}) != nil }

// runSchedule runs one schedule from its seed and checks the invariants.
func runSchedule(seed int64) (res result) {
	start := time.Now()
	res.seed = seed
	w := newWorld(seed)
	defer w.fake.Close()
	defer func() {
		if p := recover(); p != nil {
			res.violations = append(res.violations, fmt.Sprintf("panic | %v", p))
			w.unloadAll()
		}
		res.history = w.hist.String()
		res.log = w.logs.String()
		res.took = time.Since(start)
	}()
	for _, st := range newSchedule(seed) {
		ctx, cancel := context.WithTimeout(context.Background(), requestDeadline)
		run := &stepRun{cancel: cancel}
		w.mu.Lock()
		w.cur = run
		w.mu.Unlock()
		w.facts.setStep(st.n)
		for _, f := range st.faults {
			f.arm(w, run)
		}
		sent := len(w.fake.Requests())
		o := st.act.run(w, ctx)
		w.pending.wait()
		w.store.disarm()
		w.fake.ClearFaults()
		cancel()
		w.noteRequests(run, sent, st.n)
		w.hist.step(st, run, o)
	}
	// The world goes on without faults: the token requests under way end,
	// and one tick stores what was held.
	w.quiesce()
	last := step{act: tick(nil)} // step 0: the end
	last.act.what += " (no faults)"
	run := &stepRun{}
	w.mu.Lock()
	w.cur = run
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), requestDeadline)
	sent := len(w.fake.Requests())
	o := w.tick(ctx)
	cancel()
	w.quiesce()
	w.noteRequests(run, sent, 0)
	w.hist.step(last, run, o)
	res.violations = append(res.violations, w.check()...)
	w.unloadAll()
	return res
}

// quiesce waits for the actors still running and the active node's token
// requests under way.
func (w *world) quiesce() {
	w.pending.wait()
	if n := w.activeNode(); !n.b.WaitForFlights(requestDeadline) {
		w.facts.violation("(d) a token request never ended", "%s: still under way after %s", n.name, requestDeadline)
	}
}

// noteRequests adds to a step's history the token requests Resamania got
// during it, from the ledger: grant, the secret spent (its start), status.
func (w *world) noteRequests(run *stepRun, from int, step int) {
	for _, r := range w.fake.Requests()[from:] {
		w.facts.sentAt(step)
		spent := ""
		if s := spentSecret(r.GrantType, r.Form.Get); s != "" {
			spent = fmt.Sprintf(" spending %.6s...", s)
		}
		status := fmt.Sprint(r.Status)
		switch {
		case r.Answered.IsZero():
			status = "still being answered"
		case r.Status == 0:
			status = "connection reset"
		}
		run.note("resamania got %s%s -> %s", grantName(r.GrantType), spent, status)
	}
}

// replayCommand is how to run one schedule again.
func replayCommand(seed int64) string {
	return fmt.Sprintf("GOTOOLCHAIN=local go test -count=1 -run 'TestSimulation$' -v . -seed %d", seed)
}

func report(t *testing.T, r result) {
	t.Errorf("schedule %d failed:\n  %s\nhistory:\n%s\nreplay: %s",
		r.seed, strings.Join(r.violations, "\n  "), r.history, replayCommand(r.seed))
}

// leakOptions ignore the goroutines that are not the plugin's: the fake's
// HTTP server and the HTTP keep-alive connections.
func leakOptions(before goleak.Option) []goleak.Option {
	return []goleak.Option{before,
		goleak.IgnoreAnyFunction("net/http.(*Server).Serve"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
}

func TestSimulation(t *testing.T) {
	before := goleak.IgnoreCurrent()
	if *simSeed != 0 {
		r := runSchedule(*simSeed)
		t.Logf("schedule %d (%s):\n%s", r.seed, r.took.Round(time.Millisecond), r.history)
		if *simLog {
			t.Logf("the plugin's log:\n%s", r.log)
		}
		if err := goleak.Find(leakOptions(before)...); err != nil {
			r.violations = append(r.violations, "(d) goroutines outlive Cleanup | "+err.Error())
		}
		if r.failed() {
			report(t, r)
		}
		return
	}
	seeds := make(chan int64)
	go func() {
		for s := int64(1); s <= int64(*simCount); s++ {
			seeds <- s
		}
		close(seeds)
	}()
	start := time.Now()
	failed := runPool(seeds)
	t.Logf("%d schedules in %s", *simCount, time.Since(start).Round(time.Millisecond))
	summarize(t, failed)
	if err := goleak.Find(leakOptions(before)...); err != nil {
		t.Errorf("(d) goroutines outlive the schedules' Cleanup: %v", err)
	}
}

func TestSimulationLong(t *testing.T) {
	if *simFor == 0 {
		t.Skip("runs with -sim=<duration>, e.g. make simulate SIM=10m")
	}
	base := rand.Int64N(1<<40) + 1_000_000
	t.Logf("base seed %d: schedules %d, %d, ...", base, base, base+1)
	deadline := time.Now().Add(*simFor)
	seeds := make(chan int64)
	var ran atomic.Int64
	go func() {
		defer close(seeds)
		for s := base; time.Now().Before(deadline); s++ {
			seeds <- s
			ran.Add(1)
		}
	}()
	failed := runPool(seeds)
	t.Logf("%d schedules in %s", ran.Load(), *simFor)
	summarize(t, failed)
}

// runPool runs the seeds on simWorkers workers and returns the failures.
func runPool(seeds <-chan int64) []result {
	var mu sync.Mutex
	var failed []result
	var wg sync.WaitGroup
	for range max(*simWorkers, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range seeds {
				r := runSchedule(s)
				if !r.failed() {
					continue
				}
				mu.Lock()
				failed = append(failed, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(failed, func(i, j int) bool { return failed[i].seed < failed[j].seed })
	return failed
}

// summarize reports each kind of violation with its first seed and count,
// then the first failing schedules whole.
func summarize(t *testing.T, failed []result) {
	if len(failed) == 0 {
		return
	}
	type kind struct {
		first int64
		n     int
	}
	kinds := map[string]*kind{}
	for _, r := range failed {
		seen := map[string]bool{}
		for _, v := range r.violations {
			k := violationKind(v)
			if seen[k] {
				continue
			}
			seen[k] = true
			if kinds[k] == nil {
				kinds[k] = &kind{first: r.seed}
			}
			kinds[k].n++
		}
	}
	var lines []string
	for k, v := range kinds {
		lines = append(lines, fmt.Sprintf("%5d schedules, first seed %6d: %s", v.n, v.first, k))
	}
	sort.Strings(lines)
	t.Errorf("%d schedules failed:\n%s", len(failed), strings.Join(lines, "\n"))
	for i, r := range failed {
		if i == *simShow {
			break
		}
		report(t, r)
	}
}

// violationKind is a violation without its particulars, to count alike ones.
func violationKind(v string) string {
	kind, _, _ := strings.Cut(v, " | ")
	return kind
}
