package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// figure is one line of the table: a measured value and, where the issue
// sets one, its target. A missed target is reported, never an error.
type figure struct {
	Section string  `json:"section"`
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Target  string  `json:"target,omitempty"`
	Met     *bool   `json:"met,omitempty"`
	Note    string  `json:"note,omitempty"`
}

func info(section, name string, value float64, unit string) figure {
	return figure{Section: section, Name: name, Value: value, Unit: unit}
}

// atMost is a figure whose target is value <= limit.
func atMost(section, name string, value float64, unit string, limit float64) figure {
	met := value <= limit
	return figure{Section: section, Name: name, Value: value, Unit: unit, Target: "≤ " + format(limit, unit), Met: &met}
}

// atLeast is a figure whose target is value >= limit.
func atLeast(section, name string, value float64, unit string, limit float64) figure {
	met := value >= limit
	return figure{Section: section, Name: name, Value: value, Unit: unit, Target: "≥ " + format(limit, unit), Met: &met}
}

func (f figure) with(note string) figure { f.Note = note; return f }

// format writes a value in its unit's precision.
func format(v float64, unit string) string {
	switch unit {
	case "x", "per read", "per token":
		return fmt.Sprintf("%.2f %s", v, unit)
	case "ms", "s":
		return fmt.Sprintf("%.2f %s", v, unit)
	case "MB":
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// results is everything a run found; it is written as JSON.
type results struct {
	Mode     string          `json:"mode"`
	Started  time.Time       `json:"started"`
	Seconds  float64         `json:"seconds"`
	Machine  machine         `json:"machine"`
	Settings settings        `json:"settings"`
	Figures  []figure        `json:"figures"`
	Reads    []readRow       `json:"reads"`
	Ticks    map[string]tick `json:"ticks"`
	Errors   []string        `json:"errors"`
}

func (r *results) add(f ...figure) { r.Figures = append(r.Figures, f...) }

// checkLoad makes the reads of a load that Vault did not answer 200 an error
// of the run.
func (r *results) checkLoad(what string, l loadResult) {
	if l.Errors > 0 {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: %d of %d reads failed, the first: %s", what, l.Errors, l.Errors+l.Reads, l.FirstError))
	}
}

// machine is what the figures depend on beyond the code.
type machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model"`
	MemoryMB    int    `json:"memory_mb"`
	Kernel      string `json:"kernel"`
	LoadAverage string `json:"load_average_at_start"`
	Go          string `json:"go"`
	Vault       string `json:"vault"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryMB = kb * 1024 / 1e6
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAverage = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if bin, err := vaultharness.VaultBinary(); err == nil {
		if out, err := exec.Command(bin, "version").Output(); err == nil {
			m.Vault = strings.TrimSpace(string(out))
		}
	}
	return m
}

// printReads is section 1's detail: each target at each number of clients.
func printReads(w io.Writer, rows []readRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "vault\ttarget\tclients\treads/s\tp50 ms\tp99 ms\tto floor\t")
	for _, r := range rows {
		ratio := "-"
		if r.RatioToFloor > 0 {
			ratio = fmt.Sprintf("%.2f", r.RatioToFloor)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.2f\t%.2f\t%s\t\n", r.Vault, r.Target, r.Clients, r.PerSecond, r.P50ms, r.P99ms, ratio)
	}
	tw.Flush()
}

// printFigures is the table of every figure beside its target.
func printFigures(w io.Writer, figures []figure) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "section\tfigure\tvalue\ttarget\t")
	for _, f := range figures {
		status := ""
		if f.Met != nil {
			status = map[bool]string{true: "met", false: "MISSED"}[*f.Met]
		}
		target := strings.TrimSpace(f.Target + " " + status)
		name := f.Name
		if f.Note != "" {
			name += " (" + f.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", f.Section, name, format(f.Value, f.Unit), target)
	}
	tw.Flush()
}

// writeFile writes b to path, making its directory.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func writeJSON(path string, r *results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}
