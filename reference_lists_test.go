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

// TestReadmeListsMatchTheCode: the README's lists of operation ids, config
// fields and metric names are the code's, so the documentation cannot drift.
func TestReadmeListsMatchTheCode(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(raw)

	t.Run("operation ids", func(t *testing.T) {
		require.Equal(t, openAPIOperationIDs(t), readmeOperationIDs(readme))
	})
	t.Run("config fields", func(t *testing.T) {
		var want []string
		for name := range configFields() {
			if name != "client_token" { // the path's own segment
				want = append(want, name)
			}
		}
		sort.Strings(want)
		require.Equal(t, want, tableFirstColumn(readme, "### `config/<client_token>`", "| field |"))
	})
	t.Run("metric names", func(t *testing.T) {
		var want []string
		for name := range metricHelp {
			want = append(want, name)
		}
		sort.Strings(want)
		require.Equal(t, want, tableFirstColumn(readme, "### Metrics", "| metric |"))
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

// readmeOperationIDs reads the README's list: the first id in full, the
// others as `-suffix` after the same prefix.
func readmeOperationIDs(readme string) []string {
	section := readme[strings.Index(readme, "## Endpoints"):]
	section = section[:strings.Index(section, "###")]
	var ids []string
	for _, m := range regexp.MustCompile("`(resamania)?(-[a-z-]+)`").FindAllStringSubmatch(section, -1) {
		ids = append(ids, "resamania"+m[2])
	}
	sort.Strings(ids)
	return ids
}

// tableFirstColumn reads the backquoted first cells of the table whose header
// starts with header, in the README section that starts with heading.
func tableFirstColumn(readme, heading, header string) []string {
	section := readme[strings.Index(readme, heading):]
	table := section[strings.Index(section, header):]
	var names []string
	for _, line := range strings.Split(table, "\n")[2:] {
		if !strings.HasPrefix(line, "| `") {
			break
		}
		names = append(names, strings.Trim(strings.SplitN(line, "|", 3)[1], " `"))
	}
	sort.Strings(names)
	return names
}
