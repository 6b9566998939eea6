package vaultharness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRepoRoot needs no vault binary: it pins how the harness finds the repo.
func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if got := modulePathOf(filepath.Join(root, "go.mod")); got != ModulePath {
		t.Fatalf("RepoRoot() = %s whose go.mod declares %q", root, got)
	}
}

// TestVaultBinaryMissing checks the message a developer sees without a build.
func TestVaultBinaryMissing(t *testing.T) {
	t.Setenv("VAULT_BIN", filepath.Join(t.TempDir(), "no-vault"))
	_, err := VaultBinary()
	if err == nil || !strings.Contains(err.Error(), "run scripts/build-vault.sh") {
		t.Fatalf("VaultBinary() error = %v, want a hint to run scripts/build-vault.sh", err)
	}
}

// TestHarness drives the real vault binary: a dev server, an agent, then a
// file-storage server whose data must survive a restart.
func TestHarness(t *testing.T) {
	Require(t)
	t.Run("dev", testDevServer)
	t.Run("agent", testAgent)
	t.Run("file-storage-restart", testFileStorageRestart)
}

// testDevServer: the CLI and the API client see one dev server, its audit
// device records, and a dev restart starts empty.
func testDevServer(t *testing.T) {
	s := StartServer(t, Options{Dev: true, PluginDir: t.TempDir()})
	if s.RootToken != DevRootToken {
		t.Fatalf("root token = %q", s.RootToken)
	}
	// Written with the CLI, read with the API client (kv-v2 at secret/).
	s.MustCLI(t, "kv", "put", "secret/harness", "color=blue")
	sec, err := s.Client.KVv2("secret").Get(t.Context(), "harness")
	if err != nil {
		t.Fatal(err)
	}
	if got := sec.Data["color"]; got != "blue" {
		t.Fatalf("api read color = %v", got)
	}
	// Written with the API client, read with the CLI.
	if _, err := s.Client.KVv2("secret").Put(t.Context(), "harness2", map[string]any{"shape": "round"}); err != nil {
		t.Fatal(err)
	}
	m := s.ReadJSON(t, "secret/data/harness2")
	if got := m["data"].(map[string]any)["data"].(map[string]any)["shape"]; got != "round" {
		t.Fatalf("cli read shape = %v", got)
	}
	auditPath := s.EnableFileAudit(t)
	s.MustCLI(t, "kv", "get", "secret/harness")
	waitNonEmpty(t, auditPath)
	// A dev restart is a fresh instance with the same root token.
	s.Restart(t)
	if _, _, err := s.CLI(t, "kv", "get", "secret/harness"); err == nil {
		t.Fatal("dev restart kept data; want a fresh in-memory instance")
	}
}

// testAgent: an agent renders a template from a dev server, then stops.
func testAgent(t *testing.T) {
	s := StartServer(t, Options{Dev: true})
	s.MustCLI(t, "kv", "put", "secret/harness", "color=red")
	token := strings.TrimSpace(s.MustCLI(t, "token", "create", "-field=token", "-ttl=10m"))
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	rendered := filepath.Join(dir, "color.txt")
	config := filepath.Join(dir, "agent.hcl")
	hcl := fmt.Sprintf(`auto_auth {
  method "token_file" {
    config = { token_file_path = %q }
  }
}
template {
  contents    = "{{ with secret \"secret/data/harness\" }}{{ .Data.data.color }}{{ end }}"
  destination = %q
}
`, tokenFile, rendered)
	if err := os.WriteFile(config, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	a := StartAgent(t, s, config, nil)
	if got := a.WaitForFile(t, rendered, 30*time.Second); got != "red" {
		t.Fatalf("rendered %q, want red", got)
	}
	a.Stop()
	if !a.Exited() {
		t.Fatal("agent still running after Stop")
	}
}

// testFileStorageRestart: file storage keeps its data and root token across
// Restart and across a second StartServer on the same data dir.
func testFileStorageRestart(t *testing.T) {
	dataDir := t.TempDir()
	s := StartServer(t, Options{DataDir: dataDir, LogLevel: "debug"})
	if s.RootToken == "" || s.UnsealKey == "" {
		t.Fatalf("missing init material: token %q key %q", s.RootToken, s.UnsealKey)
	}
	s.MustCLI(t, "secrets", "enable", "-path=secret", "kv")
	s.MustCLI(t, "kv", "put", "secret/harness", "color=green")

	s.Restart(t)
	if got := s.ReadJSON(t, "secret/harness")["data"].(map[string]any)["color"]; got != "green" {
		t.Fatalf("after restart color = %v", got)
	}

	// A second StartServer on the same data dir is also a restart.
	s.Stop()
	s2 := StartServer(t, Options{DataDir: dataDir})
	if s2.RootToken != s.RootToken {
		t.Fatal("root token changed across StartServer on the same data dir")
	}
	sec, err := s2.Client.Logical().Read("secret/harness")
	if err != nil || sec == nil || sec.Data["color"] != "green" {
		t.Fatalf("api read after second start: %v %v", sec, err)
	}
}

// TestPluginRegistration builds the real plugin and mounts it in a dev
// server, then in a file-storage server that restarts.
func TestPluginRegistration(t *testing.T) {
	Require(t)
	p := BuildPlugin(t, "v0.0.1-harness")
	s := StartServer(t, Options{Dev: true, PluginDir: p.Dir})
	s.RegisterAndEnable(t, p, "resamania")

	out := s.MustCLI(t, "secrets", "list", "-format=json")
	if !strings.Contains(out, p.Name) || !strings.Contains(out, p.Version) {
		t.Fatalf("mount of %s %s not listed:\n%s", p.Name, p.Version, out)
	}
	s.ReloadPlugin(t, p)
	s.WaitForLog(t, "successfully reloaded plugin", 10*time.Second)

	// With file storage the mount must come back after a restart, which
	// re-runs the catalog's sha256 check on the binary.
	f := StartServer(t, Options{PluginDir: p.Dir})
	f.RegisterAndEnable(t, p, "resamania")
	f.Restart(t)
	if out := f.MustCLI(t, "secrets", "list"); !strings.Contains(out, "resamania/") {
		t.Fatalf("mount lost across restart:\n%s", out)
	}
}

func waitNonEmpty(t *testing.T, path string) {
	t.Helper()
	if err := waitUntil(10*time.Second, path, func() (bool, error) {
		info, err := os.Stat(path)
		return err == nil && info.Size() > 0, nil
	}); err != nil {
		t.Fatal(err)
	}
}
