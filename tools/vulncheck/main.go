// Command vulncheck judges a govulncheck scan for `make vulncheck`
// (scripts/vulncheck.sh). It reads govulncheck's JSON stream (-format json)
// on standard input and fails when the code calls a vulnerable symbol that
// has a fix, or one without a fix that the accepted list does not name with
// its reason. A listed entry that the scan no longer finds fails too, so the
// list says exactly what ships. Vulnerabilities only imported or required,
// never called, are counted and not judged: govulncheck itself does the same.
//
//	govulncheck -format json ./... | vulncheck -accepted security/vulncheck-accepted.txt
//
// Exit status: 0 passed, 1 failed, 2 the input or the list could not be read.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

func main() {
	acceptedPath := flag.String("accepted", "", "the list of accepted findings without a fix (required)")
	flag.Parse()
	if *acceptedPath == "" {
		fmt.Fprintln(os.Stderr, "vulncheck: -accepted is required")
		os.Exit(2)
	}
	f, err := os.Open(*acceptedPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(2)
	}
	accepted, err := parseAccepted(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vulncheck: %s: %v\n", *acceptedPath, err)
		os.Exit(2)
	}
	scan, err := readScan(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck: reading govulncheck's output:", err)
		os.Exit(2)
	}
	v := judge(scan, accepted)
	v.print(os.Stdout, *acceptedPath)
	if v.failed() {
		os.Exit(1)
	}
}

// The parts of govulncheck's JSON protocol (v1) that the judgement reads.
type message struct {
	Config  *scanConfig `json:"config"`
	OSV     *osvEntry   `json:"osv"`
	Finding *finding    `json:"finding"`
}

type scanConfig struct {
	ScannerVersion string `json:"scanner_version"`
	DB             string `json:"db"`
	DBLastModified string `json:"db_last_modified"`
	GoVersion      string `json:"go_version"`
	ScanLevel      string `json:"scan_level"`
}

type osvEntry struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

// finding is one path to a vulnerability. Trace[0] is the vulnerable
// module, package or symbol; with a symbol, the last frame is the first
// function of ours on the call path.
type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type frame struct {
	Module   string    `json:"module"`
	Version  string    `json:"version"`
	Package  string    `json:"package"`
	Function string    `json:"function"`
	Receiver string    `json:"receiver"`
	Position *position `json:"position"`
}

type position struct {
	Filename string `json:"filename"`
	Line     int    `json:"line"`
}

type scan struct {
	config    scanConfig
	summaries map[string]string // OSV id -> summary
	findings  []finding
}

func readScan(r io.Reader) (scan, error) {
	s := scan{summaries: map[string]string{}}
	sawConfig := false
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return scan{}, err
		}
		switch {
		case m.Config != nil:
			s.config, sawConfig = *m.Config, true
		case m.OSV != nil:
			s.summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil:
			if len(m.Finding.Trace) == 0 {
				return scan{}, fmt.Errorf("finding for %s has no trace", m.Finding.OSV)
			}
			s.findings = append(s.findings, *m.Finding)
		}
	}
	if !sawConfig {
		return scan{}, errors.New("no config message: is this the output of govulncheck -format json?")
	}
	if s.config.ScanLevel != "symbol" {
		return scan{}, fmt.Errorf("scan level %q: only a symbol-level scan tells what the code calls", s.config.ScanLevel)
	}
	return s, nil
}

// key names one vulnerability in one module: an advisory can cover the
// standard library ("stdlib") and golang.org/x/net at once.
type key struct{ id, module string }

// acceptedEntry is one vulnerability without a fix, and why this plugin
// cannot be attacked through it.
type acceptedEntry struct {
	key
	reason string
	line   int
}

// parseAccepted reads the list: '#' starts a comment line; an entry is a line
// "GO-YYYY-NNNN module/path" followed by indented lines that say why it
// cannot be exploited through this plugin. An entry without a reason is an
// error: the list exists to say why.
func parseAccepted(r io.Reader) (map[key]acceptedEntry, error) {
	entries := map[key]acceptedEntry{}
	var cur *acceptedEntry
	finish := func() error {
		if cur == nil {
			return nil
		}
		cur.reason = strings.TrimSpace(cur.reason)
		if cur.reason == "" {
			return fmt.Errorf("line %d: %s in %s says nothing of why it cannot be exploited", cur.line, cur.id, cur.module)
		}
		if _, dup := entries[cur.key]; dup {
			return fmt.Errorf("line %d: %s in %s is listed twice", cur.line, cur.id, cur.module)
		}
		entries[cur.key] = *cur
		cur = nil
		return nil
	}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case line[0] == ' ' || line[0] == '\t':
			if cur == nil {
				return nil, fmt.Errorf("line %d: indented text before any entry", n)
			}
			cur.reason += trimmed + " "
		default:
			if err := finish(); err != nil {
				return nil, err
			}
			fields := strings.Fields(line)
			if len(fields) != 2 || !strings.HasPrefix(fields[0], "GO-") {
				return nil, fmt.Errorf("line %d: want \"GO-YYYY-NNNN module/path\", got %q", n, line)
			}
			cur = &acceptedEntry{key: key{fields[0], fields[1]}, line: n}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return entries, nil
}

