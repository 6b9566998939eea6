package vaultharness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serverConfig is what the harness puts in a server's HCL file, for a
// single server and for a cluster node alike.
type serverConfig struct {
	Port      int    // API port; the cluster listener takes Port+1
	PluginDir string // plugin_directory; "" for none
	LogLevel  string
	// Dev writes plugin_directory only: the -dev flags give everything else,
	// and Vault merges -config into its dev config.
	Dev bool
	// Storage is the storage stanza: fileStorage or raftStorage.
	Storage string
	// Flavor is the server that reads the file: OpenBao refuses audit
	// devices enabled through the API unless the config allows it.
	Flavor Flavor
	// Extra is HCL appended as is.
	Extra string
}

// writeConfig writes cfg as HCL: storage, a plain-HTTP loopback listener
// with the cluster port on Port+1, and the addresses peers use.
func writeConfig(path string, cfg serverConfig) error {
	var b strings.Builder
	if cfg.PluginDir != "" {
		fmt.Fprintf(&b, "plugin_directory = %q\n", cfg.PluginDir)
	}
	if cfg.Flavor == FlavorOpenBao {
		// OpenBao wants audit devices declared in the config; the tests
		// enable theirs through the CLI, as on Vault.
		b.WriteString("unsafe_allow_api_audit_creation = true\n")
		// No disable_standby_reads: the cluster tests run OpenBao as it is
		// installed, its standbys answering reads themselves.
	}
	if !cfg.Dev {
		b.WriteString(cfg.Storage)
		fmt.Fprintf(&b, "listener \"tcp\" {\n  address = %q\n  cluster_address = %q\n  tls_disable = true\n}\n",
			fmt.Sprintf("127.0.0.1:%d", cfg.Port), fmt.Sprintf("127.0.0.1:%d", cfg.Port+1))
		fmt.Fprintf(&b, "api_addr = %q\n", fmt.Sprintf("http://127.0.0.1:%d", cfg.Port))
		fmt.Fprintf(&b, "cluster_addr = %q\n", fmt.Sprintf("https://127.0.0.1:%d", cfg.Port+1))
		fmt.Fprintf(&b, "disable_mlock = true\n")
		fmt.Fprintf(&b, "log_level = %q\n", cfg.LogLevel)
	}
	b.WriteString(cfg.Extra)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// fileStorage is the storage stanza of a single server.
func fileStorage(dataDir string) string {
	return fmt.Sprintf("storage \"file\" {\n  path = %q\n}\n", storagePath(dataDir))
}

// raftStorage is the storage stanza of a cluster node: integrated storage
// with a retry_join per peer API address.
func raftStorage(dataDir, nodeID string, multiplier int, peers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "storage \"raft\" {\n  path = %q\n  node_id = %q\n", raftPath(dataDir), nodeID)
	fmt.Fprintf(&b, "  performance_multiplier = %d\n", multiplier)
	// Autopilot notices joiners and promotes them to voters sooner.
	fmt.Fprintf(&b, "  autopilot_update_interval = \"500ms\"\n  autopilot_reconcile_interval = \"1s\"\n")
	for _, p := range peers {
		fmt.Fprintf(&b, "  retry_join {\n    leader_api_addr = %q\n  }\n", p)
	}
	b.WriteString("}\n")
	return b.String()
}

// storagePath is where file storage lives inside a data dir; the saved init
// material sits beside it, not inside, so Vault never lists it as a key.
func storagePath(dataDir string) string { return filepath.Join(dataDir, "storage") }

func raftPath(dataDir string) string { return filepath.Join(dataDir, "raft") }

// absPluginDir makes a plugin directory absolute, as Vault requires; "" stays "".
func absPluginDir(t testing.TB, dir string) string {
	t.Helper()
	if dir == "" {
		return ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("plugin dir: %v", err)
	}
	return abs
}
