package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// TestOpenBaoDeclarativePlugin: the README's example of OpenBao's
// declarative plugins (examples/openbao-declarative-plugin.hcl), a local
// binary named in the server's config with its version and sha256, puts the
// plugin in the catalog at every start with no `bao plugin register`; it
// mounts, mints, and comes back after a restart.
func TestOpenBaoDeclarativePlugin(t *testing.T) {
	vaultharness.OnlyOn(t, vaultharness.FlavorOpenBao, "declarative plugins (a plugin block in the server's config) are OpenBao's, from 2.5; Vault has none")
	root, err := vaultharness.RepoRoot()
	require.NoError(t, err)
	example, err := os.ReadFile(filepath.Join(root, "examples", "openbao-declarative-plugin.hcl"))
	require.NoError(t, err)
	plugin := vaultharness.BuildPlugin(t, "v0.1.0")
	declared := strings.NewReplacer(
		`plugin_directory     = "/etc/openbao/plugins"`+"\n", "", // the harness writes the test's own
		"<sha256 of the binary>", plugin.SHA256,
	).Replace(string(example))
	require.NotContains(t, declared, "/etc/openbao", "the example changed: update the test")
	require.Contains(t, declared, plugin.SHA256)

	fake := startFake(t, 0)
	s := vaultharness.StartServer(t, vaultharness.Options{PluginDir: plugin.Dir, ExtraConfig: declared})
	info := s.ReadJSON(t, "sys/plugins/catalog/secret/"+plugin.Name, "version=v0.1.0")["data"].(map[string]any)
	require.Equal(t, plugin.SHA256, info["sha256"], "registered from the config, with its sum")
	s.Enable(t, plugin, mount)
	s.MustCLI(t, "write", configPath, "api_base_url="+fake.URL(), "client_id="+clientID, "client_secret="+clientSecret, "api_key="+gatewayKey)
	tok := readAccessToken(t, s.Client, tokenPath)
	require.True(t, fake.AccessTokenValid(tok))

	s.Restart(t)
	require.Equal(t, tok, readAccessToken(t, s.Client, tokenPath), "the mount and its token are back after a restart")
}