// reached is a vulnerability that the code calls, in one module.
type reached struct {
	key
	summary string
	found   string // the module's version in the build
	fixed   string // "" when no fixed version is published
	example finding
}

type verdict struct {
	config   scanConfig
	fixable  []reached // fail: upgrade
	unlisted []reached // fail: no fix, and not in the list
	accepted []reached // pass: no fix, listed with a reason
	stale    []acceptedEntry
	imported int // vulnerabilities in imported packages, never called
	required int // vulnerabilities in required modules, never imported
}

func (v verdict) failed() bool {
	return len(v.fixable)+len(v.unlisted)+len(v.stale) > 0
}

func judge(s scan, accepted map[key]acceptedEntry) verdict {
	called := map[key]*reached{}
	imported := map[string]bool{}
	required := map[string]bool{}
	for _, f := range s.findings {
		top := f.Trace[0]
		switch {
		case top.Function != "":
			k := key{f.OSV, top.Module}
			if called[k] == nil {
				called[k] = &reached{key: k, summary: s.summaries[f.OSV], found: top.Version, fixed: f.FixedVersion, example: f}
			}
		case top.Package != "":
			imported[f.OSV] = true
		default:
			required[f.OSV] = true
		}
	}
	v := verdict{config: s.config}
	keys := make([]key, 0, len(called))
	for k := range called {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].id != keys[j].id {
			return keys[i].id < keys[j].id
		}
		return keys[i].module < keys[j].module
	})
	for _, k := range keys {
		r := *called[k]
		_, listed := accepted[k]
		switch {
		case r.fixed != "":
			v.fixable = append(v.fixable, r)
		case listed:
			v.accepted = append(v.accepted, r)
		default:
			v.unlisted = append(v.unlisted, r)
		}
	}
	for k, e := range accepted {
		if called[k] == nil {
			v.stale = append(v.stale, e)
		}
	}
	sort.Slice(v.stale, func(i, j int) bool { return v.stale[i].line < v.stale[j].line })
	for id := range imported {
		if !calledID(called, id) {
			v.imported++
		}
	}
	for id := range required {
		if !calledID(called, id) && !imported[id] {
			v.required++
		}
	}
	return v
}

func calledID(called map[key]*reached, id string) bool {
	for k := range called {
		if k.id == id {
			return true
		}
	}
	return false
}

func (v verdict) print(w io.Writer, acceptedPath string) {
	c := v.config
	fmt.Fprintf(w, "govulncheck %s, %s, database %s (modified %s)\n", c.ScannerVersion, c.GoVersion, c.DB, c.DBLastModified)
	for _, r := range v.fixable {
		fmt.Fprintf(w, "FIX      %s %s@%s: fixed in %s. %s\n", r.id, r.module, r.found, r.fixed, r.summary)
		fmt.Fprintf(w, "         %s\n", describe(r.example))
	}
	for _, r := range v.unlisted {
		fmt.Fprintf(w, "NO FIX   %s %s@%s, not in %s: say there why it cannot be exploited through this plugin, or stop calling it. %s\n", r.id, r.module, r.found, acceptedPath, r.summary)
		fmt.Fprintf(w, "         %s\n", describe(r.example))
	}
	for _, r := range v.accepted {
		fmt.Fprintf(w, "accepted %s %s@%s: no fix; %s says why it cannot be exploited. %s\n", r.id, r.module, r.found, acceptedPath, r.summary)
	}
	for _, e := range v.stale {
		fmt.Fprintf(w, "STALE    %s %s (%s:%d): the scan no longer finds it; remove it from the list\n", e.id, e.module, acceptedPath, e.line)
	}
	fmt.Fprintf(w, "%d called with a fix, %d called without a fix and not listed, %d accepted, %d stale list entries; not called: %d in imported packages, %d in required modules\n",
		len(v.fixable), len(v.unlisted), len(v.accepted), len(v.stale), v.imported, v.required)
	if v.failed() {
		fmt.Fprintln(w, "vulncheck: FAILED")
	} else {
		fmt.Fprintln(w, "vulncheck: passed")
	}
}

// describe says how our code reaches the vulnerable symbol: its first
// function of ours on the path, and the symbol.
func describe(f finding) string {
	sym, ours := f.Trace[0], f.Trace[len(f.Trace)-1]
	at := ""
	if ours.Position != nil {
		at = fmt.Sprintf(" (%s:%d)", ours.Position.Filename, ours.Position.Line)
	}
	return fmt.Sprintf("%s%s calls %s", funcName(ours), at, funcName(sym))
}

// funcName names a function as govulncheck's text output does: the last
// element of its package path, the receiver type, the function.
func funcName(fr frame) string {
	name := path.Base(fr.Package)
	if fr.Receiver != "" {
		name += "." + strings.TrimPrefix(fr.Receiver, "*")
	}
	return name + "." + fr.Function
}
