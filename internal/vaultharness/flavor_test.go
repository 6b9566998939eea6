package vaultharness

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSelectedFlavor(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want Flavor
		err  bool
	}{{"", FlavorVault, false}, {"vault", FlavorVault, false}, {"openbao", FlavorOpenBao, false}, {"bao", "", true}, {"Vault", "", true}} {
		t.Setenv(ServerEnv, tc.env)
		got, err := Selected()
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s=%q: Selected() = %q, %v; want %q (error %v)", ServerEnv, tc.env, got, err, tc.want, tc.err)
		}
	}
}

// TestOpenBaoBinaryMissing checks the message a developer sees without the
// unpacked binary, and that BAO_BIN, not VAULT_BIN, points at it.
func TestOpenBaoBinaryMissing(t *testing.T) {
	t.Setenv("VAULT_BIN", "/bin/true")
	t.Setenv("BAO_BIN", filepath.Join(t.TempDir(), "no-bao"))
	_, err := FlavorOpenBao.Binary()
	if err == nil || !strings.Contains(err.Error(), "run scripts/unpack-bao.sh") || !strings.Contains(err.Error(), "no-bao") {
		t.Fatalf("Binary() error = %v, want BAO_BIN's path and a hint to run scripts/unpack-bao.sh", err)
	}
}

// TestFlavorEnvironment: every harness process is pointed at its own server
// only, whatever the developer's environment says.
func TestFlavorEnvironment(t *testing.T) {
	t.Setenv("BAO_ADDR", "https://prod.example:8200")
	t.Setenv("VAULT_TOKEN", "s.developer")
	for _, kv := range baseEnv() {
		if strings.HasPrefix(kv, "BAO_") || strings.HasPrefix(kv, "VAULT_") {
			t.Errorf("baseEnv keeps %s", kv)
		}
	}
	bao := FlavorOpenBao.addrEnv("http://127.0.0.1:1", "root")
	for _, want := range []string{"BAO_ADDR=http://127.0.0.1:1", "BAO_TOKEN=root", "VAULT_ADDR=http://127.0.0.1:1", "VAULT_TOKEN=root"} {
		if !slices.Contains(bao, want) {
			t.Errorf("OpenBao's env %v lacks %s", bao, want)
		}
	}
	if got := FlavorVault.addrEnv("http://127.0.0.1:1", ""); !slices.Equal(got, []string{"VAULT_ADDR=http://127.0.0.1:1"}) {
		t.Errorf("Vault's env without a token = %v", got)
	}
	if got := ReloadPluginArgs(FlavorOpenBao, "p"); slices.Contains(got, "-type=secret") {
		t.Errorf("bao plugin reload has no -type flag: %v", got)
	}
}
