package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// The testdata files are real govulncheck v1.10.0 output (-format json)
// against the database of golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018,
// cut to what the judgement reads (osv entries to their id and summary, one
// symbol-level finding per vulnerability and module):
//   - main-40f5230-go1.26.8.json: main before issue 17, with go1.26.8;
//   - deps-bumped-go1.27.3.json: after the dependency bumps, with go1.27.3.

// mobyReasons lists the two Moby advisories that main's scan found without
// a fix, as the accepted list would.
const mobyReasons = `# a comment
GO-2026-4887 github.com/docker/docker
    Reached only through init functions of the sdk's plugin package.

GO-2026-4883 github.com/docker/docker
	A daemon-side check; the plugin runs no daemon.
`

func loadScan(t *testing.T, name string) scan {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := readScan(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustAccepted(t *testing.T, text string) map[key]acceptedEntry {
	t.Helper()
	a, err := parseAccepted(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ids(rs []reached) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.id+" "+r.module)
	}
	return out
}

func TestMainBeforeIssue17Fails(t *testing.T) {
	s := loadScan(t, "main-40f5230-go1.26.8.json")

	v := judge(s, mustAccepted(t, mobyReasons))
	// The issue counted 22 vulnerabilities; five of them reach both the
	// standard library and golang.org/x/net, so 27 (vulnerability, module) pairs.
	if len(v.fixable) != 25 {
		t.Errorf("fixable: got %d, want 25: %v", len(v.fixable), ids(v.fixable))
	}
	if got := strings.Join(ids(v.accepted), ", "); got != "GO-2026-4883 github.com/docker/docker, GO-2026-4887 github.com/docker/docker" {
		t.Errorf("accepted: %s", got)
	}
	if len(v.unlisted) != 0 || len(v.stale) != 0 {
		t.Errorf("unlisted %v, stale %v", ids(v.unlisted), v.stale)
	}
	if !v.failed() {
		t.Error("a scan with fixable vulnerabilities passed")
	}
	for _, r := range v.fixable {
		if r.id == "GO-2026-4762" && (r.module != "google.golang.org/grpc" || r.found != "v1.70.0" || r.fixed != "v1.79.3") {
			t.Errorf("GO-2026-4762: %+v", r)
		}
	}

	var out bytes.Buffer
	v.print(&out, "accepted.txt")
	for _, want := range []string{
		"FIX      GO-2026-4762 google.golang.org/grpc@v1.70.0: fixed in v1.79.3.",
		"FIX      GO-2026-6809 stdlib@v1.26.8: fixed in v1.26.10.",
		"accepted GO-2026-4887 github.com/docker/docker@v28.3.3+incompatible",
		"vulncheck: FAILED",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNoFixNotListedFails(t *testing.T) {
	s := loadScan(t, "main-40f5230-go1.26.8.json")
	// Only one of the two Moby advisories is listed: the other fails.
	one := mustAccepted(t, "GO-2026-4887 github.com/docker/docker\n  why\n")
	v := judge(s, one)
	if got := strings.Join(ids(v.unlisted), ", "); got != "GO-2026-4883 github.com/docker/docker" {
		t.Errorf("unlisted: %s", got)
	}
	// Listed for another module, it does not count.
	other := mustAccepted(t, "GO-2026-4883 github.com/moby/moby\n  why\n")
	v = judge(s, other)
	if len(v.unlisted) != 2 || len(v.stale) != 1 {
		t.Errorf("unlisted %v, stale %v", ids(v.unlisted), v.stale)
	}
}

// Once a fix is published, a listed entry no longer excuses anything: the
// fix is the answer.
func TestListedWithAFixFails(t *testing.T) {
	s := loadScan(t, "main-40f5230-go1.26.8.json")
	v := judge(s, mustAccepted(t, mobyReasons+"GO-2026-4762 google.golang.org/grpc\n  why\n"))
	if len(v.fixable) != 25 || len(v.accepted) != 2 {
		t.Errorf("fixable %d, accepted %v", len(v.fixable), ids(v.accepted))
	}
}

func TestDepsBumpedPasses(t *testing.T) {
	s := loadScan(t, "deps-bumped-go1.27.3.json")
	v := judge(s, map[key]acceptedEntry{})
	if v.failed() {
		var out bytes.Buffer
		v.print(&out, "accepted.txt")
		t.Fatalf("failed:\n%s", out.String())
	}
	if s.config.GoVersion != "go1.27.3" {
		t.Errorf("go version %q", s.config.GoVersion)
	}
	// The Moby entries main needed are stale now, and fail.
	v = judge(s, mustAccepted(t, mobyReasons))
	if len(v.stale) != 2 || !v.failed() {
		t.Errorf("stale entries: %v, failed %v", v.stale, v.failed())
	}
}

// Only a called symbol is judged; a fix for a package that is imported but
// never called, or a module only required, fails nothing.
func TestNotCalledIsCountedNotJudged(t *testing.T) {
	stream := `{"config":{"scanner_version":"v1.10.0","go_version":"go1.27.3","scan_level":"symbol"}}
{"osv":{"id":"GO-2026-0001","summary":"one"}}
{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.2.0","trace":[{"module":"example.com/a","version":"v1.1.0"}]}}
{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.2.0","trace":[{"module":"example.com/a","version":"v1.1.0","package":"example.com/a/p"}]}}
{"finding":{"osv":"GO-2026-0002","fixed_version":"v2.0.1","trace":[{"module":"example.com/b","version":"v2.0.0"}]}}
`
	s, err := readScan(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	v := judge(s, map[key]acceptedEntry{})
	if v.failed() || v.imported != 1 || v.required != 1 {
		t.Errorf("failed %v, imported %d, required %d", v.failed(), v.imported, v.required)
	}
	// The same advisory called: it fails.
	called := stream + `{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.2.0","trace":[{"module":"example.com/a","version":"v1.1.0","package":"example.com/a/p","function":"F"},{"module":"example.com/us","package":"example.com/us","function":"main","position":{"filename":"main.go","line":7}}]}}
`
	s, err = readScan(strings.NewReader(called))
	if err != nil {
		t.Fatal(err)
	}
	v = judge(s, map[key]acceptedEntry{})
	if len(v.fixable) != 1 || v.imported != 0 {
		t.Fatalf("fixable %v, imported %d", ids(v.fixable), v.imported)
	}
	if got := describe(v.fixable[0].example); got != "us.main (main.go:7) calls p.F" {
		t.Errorf("describe: %s", got)
	}
}

func TestReadScanRefuses(t *testing.T) {
	for name, stream := range map[string]string{
		"empty":         "",
		"not json":      "Your code is affected by 3 vulnerabilities",
		"package level": `{"config":{"scan_level":"package"}}`,
		"no trace":      `{"config":{"scan_level":"symbol"}}{"finding":{"osv":"GO-1"}}`,
	} {
		if _, err := readScan(strings.NewReader(stream)); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

func TestParseAccepted(t *testing.T) {
	a := mustAccepted(t, mobyReasons)
	e, ok := a[key{"GO-2026-4887", "github.com/docker/docker"}]
	if !ok || e.reason != "Reached only through init functions of the sdk's plugin package." || e.line != 2 {
		t.Errorf("entry: %+v", e)
	}
	if len(mustAccepted(t, "# nothing accepted\n\n")) != 0 {
		t.Error("a list of comments has entries")
	}
	for name, text := range map[string]string{
		"no reason":      "GO-2026-4887 github.com/docker/docker\n\nGO-2026-4883 github.com/docker/docker\n  why\n",
		"no reason, end": "GO-2026-4887 github.com/docker/docker\n",
		"no module":      "GO-2026-4887\n  why\n",
		"not an id":      "CVE-2026-1 github.com/docker/docker\n  why\n",
		"twice":          "GO-2026-4887 m\n  why\nGO-2026-4887 m\n  why again\n",
		"orphan reason":  "  why\n",
	} {
		if _, err := parseAccepted(strings.NewReader(text)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}
