package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strings"
	"time"
)

// readTarget is one path the cached-read measurement loads.
type readTarget struct {
	name   string
	path   string
	leased bool
	floor  string // the floor target it is compared to; "" for a floor
}

// readTargets: the plugin's cached token read, leased and unleased, the floor
// plugin's twins, and Vault's built-in KV v1 read (compared to the unleased
// floor: how much the plugin hop costs any plugin).
var readTargets = []readTarget{
	{"resamania leased", mount + "/token/bench", true, "floor leased"},
	{"resamania unleased", mount + "/token/bench-unleased", false, "floor unleased"},
	{"floor leased", "floor/token/bench", true, ""},
	{"floor unleased", "floor/unleased/bench", false, ""},
	{"kv v1", "kv/bench", false, "floor unleased"},
}

// readRow is one target at one number of clients on one Vault: every
// round's run, their medians, and the median of each round's ratio to the
// floor run beside it in that round.
type readRow struct {
	Vault        string       `json:"vault"`
	Target       string       `json:"target"`
	Clients      int          `json:"clients"`
	Rounds       []loadResult `json:"rounds"`
	PerSecond    float64      `json:"per_second"`
	P50ms        float64      `json:"p50_ms"`
	P99ms        float64      `json:"p99_ms"`
	RatioToFloor float64      `json:"ratio_to_floor,omitempty"`
}

// runReads is measurements 1 and 2 on one Vault (a dev server, or a raft
// cluster's active node): cached reads of every target, alternating, and
// the leases they left.
func runReads(t *run, p plugins, s settings, res *results, vault string, nodes int) {
	st := newStack(t, p, stackOptions{nodes: nodes, floor: true, kv: true})
	if _, err := st.addChains([]string{"bench"}, 3600, nil, 1); err != nil {
		t.Fatalf("%v", err)
	}
	if _, err := st.addChains([]string{"bench-unleased"}, 3600, map[string]any{"lease_mode": "none"}, 1); err != nil {
		t.Fatalf("%v", err)
	}
	kv := map[string]any{"access_token": strings.Repeat("k", 330), "token_type": "Bearer", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"expires_in": 3600, "scope": "", "api_base_url": "http://127.0.0.1/kv"}
	if _, err := st.call(http.MethodPut, "kv/bench", kv); err != nil {
		t.Fatalf("%v", err)
	}
	reads := map[string]int{} // successful reads of each target, for the lease count
	for _, tg := range readTargets {
		st.checkShape(tg)
		warm := st.load(16, 300*time.Millisecond, func(int) string { return tg.path })
		res.checkLoad(vault+" warm-up "+tg.name, warm)
		reads[tg.name] += warm.Reads + 1
	}

	for _, clients := range s.Clients {
		runs := map[string][]loadResult{}
		for round := range s.Rounds {
			// Each round starts one target further, so none always goes first.
			order := slices.Concat(readTargets[round%len(readTargets):], readTargets[:round%len(readTargets)])
			for _, tg := range order {
				r := st.load(clients, s.Duration, func(int) string { return tg.path })
				res.checkLoad(fmt.Sprintf("%s %s at %d clients", vault, tg.name, clients), r)
				runs[tg.name] = append(runs[tg.name], r)
				reads[tg.name] += r.Reads
			}
		}
		for _, tg := range readTargets {
			res.Reads = append(res.Reads, summarize(vault, tg, clients, runs))
		}
		log.Printf("reads-%s: %s done", vault, clientsOf(clients))
	}
	for _, row := range res.Reads {
		if row.Vault != vault || !strings.HasPrefix(row.Target, "resamania") {
			continue
		}
		name := fmt.Sprintf("%s, %s: throughput to its floor", row.Target, clientsOf(row.Clients))
		if row.Clients >= 16 {
			res.add(atLeast("1 reads "+vault, name, row.RatioToFloor, "x", 0.95))
		} else {
			res.add(info("1 reads "+vault, name, row.RatioToFloor, "x"))
		}
	}
	st.countLeases(res, vault, reads)
}

// clientsOf is "1 client", "16 clients".
func clientsOf(n int) string {
	if n == 1 {
		return "1 client"
	}
	return fmt.Sprintf("%d clients", n)
}

// summarize is one row: medians of the rounds, and the median of each
// round's ratio to the floor's run in the same round.
func summarize(vault string, tg readTarget, clients int, runs map[string][]loadResult) readRow {
	row := readRow{Vault: vault, Target: tg.name, Clients: clients, Rounds: runs[tg.name]}
	var perSecond, p50, p99, ratios []float64
	for i, r := range row.Rounds {
		perSecond, p50, p99 = append(perSecond, r.PerSecond), append(p50, r.P50ms), append(p99, r.P99ms)
		if f := runs[tg.floor]; tg.floor != "" && f[i].PerSecond > 0 {
			ratios = append(ratios, r.PerSecond/f[i].PerSecond)
		}
	}
	row.PerSecond, row.P50ms, row.P99ms, row.RatioToFloor = median(perSecond), median(p50), median(p99), median(ratios)
	return row
}

// checkShape reads the target once: a token, and a non-renewable lease
// exactly when the target is leased, so the floor has the plugin's shape.
func (st *stack) checkShape(tg readTarget) {
	b, err := st.call(http.MethodGet, tg.path, nil)
	if err != nil {
		st.t.Fatalf("%v", err)
	}
	var r struct {
		LeaseID   string         `json:"lease_id"`
		Renewable bool           `json:"renewable"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		st.t.Fatalf("%s: %v", tg.path, err)
	}
	if tok, _ := r.Data["access_token"].(string); tok == "" || (r.LeaseID != "") != tg.leased || r.Renewable {
		st.t.Fatalf("%s: want a token with a lease=%v, not renewable; got lease %q renewable=%v", tg.path, tg.leased, r.LeaseID, r.Renewable)
	}
}

// countLeases is measurement 2: the leases each target's reads left in
// Vault (sys/leases/lookup), per read, and how many are alive after the run.
func (st *stack) countLeases(res *results, vault string, reads map[string]int) {
	live := 0
	for _, tg := range readTargets {
		if tg.name == "kv v1" {
			continue
		}
		leases, err := st.list("sys/leases/lookup/" + tg.path + "/")
		if err != nil {
			st.t.Fatalf("%v", err)
		}
		live += len(leases)
		res.add(info("2 leases "+vault, tg.name+": leases per read", float64(len(leases))/float64(reads[tg.name]), "per read").
			with(fmt.Sprintf("%d leases, %d reads", len(leases), reads[tg.name])))
	}
	res.add(info("2 leases "+vault, "live leases after the run", float64(live), "leases"))
}
