package vaultharness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteConfig needs no vault binary: it pins what the one HCL writer
// puts in a dev server's, a file-storage server's and a raft node's config.
func TestWriteConfig(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  serverConfig
		want []string
		not  []string
	}{
		{
			name: "dev",
			cfg:  serverConfig{Port: 8200, PluginDir: "/plugins", LogLevel: "trace", Dev: true, Storage: fileStorage("/data")},
			want: []string{`plugin_directory = "/plugins"`},
			not:  []string{"storage", "listener", "api_addr", "log_level"},
		},
		{
			name: "file",
			cfg:  serverConfig{Port: 8200, LogLevel: "trace", Storage: fileStorage("/data")},
			want: []string{
				"storage \"file\" {\n  path = \"/data/storage\"\n}",
				`address = "127.0.0.1:8200"`, `cluster_address = "127.0.0.1:8201"`, "tls_disable = true",
				`api_addr = "http://127.0.0.1:8200"`, `cluster_addr = "https://127.0.0.1:8201"`,
				"disable_mlock = true", `log_level = "trace"`,
			},
			not: []string{"plugin_directory", "raft"},
		},
		{
			name: "raft",
			cfg:  serverConfig{Port: 9000, PluginDir: "/plugins", LogLevel: "debug", Storage: raftStorage("/data", "node1", 1, []string{"http://127.0.0.1:9100", "http://127.0.0.1:9200"})},
			want: []string{
				`storage "raft" {`, `path = "/data/raft"`, `node_id = "node1"`, "performance_multiplier = 1",
				`leader_api_addr = "http://127.0.0.1:9100"`, `leader_api_addr = "http://127.0.0.1:9200"`,
				`api_addr = "http://127.0.0.1:9000"`, `plugin_directory = "/plugins"`, `log_level = "debug"`,
			},
			not: []string{`storage "file"`},
		},
		{
			// OpenBao's default: its standbys answer reads, as users run them.
			name: "openbao raft",
			cfg:  serverConfig{Port: 9000, LogLevel: "debug", Flavor: FlavorOpenBao, Storage: raftStorage("/data", "node1", 1, nil)},
			want: []string{"unsafe_allow_api_audit_creation = true", `storage "raft" {`},
			not:  []string{"disable_standby_reads"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".hcl")
			if err := writeConfig(path, tc.cfg); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("config lacks %q:\n%s", w, b)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(b), n) {
					t.Errorf("config holds %q:\n%s", n, b)
				}
			}
		})
	}
}
