package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"slices"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// credential is one member credential of the benchmark.
type credential struct{ chain, name string }

// runCreds is measurement 6: Creds member credentials imported against the
// fake server (1% of them on the chain "due", the rest in chains of 1,000),
// the plugin's RSS, two background ticks seen from outside (nothing due;
// then 1% due, made so by shortening the due chain's refresh_token_ttl),
// how long until every due credential is refreshed, and reads of one cached
// credential, by 16 readers and by CredReaders across its expiries.
func runCreds(t *run, p plugins, s settings, res *results) {
	const sec = "6 credentials"
	st := newStack(t, p, stackOptions{nodes: 1})
	nDue := max(1, s.Creds/100)
	regular := names("m", (s.Creds-nDue+999)/1000)
	creds := make([]credential, 0, s.Creds)
	for i := range nDue {
		creds = append(creds, credential{"due", fmt.Sprintf("u%06d", i)})
	}
	for i := range s.Creds - nDue {
		creds = append(creds, credential{regular[i%len(regular)], fmt.Sprintf("u%06d", i)})
	}
	if _, err := st.addChains(append([]string{"due"}, regular...), 3600, nil, 16); err != nil {
		t.Fatalf("%v", err)
	}
	if _, err := st.addChains([]string{"hot"}, 3600, map[string]any{"lease_mode": "none"}, 1); err != nil {
		t.Fatalf("%v", err)
	}
	if _, err := st.addChains([]string{"fast"}, s.TokenLife, map[string]any{"lease_mode": "none"}, 1); err != nil {
		t.Fatalf("%v", err)
	}
	creds = append(creds, credential{"hot", "h"}, credential{"fast", "f"})

	start := time.Now()
	if err := parallel(len(creds), 32, func(i int) error {
		c := creds[i]
		rt := st.fake.IssueRefreshToken(c.chain, clientID, c.name)
		_, err := st.call(http.MethodPut, mount+"/creds/"+c.chain+"/"+c.name, map[string]any{"refresh_token": rt})
		return err
	}); err != nil {
		t.Fatalf("import: %v", err)
	}
	took := time.Since(start)
	log.Printf("creds: imported %d in %s", len(creds), took.Round(time.Second))
	res.add(info(sec, fmt.Sprintf("import %d credentials, 32 writers", len(creds)), took.Seconds(), "s").
		with(fmt.Sprintf("%.0f imports/s", float64(len(creds))/took.Seconds())),
		st.rss(sec, fmt.Sprintf("plugin RSS, %d credentials", len(creds)), 300))
	st.fake.InjectFault(fakeresamania.Fault{Delay: s.UpstreamLatency})

	// The first tick of a plugin process reads every credential once, to
	// build its due-time index (unless it ticked during the import); the
	// ticks after it read only what is due. Both are shown.
	first := st.credsTick(res, "first after the import", time.Now().Add(2*time.Second))
	res.add(info(sec, "tick, first after the import (builds the index): storage entries read", float64(first.StorageReads), "entries").
		with(fmt.Sprintf("+%d lists", first.StorageLists)))
	idle := st.credsTick(res, "nothing due", first.At.Add(tickPeriod))
	res.add(atMost(sec, "tick, nothing due: storage entries read", float64(idle.StorageReads), "entries", 300).
		with(fmt.Sprintf("+%d lists", idle.StorageLists)))

	// The due chain's credentials, imported first, are over a minute old by
	// the next tick: with a refresh_token_ttl of 2 minutes they are due.
	if _, err := st.call(http.MethodPut, mount+"/config/due", map[string]any{"refresh_token_ttl": "2m"}); err != nil {
		t.Fatalf("%v", err)
	}
	due := st.credsTick(res, "1% due", idle.At.Add(tickPeriod))
	st.upstreamQuiet()
	res.add(info(sec, "tick, 1% due: storage entries read", float64(due.StorageReads), "entries").with(fmt.Sprintf("+%d lists", due.StorageLists)),
		atMost(sec, "upstream calls in flight, keep-alive", float64(st.fake.InFlightHighWater()), "calls", documentedBackgroundInFlight))
	refreshed, last := st.dueRefreshed(creds[:nDue], due.At, s.KeepAliveWait)
	res.add(info(sec, "every due credential refreshed, after the tick", last.Seconds(), "s").
		with(fmt.Sprintf("%d of %d refreshed", refreshed, nDue)))

	hot := st.load(16, s.Duration, func(int) string { return mount + "/creds/hot/h" })
	res.checkLoad("cached credential, 16 readers", hot)
	res.add(info(sec, "reads of a cached credential, 16 readers, no lease", hot.PerSecond, "reads/s").
		with(fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", hot.P50ms, hot.P99ms)))

	st.fake.ResetCounters()
	window := 3 * time.Duration(s.TokenLife) * time.Second
	fast := st.load(s.CredReaders, window, func(int) string { return mount + "/creds/fast/f" })
	what := fmt.Sprintf("%d readers of one credential, 3 lives of %d s", s.CredReaders, s.TokenLife)
	res.checkLoad(what, fast)
	tokens := tokensIn(s.TokenLife, window)
	res.add(atMost(sec, what+": refreshes", float64(st.fake.TokenRequests("fast", fakeresamania.GrantRefreshToken)), "refreshes", float64(tokens+1)).
		with(fmt.Sprintf("%d tokens handed out", tokens)))
	res.add(st.rss(sec, "plugin RSS at the end", 300))
}

// credsTick measures the first tick at or after `after` (two seconds ahead
// at least), records it, and adds its CPU time and length.
func (st *stack) credsTick(res *results, what string, after time.Time) tick {
	at, err := st.nextTick(after)
	if err != nil {
		st.t.Fatalf("%v", err)
	}
	log.Printf("creds: waiting for the tick at %s (%s)", at.Format(time.TimeOnly), what)
	st.fake.ResetCounters()
	tk, err := st.observeTick(at)
	if err != nil {
		st.t.Fatalf("%v", err)
	}
	res.Ticks["credentials, "+what] = tk
	res.add(info("6 credentials", "tick, "+what+": plugin CPU time", tk.CPUms, "ms").
		with(fmt.Sprintf("the tick took %.2f s, complete=%v", tk.Seconds, tk.Complete)))
	return tk
}

// dueRefreshed waits, at most wait after the tick at `at`, until the fake
// has answered as many refreshes on the due chain as there are due
// credentials (the job takes the oldest first, so those are one each), then
// counts the due credentials whose status says they were refreshed since the
// tick, and says when the last of those refreshes was answered.
func (st *stack) dueRefreshed(due []credential, at time.Time, wait time.Duration) (int, time.Duration) {
	for time.Now().Before(at.Add(wait)) && st.fake.TokenRequests("due", fakeresamania.GrantRefreshToken) < len(due) {
		time.Sleep(time.Second)
	}
	var answered []time.Time
	for _, r := range st.fake.Requests() {
		if r.ClientToken == "due" && r.GrantType == fakeresamania.GrantRefreshToken && r.Status == http.StatusOK {
			answered = append(answered, r.Time)
		}
	}
	refreshed := 0
	for _, c := range due {
		b, err := st.call(http.MethodGet, mount+"/creds/"+c.chain+"/"+c.name+"/status", nil)
		if err != nil {
			st.t.Fatalf("%v", err)
		}
		var s struct {
			Data struct {
				LastRefreshedAt string `json:"last_refreshed_at"` // RFC 3339, empty when never
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			st.t.Fatalf("status of %s/%s: %v", c.chain, c.name, err)
		}
		if last, err := time.Parse(time.RFC3339, s.Data.LastRefreshedAt); err == nil && !last.Before(at.Add(-time.Second)) {
			refreshed++
		}
	}
	if len(answered) == 0 {
		return refreshed, 0
	}
	// The len(due)-th answer: later ones may be credentials due again.
	slices.SortFunc(answered, time.Time.Compare)
	return refreshed, answered[min(len(due), len(answered))-1].Sub(at)
}
