package main

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

func TestTokensIn(t *testing.T) {
	for _, tc := range []struct {
		life   int
		window time.Duration
		want   int
	}{
		{4, 12 * time.Second, 6},   // served until 2 s are left (the 1 s margin + 1 s): 2 s each
		{20, 60 * time.Second, 5},  // served until a third is left: 13.3 s each
		{3600, time.Minute, 1},     // one token covers the window
		{30, 90 * time.Second, 5},  // 20 s each: 4.5 tokens, so a fifth
		{600, 30 * time.Minute, 5}, // margin 60 s, a third 200 s: 400 s each
	} {
		require.Equal(t, tc.want, tokensIn(tc.life, tc.window), "life %d s over %s", tc.life, tc.window)
	}
}

func TestMedian(t *testing.T) {
	require.Zero(t, median(nil))
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
}

func TestSummarizeTakesEachRoundsRatioToItsFloor(t *testing.T) {
	runs := map[string][]loadResult{
		"resamania leased": {{PerSecond: 90, P50ms: 1}, {PerSecond: 45, P50ms: 2}, {PerSecond: 80, P50ms: 3}},
		"floor leased":     {{PerSecond: 100}, {PerSecond: 50}, {PerSecond: 100}},
	}
	row := summarize("dev", readTargets[0], 16, runs)
	require.Equal(t, 80.0, row.PerSecond)
	require.Equal(t, 2.0, row.P50ms)
	require.InDelta(t, 0.9, row.RatioToFloor, 1e-9, "rounds 0.9, 0.9, 0.8: a slow round of both leaves the ratio alone")
	require.Zero(t, summarize("dev", readTargets[2], 16, runs).RatioToFloor, "a floor has no ratio")
}

func TestRatioChartIsWellFormedSVG(t *testing.T) {
	var rows []readRow
	for _, vault := range []string{"dev", "raft3"} {
		for _, clients := range []int{1, 16, 64} {
			for _, tg := range readTargets {
				rows = append(rows, readRow{Vault: vault, Target: tg.name, Clients: clients, RatioToFloor: 0.8})
			}
		}
	}
	svg := ratioChart(rows)
	dec := xml.NewDecoder(strings.NewReader(svg))
	rects := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	// A bar for each series in each group of each panel, the background, a
	// legend square per series.
	require.Equal(t, 2*3*len(chartSeries)+1+len(chartSeries), rects)
	require.Contains(t, svg, "1 client<")
	require.Contains(t, svg, "64 clients<")
}

func TestProcStatOfThisProcess(t *testing.T) {
	before, err := cpuTime(os.Getpid())
	require.NoError(t, err)
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
	}
	after, err := cpuTime(os.Getpid())
	require.NoError(t, err)
	require.Greater(t, after, before, "100 ms of spinning shows")
	rss, err := rssMB(os.Getpid())
	require.NoError(t, err)
	require.Greater(t, rss, 1.0)
	exe, err := os.Executable()
	require.NoError(t, err)
	require.Contains(t, processesOf(exe), os.Getpid())
}

func TestNextTickCountsMinutesFromTheRollbackManagersStart(t *testing.T) {
	log := filepath.Join(t.TempDir(), "vault.log")
	require.NoError(t, os.WriteFile(log, []byte(strings.Join([]string{
		"2026-11-26T09:24:21.479Z [INFO]  rollback: starting rollback manager",
		"2026-11-26T09:24:21.481Z [INFO]  rollback: stopping rollback manager",
		"2026-11-26T09:24:21.483Z [INFO]  rollback: starting rollback manager",
		"2026-11-26T09:24:22.000Z [INFO]  core: post-unseal setup complete",
	}, "\n")+"\n"), 0o600))
	st := &stack{vault: &vaultharness.Process{LogPath: log}}
	start := time.Date(2026, 11, 26, 9, 24, 21, 483e6, time.UTC)
	for after, want := range map[time.Duration]time.Duration{
		0: 0, time.Second: time.Minute, time.Minute: time.Minute, 61 * time.Second: 2 * time.Minute,
	} {
		got, err := st.nextTick(start.Add(after))
		require.NoError(t, err)
		require.Equal(t, start.Add(want), got, "after %s", after)
	}

	st.vault.LogPath = filepath.Join(t.TempDir(), "empty.log")
	_, err := st.nextTick(start)
	require.ErrorContains(t, err, "rollback manager started")
}

func TestMetricsReadsVaultsCounters(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/v1/sys/metrics", r.URL.Path)
		require.Equal(t, "prometheus", r.URL.Query().Get("format"))
		_, _ = io.WriteString(w, strings.Join([]string{
			"# TYPE vault_barrier_get summary",
			`vault_barrier_get{quantile="0.5"} 0.0018`,
			"vault_barrier_get_count 1234",
			"vault_barrier_list_count 56",
			"vault_rollback_attempt_sum 2.5",
			"vault_rollback_attempt_count 5",
		}, "\n"))
	}))
	defer srv.Close()
	st := &stack{vault: &vaultharness.Process{Addr: srv.URL, RootToken: "root"}, client: srv.Client()}
	m, err := st.metrics()
	require.NoError(t, err)
	require.Equal(t, vaultMetrics{storageGets: 1234, storageLists: 56, rollbacks: 5, rollbackMs: 2.5}, m)
}
