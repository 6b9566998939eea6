// Command benchmark measures what a token read of the Resamania plugin costs
// Vault and how hard the plugin hits Resamania (issue 12). It sets up
// everything itself on loopback: the repository's vault binary (a dev server
// and a 3-node raft cluster), the plugin, a floor plugin that returns a
// constant token in the same shape (benchmark/floorplugin), and the fake
// Resamania server. It prints a table, writes it as JSON and draws the read
// ratios as SVG.
//
// Each figure stands beside the target with met or MISSED; a missed
// target is a finding, not a failure. The program fails only when something
// does not work: a setup step, or a request that Vault did not answer 200.
//
//	go run ./benchmark -short          # CI: few rounds, small counts, a few minutes
//	go run ./benchmark                 # full: 10,000 chains, 100,000 credentials; run it on a quiet machine
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"time"
)

// settings are the sizes and durations of a run.
type settings struct {
	Short           bool          `json:"short"`
	Rounds          int           `json:"rounds"`              // cached reads: alternating rounds per target
	Duration        time.Duration `json:"duration_ns"`         // cached reads: one run's length
	Clients         []int         `json:"clients"`             // cached reads: concurrent clients
	UpstreamLatency time.Duration `json:"upstream_latency_ns"` // the fake server holds each token request this long
	TokenLife       int           `json:"token_life_s"`        // short expires_in for the upstream-call counts
	Chains          int           `json:"chains"`              // upstream calls: the many-chains case
	Readers         int           `json:"readers"`             // upstream calls: concurrent readers
	ColdReads       int           `json:"cold_reads"`          // cold reads: pairs timed
	ScaleChains     int           `json:"scale_chains"`        // configured chains
	Creds           int           `json:"creds"`               // member credentials imported
	CredReaders     int           `json:"cred_readers"`        // readers of one credential across its expiries
	KeepAliveWait   time.Duration `json:"keep_alive_wait_ns"`  // longest wait for every due credential's refresh
}

func shortSettings() settings {
	return settings{Short: true, Rounds: 2, Duration: time.Second, Clients: []int{1, 16, 64}, UpstreamLatency: 50 * time.Millisecond,
		TokenLife: 4, Chains: 100, Readers: 200, ColdReads: 20, ScaleChains: 100, Creds: 1000, CredReaders: 500, KeepAliveWait: 3 * time.Minute}
}

func fullSettings() settings {
	return settings{Rounds: 5, Duration: 5 * time.Second, Clients: []int{1, 16, 64}, UpstreamLatency: 50 * time.Millisecond,
		TokenLife: 20, Chains: 100, Readers: 200, ColdReads: 200, ScaleChains: 10000, Creds: 100000, CredReaders: 500, KeepAliveWait: 40 * time.Minute}
}

// sectionNames are the measurements, in the order they run.
var sectionNames = []string{"reads-dev", "reads-raft", "upstream", "cold", "chains", "creds"}

func main() { os.Exit(benchmark()) }

// benchmark runs the sections and reports; it returns the exit status.
func benchmark() int {
	short := flag.Bool("short", false, "CI mode: few rounds, small counts (a few minutes)")
	jsonPath := flag.String("json", "benchmark/results.json", "where to write the results as JSON")
	svgPath := flag.String("svg", "benchmark/ratios.svg", "where to draw the read ratios")
	only := flag.String("only", "", "comma-separated sections to run (default all): "+strings.Join(sectionNames, ","))
	rounds := flag.Int("rounds", 0, "cached reads: rounds (default 2 short, 5 full)")
	duration := flag.Duration("duration", 0, "cached reads: one run's length (default 1s short, 5s full)")
	chains := flag.Int("chains", 0, "configured chains (default 100 short, 10000 full)")
	creds := flag.Int("creds", 0, "member credentials (default 1000 short, 100000 full)")
	verbose := flag.Bool("v", false, "log what the Vault harness does")
	flag.Parse()
	log.SetFlags(log.Ltime)

	s := fullSettings()
	if *short {
		s = shortSettings()
	}
	if *rounds > 0 {
		s.Rounds = *rounds
	}
	if *duration > 0 {
		s.Duration = *duration
	}
	if *chains > 0 {
		s.ScaleChains = *chains
	}
	if *creds > 0 {
		s.Creds = *creds
	}
	wanted := sectionNames
	if *only != "" {
		wanted = strings.Split(*only, ",")
		for _, w := range wanted {
			if !slices.Contains(sectionNames, w) {
				log.Printf("-only: no section %q (have %s)", w, strings.Join(sectionNames, ","))
				return 2
			}
		}
	}

	res := &results{Mode: map[bool]string{true: "short", false: "full"}[s.Short], Started: time.Now().UTC(),
		Machine: describeMachine(), Settings: s, Ticks: map[string]tick{}, Errors: []string{}}
	top := &run{name: "benchmark", verbose: *verbose}
	defer top.close()
	var p plugins
	if err := section("build", *verbose, func(*run) { p = buildPlugins(top) }); err != nil {
		log.Print(err)
		return 1
	}

	measure := map[string]func(t *run){
		"reads-dev":  func(t *run) { runReads(t, p, s, res, "dev", 1) },
		"reads-raft": func(t *run) { runReads(t, p, s, res, "raft3", 3) },
		"upstream":   func(t *run) { runUpstream(t, p, s, res) },
		"cold":       func(t *run) { runCold(t, p, s, res) },
		"chains":     func(t *run) { runChains(t, p, s, res) },
		"creds":      func(t *run) { runCreds(t, p, s, res) },
	}
	for _, name := range sectionNames {
		if !slices.Contains(wanted, name) {
			continue
		}
		log.Printf("%s: starting", name)
		start := time.Now()
		if err := section(name, *verbose, measure[name]); err != nil {
			log.Print(err)
			res.Errors = append(res.Errors, err.Error())
		}
		log.Printf("%s: done in %s", name, time.Since(start).Round(time.Second))
	}
	res.Seconds = time.Since(res.Started).Seconds()

	if len(res.Reads) > 0 {
		fmt.Println()
		printReads(os.Stdout, res.Reads)
	}
	fmt.Println()
	printFigures(os.Stdout, res.Figures)
	if err := writeJSON(*jsonPath, res); err != nil {
		log.Print(err)
		return 1
	}
	if err := writeFile(*svgPath, []byte(ratioChart(res.Reads))); err != nil {
		log.Print(err)
		return 1
	}
	fmt.Printf("\n%s mode in %s; wrote %s and %s\n", res.Mode, time.Duration(res.Seconds*float64(time.Second)).Round(time.Second), *jsonPath, *svgPath)
	if len(res.Errors) > 0 {
		fmt.Fprintf(os.Stderr, "\nerrors:\n  %s\n", strings.Join(res.Errors, "\n  "))
		return 1
	}
	return 0
}
