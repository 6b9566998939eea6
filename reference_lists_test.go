package resamania

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// referencePath is where every path, field and metric is documented.
const referencePath = "docs/reference.md"

// TestReferenceListsMatchTheCode: the reference's lists of operation ids,
// config fields and metric names are the code's, so the documentation cannot
// drift.
func TestReferenceListsMatchTheCode(t *testing.T) {
	raw, err := os.ReadFile(referencePath)
	require.NoError(t, err)
	doc := string(raw)

	t.Run("operation ids", func(t *testing.T) {
		require.Equal(t, openAPIOperationIDs(t), referenceOperationIDs(t, doc))
	})
	t.Run("config fields", func(t *testing.T) {
		var want []string
		for name := range configFields() {
			if name != "client_token" { // the path's own segment
				want = append(want, name)
			}
		}
		sort.Strings(want)
		require.Equal(t, want, tableFirstColumn(t, doc, "### Config fields", "| field |"))
	})
	t.Run("metric names", func(t *testing.T) {
		var want []string
		for name := range metricHelp {
			want = append(want, name)
		}
		sort.Strings(want)
		require.Equal(t, want, tableFirstColumn(t, doc, "## metrics", "| metric |"))
	})
}

// openAPIOperationIDs are the ids of every operation in the plugin's OpenAPI
// document, as Vault serves it at sys/internal/specs/openapi.
func openAPIOperationIDs(t *testing.T) []string {
	config := logical.TestBackendConfig()
	config.StorageView = &logical.InmemStorage{}
	config.System = &logical.StaticSystemView{PluginEnvironment: &logical.PluginEnvironment{VaultVersion: "1.21.0"}}
	b := newBackend(time.Now)
	require.NoError(t, b.Setup(t.Context(), config))
	resp, err := b.HandleRequest(t.Context(), &logical.Request{Operation: logical.HelpOperation, Path: "", Storage: config.StorageView})
	require.NoError(t, err)
	doc := resp.Data["openapi"].(*framework.OASDocument)
	var ids []string
	for _, item := range doc.Paths {
		for _, op := range []*framework.OASOperation{item.Get, item.Post, item.Delete, item.Patch} {
			if op != nil {
				ids = append(ids, op.OperationID)
			}
		}
	}
	sort.Strings(ids)
	return slices.Compact(ids)
}

// referenceOperationIDs reads the reference's list, in its first paragraph
// after "## Operation ids": the first id in full, the others as `-suffix`
// after the same prefix.
func referenceOperationIDs(t *testing.T, doc string) []string {
	section := docSection(t, doc, "## Operation ids")
	paragraphs := strings.SplitN(strings.TrimSpace(section), "\n\n", 2)
	var ids []string
	for _, m := range regexp.MustCompile("`(resamania)?(-[a-z-]+)`").FindAllStringSubmatch(paragraphs[0], -1) {
		ids = append(ids, "resamania"+m[2])
	}
	sort.Strings(ids)
	return ids
}

// tableFirstColumn reads the backquoted first cells of the table whose header
// starts with header, in the section under heading.
func tableFirstColumn(t *testing.T, doc, heading, header string) []string {
	section := docSection(t, doc, heading)
	at := strings.Index(section, header)
	require.GreaterOrEqual(t, at, 0, "no table %q under %q", header, heading)
	var names []string
	for _, line := range strings.Split(section[at:], "\n")[2:] {
		if !strings.HasPrefix(line, "| `") {
			break
		}
		names = append(names, strings.Trim(strings.SplitN(line, "|", 3)[1], " `"))
	}
	sort.Strings(names)
	return names
}

// docSection is the text under the line heading, up to the next heading of
// its level or above.
func docSection(t *testing.T, doc, heading string) string {
	lines := strings.Split(doc, "\n")
	level := strings.Index(heading, " ")
	start := slices.Index(lines, heading)
	require.GreaterOrEqual(t, start, 0, "no heading %q", heading)
	end, fenced := len(lines), false
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "```") {
			fenced = !fenced // a shell comment in a code block is no heading
		}
		if n := strings.Index(lines[i], " "); !fenced && n > 0 && n <= level && strings.Trim(lines[i][:n], "#") == "" {
			end = i
			break
		}
	}
	return strings.Join(lines[start+1:end], "\n")
}
