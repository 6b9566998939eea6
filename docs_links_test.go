package resamania

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// maxReadmeLines keeps the README a front page: the rest lives in docs/.
const maxReadmeLines = 300

// documents are the Markdown files a reader of the repository is sent to.
func documents(t *testing.T) []string {
	docs, err := filepath.Glob("docs/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, docs)
	return append([]string{"README.md", "CHANGELOG.md", "SECURITY.md", "BENCHMARKS.md"}, docs...)
}

// TestDocsLinksResolve: every relative link in the documentation names a file
// or folder of the repository, and every #anchor a heading of its target.
func TestDocsLinksResolve(t *testing.T) {
	for _, doc := range documents(t) {
		raw, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, target := range markdownLinks(string(raw)) {
			if regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`).MatchString(target) {
				continue // a URL: not this repository's to keep
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := doc
			if file != "" {
				path = filepath.Join(filepath.Dir(doc), file)
				_, err := os.Stat(path)
				require.NoError(t, err, "%s links to %q, which is not in the repository", doc, target)
			}
			if anchor != "" {
				require.Equal(t, ".md", filepath.Ext(path), "%s links to %q: an anchor in a file that is not Markdown", doc, target)
				body, err := os.ReadFile(path)
				require.NoError(t, err)
				require.Contains(t, headingAnchors(string(body)), anchor, "%s links to %q: %s has no such heading", doc, target, path)
			}
		}
	}
}

// TestDocsNameNothingReadersCannotSee: no document cites an issue or a
// tracker (readers of a clone cannot see one) or a path outside the
// repository, such as a folder beside it or one of a development machine.
func TestDocsNameNothingReadersCannotSee(t *testing.T) {
	forbidden := map[string]*regexp.Regexp{
		"an issue number":                regexp.MustCompile(`(?i)\b(issues?|tickets?)\s*#?\d+`),
		"a tracker":                      regexp.MustCompile(`(?i)\btracker\b|github\.com/[^\s)]*/issues`),
		"a folder beside the repository": regexp.MustCompile(`\.\./shared|shared/bin`),
		"a development machine's path":   regexp.MustCompile(`(^|[\s("'\x60])/(work|root|home)/`),
	}
	for _, doc := range documents(t) {
		raw, err := os.ReadFile(doc)
		require.NoError(t, err)
		for n, line := range strings.Split(string(raw), "\n") {
			for what, re := range forbidden {
				require.False(t, re.MatchString(line), "%s:%d names %s: %q", doc, n+1, what, line)
			}
		}
	}
}

// TestReadmeIsAFrontPage: the README stays short enough to read at once.
func TestReadmeIsAFrontPage(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	lines := strings.Count(string(raw), "\n")
	require.LessOrEqual(t, lines, maxReadmeLines, "README.md has %d lines; move detail to docs/", lines)
}

// TestDocsCheckerFindsBrokenLinks: the link reader sees what a broken
// document would hold, so the tests above cannot pass for want of reading.
func TestDocsCheckerFindsBrokenLinks(t *testing.T) {
	doc := "See [a](docs/x.md#y), [b](#here) and `[c](not-a-link)`.\n\n```\n[d](neither)\n```\n\n## Here, `it` is: 2.0!\n## Here, `it` is: 2.0!\n"
	require.Equal(t, []string{"docs/x.md#y", "#here"}, markdownLinks(doc))
	require.Equal(t, []string{"here-it-is-20", "here-it-is-20-1"}, headingAnchors(doc))
}

var linkRe = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// markdownLinks are the targets of the inline links of a Markdown document,
// outside code blocks and code spans.
func markdownLinks(doc string) []string {
	var targets []string
	for _, line := range proseLines(doc) {
		line = regexp.MustCompile("`[^`]*`").ReplaceAllString(line, "")
		for _, m := range linkRe.FindAllStringSubmatch(line, -1) {
			targets = append(targets, m[1])
		}
	}
	return targets
}

// headingAnchors are the anchors GitHub gives a document's headings:
// lower case, spaces as hyphens, other punctuation dropped, and -1, -2...
// after a repeated one.
func headingAnchors(doc string) []string {
	seen := map[string]int{}
	var anchors []string
	for _, line := range proseLines(doc) {
		text, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(text)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
				b.WriteRune(r)
			}
		}
		anchor := b.String()
		if n := seen[anchor]; n > 0 {
			anchors = append(anchors, anchor+"-"+strconv.Itoa(n))
		} else {
			anchors = append(anchors, anchor)
		}
		seen[anchor]++
	}
	return anchors
}

// proseLines are a Markdown document's lines outside fenced code blocks.
func proseLines(doc string) []string {
	var lines []string
	fenced := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			lines = append(lines, line)
		}
	}
	return lines
}

// TestDocsNameRealCommands: every `make <target>` the documentation gives is
// a target of the Makefile, and every scripts/*.sh or examples/ file it names
// is in the repository, so a reader's copy-paste works.
func TestDocsNameRealCommands(t *testing.T) {
	makefile, err := os.ReadFile("Makefile")
	require.NoError(t, err)
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*)\s*:`).FindAllStringSubmatch(string(makefile), -1) {
		targets[m[1]] = true
	}
	require.True(t, targets["test"] && targets["demo"], "the Makefile's targets were read")
	makeRe := regexp.MustCompile("(?:^|`|\\$ |&& |; )(?:[A-Z_]+=\\S+ )*make ([a-z][a-z0-9-]*)")
	fileRe := regexp.MustCompile(`\b((?:scripts|examples)/[A-Za-z0-9_./-]*[A-Za-z0-9_-])`)
	for _, doc := range documents(t) {
		raw, err := os.ReadFile(doc)
		require.NoError(t, err)
		for n, line := range strings.Split(string(raw), "\n") {
			for _, m := range makeRe.FindAllStringSubmatch(line, -1) {
				require.True(t, targets[m[1]], "%s:%d gives `make %s`, which the Makefile has no target for", doc, n+1, m[1])
			}
			for _, m := range fileRe.FindAllStringSubmatch(line, -1) {
				if strings.HasPrefix(doc, "docs/") && strings.Contains(line, "../"+m[1]) {
					continue // a relative link: TestDocsLinksResolve checks it
				}
				_, err := os.Stat(m[1])
				require.NoError(t, err, "%s:%d names %s, which is not in the repository", doc, n+1, m[1])
			}
		}
	}
}
