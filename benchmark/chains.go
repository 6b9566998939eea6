package main

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// The plugin's documented bounds on upstream calls at once (docs/reference.md): at most
// 32 per mount (maxUpstreamInFlight), reads and background work together, and
// at most 4 of them for the background job (keepAliveParallel).
const (
	documentedInFlight           = 32
	documentedBackgroundInFlight = 4
)

// runChains is measurement 5: ScaleChains configured chains. How long their
// configs take to write and to LIST, the plugin's RSS, the upstream calls in
// flight when each is read once and when the background job refreshes their
// tokens ahead, and whether memory comes back when they are deleted.
func runChains(t *run, p plugins, s settings, res *results) {
	const sec = "5 chains"
	st := newStack(t, p, stackOptions{nodes: 1})
	n := s.ScaleChains
	const life = 20 // seconds: the tokens are past half their life by the next tick
	chains := names("c", n)
	wrote, err := st.addChains(chains, life, nil, 32)
	if err != nil {
		t.Fatalf("%v", err)
	}
	res.add(info(sec, fmt.Sprintf("write %d configs, 32 writers", n), wrote.Seconds(), "s").
		with(fmt.Sprintf("%.0f writes/s", float64(n)/wrote.Seconds())))

	var lists []float64
	for range 5 {
		start := time.Now()
		keys, err := st.list(mount + "/config")
		if err != nil {
			t.Fatalf("%v", err)
		}
		lists = append(lists, ms(time.Since(start)))
		if len(keys) != n {
			t.Fatalf("LIST %s/config: %d keys, want %d", mount, len(keys), n)
		}
	}
	res.add(atMost(sec, fmt.Sprintf("LIST config/ of %d, HTTP, median of 5", n), median(lists), "ms", 1000))
	start := time.Now()
	st.vault.MustCLI(t, "list", "-format=json", mount+"/config")
	res.add(info(sec, "`vault list` of them, the CLI's start included", ms(time.Since(start)), "ms"))
	res.add(st.rss(sec, fmt.Sprintf("plugin RSS, %d chains configured", n), 150))

	st.fake.InjectFault(fakeresamania.Fault{Delay: s.UpstreamLatency})
	st.fake.ResetCounters()
	took := st.readEach(chains, 64)
	// A second read of each, from the cache: the background job refreshes
	// ahead only the tokens read since they were minted.
	st.readEach(chains, 64)
	lastRead := time.Now()
	res.add(info(sec, fmt.Sprintf("first read of each, 64 clients, %s upstream", s.UpstreamLatency), took.Seconds(), "s"),
		atMost(sec, "upstream calls in flight, those reads", float64(st.fake.InFlightHighWater()), "calls", documentedInFlight).
			with("32 a mount, maxUpstreamInFlight"))
	before := st.rss(sec, fmt.Sprintf("plugin RSS, %d chains with a cached token", n), 150)
	res.add(before)

	at, err := st.nextTick(lastRead.Add(life*time.Second/2 + 2*time.Second))
	if err != nil {
		t.Fatalf("%v", err)
	}
	log.Printf("chains: waiting for the tick at %s", at.Format(time.TimeOnly))
	st.fake.ResetCounters()
	tk, err := st.observeTick(at)
	if err != nil {
		t.Fatalf("%v", err)
	}
	res.Ticks["chains refresh ahead"] = tk
	st.upstreamQuiet()
	refreshed := st.fake.TokenRequests("", fakeresamania.GrantClientCredentials)
	res.add(info(sec, "background refresh ahead, one tick: tokens refreshed", float64(refreshed), "tokens").
		with(fmt.Sprintf("of %d; the tick took %.1f s, complete=%v", n, tk.Seconds, tk.Complete)),
		atMost(sec, "upstream calls in flight, background refresh ahead", float64(st.fake.InFlightHighWater()), "calls", documentedBackgroundInFlight))

	// Churn: delete them all, configure as many new ones and read each once.
	if err := parallel(n, 32, func(i int) error {
		_, err := st.call(http.MethodDelete, mount+"/config/"+chains[i], nil)
		return err
	}); err != nil {
		t.Fatalf("%v", err)
	}
	fresh := names("d", n)
	if _, err := st.addChains(fresh, life, nil, 32); err != nil {
		t.Fatalf("%v", err)
	}
	st.readEach(fresh, 64)
	after := st.rss(sec, "", 0)
	res.add(atMost(sec, fmt.Sprintf("plugin RSS growth after deleting the %d and reading %d new ones", n, n), after.Value-before.Value, "MB", before.Value/10).
		with(fmt.Sprintf("%.1f MB after; a tenth at most", after.Value)))
}

// readEach reads each chain's token once, from clients readers.
func (st *stack) readEach(chains []string, clients int) time.Duration {
	start := time.Now()
	if err := parallel(len(chains), clients, func(i int) error {
		_, err := st.call(http.MethodGet, mount+"/token/"+chains[i], nil)
		return err
	}); err != nil {
		st.t.Fatalf("%v", err)
	}
	return time.Since(start)
}

// rss is the plugin's resident set as a figure, with a target of at most
// limit MB (none when 0).
func (st *stack) rss(sec, name string, limit float64) figure {
	mb, err := rssMB(st.pluginPID())
	if err != nil {
		st.t.Fatalf("%v", err)
	}
	if limit == 0 {
		return info(sec, name, mb, "MB")
	}
	return atMost(sec, name, mb, "MB", limit)
}
