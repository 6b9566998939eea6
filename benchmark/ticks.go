package main

import (
	"bufio"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A mount's background work (the plugin's PeriodicFunc) runs when Vault's
// rollback manager ticks: every minute from the moment the manager started,
// which Vault's log says. Vault offers no way to tick sooner.
const tickPeriod = time.Minute

var rollbackStartRe = regexp.MustCompile(`(?m)^(\S+) \[INFO\]\s+rollback: starting rollback manager$`)

// nextTick is the first tick of the rollback manager at or after t.
func (st *stack) nextTick(t time.Time) (time.Time, error) {
	m := rollbackStartRe.FindAllStringSubmatch(st.vault.Log(), -1)
	if m == nil {
		return time.Time{}, fmt.Errorf("%s: no line says when the rollback manager started", st.vault.LogPath)
	}
	start, err := time.Parse(time.RFC3339Nano, m[len(m)-1][1])
	if err != nil {
		return time.Time{}, fmt.Errorf("rollback manager start: %w", err)
	}
	n := max(0, (t.Sub(start)+tickPeriod-1)/tickPeriod)
	return start.Add(n * tickPeriod), nil
}

// vaultMetrics are counters of Vault's own telemetry (sys/metrics in
// Prometheus form, which a dev server serves).
type vaultMetrics struct {
	storageGets  float64 // vault.barrier.get: entries read from storage, by every mount and Vault itself
	storageLists float64 // vault.barrier.list
	rollbacks    float64 // vault.rollback.attempt: rollbacks (ticks) of a mount finished
	rollbackMs   float64 // their durations, summed
}

func (st *stack) metrics() (vaultMetrics, error) {
	b, err := st.call(http.MethodGet, "sys/metrics?format=prometheus", nil)
	if err != nil {
		return vaultMetrics{}, err
	}
	var m vaultMetrics
	into := map[string]*float64{
		"vault_barrier_get_count":      &m.storageGets,
		"vault_barrier_list_count":     &m.storageLists,
		"vault_rollback_attempt_count": &m.rollbacks,
		"vault_rollback_attempt_sum":   &m.rollbackMs,
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if p := into[name]; ok && p != nil {
			if *p, err = strconv.ParseFloat(value, 64); err != nil {
				return m, fmt.Errorf("sys/metrics %s: %w", name, err)
			}
		}
	}
	return m, nil
}

// upstreamQuiet waits until the fake server has had no new token request
// for two seconds (five minutes at most), so that calls the plugin goes on
// with after a tick has ended (a mint outlives the read that started it) are
// counted with the tick.
func (st *stack) upstreamQuiet() {
	last, since := -1, time.Now()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if n := st.fake.TokenRequests("", ""); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= 2*time.Second {
			return
		}
	}
}

// tick is one background tick of the plugin, seen from outside.
type tick struct {
	At           time.Time `json:"at"`
	Seconds      float64   `json:"seconds"`       // the mounts' rollback times summed: the plugin's, plus about a millisecond of the others'
	StorageReads int       `json:"storage_reads"` // storage entries read during the tick (barrier gets, all of Vault)
	StorageLists int       `json:"storage_lists"` // storage lists during the tick
	CPUms        float64   `json:"cpu_ms"`        // the plugin process's CPU time across the tick
	RSSMB        float64   `json:"rss_mb"`        // the plugin's resident set after it
	Complete     bool      `json:"complete"`      // every mount's rollback finished within the wait
}

// observeTick measures the tick at `at` (at least two seconds ahead): Vault's
// counters and the plugin's CPU time just before it, and again once every
// mount's rollback has finished (Vault bounds one at 90 s).
func (st *stack) observeTick(at time.Time) (tick, error) {
	mounts, err := st.vault.Client.Sys().ListMounts()
	if err != nil {
		return tick{}, err
	}
	auths, err := st.vault.Client.Sys().ListAuth()
	if err != nil {
		return tick{}, err
	}
	pid := st.pluginPID()
	time.Sleep(time.Until(at.Add(-1500 * time.Millisecond)))
	m0, err := st.metrics()
	if err != nil {
		return tick{}, err
	}
	cpu0, err := cpuTime(pid)
	if err != nil {
		return tick{}, err
	}
	m1 := m0
	want := m0.rollbacks + float64(len(mounts)+len(auths))
	for deadline := at.Add(100 * time.Second); m1.rollbacks < want && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		if m1, err = st.metrics(); err != nil {
			return tick{}, err
		}
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return tick{}, err
	}
	rss, err := rssMB(pid)
	if err != nil {
		return tick{}, err
	}
	return tick{
		At:           at,
		Seconds:      (m1.rollbackMs - m0.rollbackMs) / 1000,
		StorageReads: int(m1.storageGets - m0.storageGets),
		StorageLists: int(m1.storageLists - m0.storageLists),
		CPUms:        ms(cpu1 - cpu0),
		RSSMB:        rss,
		Complete:     m1.rollbacks >= want,
	}, nil
}
