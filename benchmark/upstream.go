package main

import (
	"fmt"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// runUpstream is measurement 3: Readers concurrent readers over three token
// lives (a short expires_in), on one chain and spread over Chains chains;
// the fake server counts the token requests of each chain.
func runUpstream(t *run, p plugins, s settings, res *results) {
	st := newStack(t, p, stackOptions{nodes: 1})
	cases := [][]string{{"one"}, names("many", s.Chains)}
	for _, chains := range cases {
		// No lease: the readers load the plugin, not Vault's lease store.
		if _, err := st.addChains(chains, s.TokenLife, map[string]any{"lease_mode": "none"}, 16); err != nil {
			t.Fatalf("%v", err)
		}
	}
	st.fake.InjectFault(fakeresamania.Fault{Delay: s.UpstreamLatency})
	window := 3 * time.Duration(s.TokenLife) * time.Second
	allowed := float64(tokensIn(s.TokenLife, window) + 1)
	for _, chains := range cases {
		st.fake.ResetCounters()
		l := st.load(s.Readers, window, func(w int) string { return mount + "/token/" + chains[w%len(chains)] })
		what := fmt.Sprintf("%d readers, %d chain(s), 3 lives of %d s", s.Readers, len(chains), s.TokenLife)
		res.checkLoad(what, l)
		most, total := 0, 0
		for _, c := range chains {
			n := st.fake.TokenRequests(c, "")
			most, total = max(most, n), total+n
		}
		res.add(atMost("3 upstream", what+": most calls for one chain", float64(most), "calls", allowed).
			with(fmt.Sprintf("%d in all, %d reads", total, l.Reads)))
		res.add(atMost("3 upstream", what+": most calls in flight", float64(st.fake.InFlightHighWater()), "calls", documentedInFlight))
	}
}

// tokensIn is how many tokens of life seconds one chain goes through over
// window when read all along: the plugin hands a token out until it has
// max(life/3, its lease margin + 1 s) left (refreshAt in token_lifetime.go),
// so each serves for the rest of its life.
func tokensIn(life int, window time.Duration) int {
	full := time.Duration(life) * time.Second
	margin := min(max(full/10, time.Second), time.Minute)
	serves := full - max(full/3, margin+time.Second)
	return int((window + serves - 1) / serves)
}
