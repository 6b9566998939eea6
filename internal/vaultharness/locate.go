package vaultharness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ModulePath identifies the repository root: RepoRoot looks for the go.mod
// declaring it (tools/vault/go.mod declares another module and is skipped).
const ModulePath = "github.com/resamania-oss/vault-plugin-secrets-resamania"

// E2EEnv is set to "required" by `make test` and CI so that a missing vault
// binary is a failure there, while a bare `go test` skips politely.
const E2EEnv = "RESAMANIA_E2E"

// RepoRoot walks up from the working directory to the directory whose go.mod
// declares ModulePath.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if modulePathOf(filepath.Join(dir, "go.mod")) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for module %s above the working directory", ModulePath)
		}
		dir = parent
	}
}

// modulePathOf returns the module path declared in a go.mod, or "".
func modulePathOf(goMod string) string {
	f, err := os.Open(goMod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}

// VaultBinary returns the Vault binary: $VAULT_BIN if set, else
// <repo>/.bin/vault, and checks that the file exists.
func VaultBinary() (string, error) { return FlavorVault.Binary() }

// Binary returns the flavor's binary: $VAULT_BIN or $BAO_BIN if set, else
// <repo>/.bin/vault or <repo>/.bin/bao, and checks that the file exists.
func (f Flavor) Binary() (string, error) {
	path := os.Getenv(f.binEnv())
	if path == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		path = filepath.Join(root, ".bin", f.Command())
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%s binary not found at %s: %s", f, path, f.installHint())
	case err != nil:
		return "", fmt.Errorf("%s binary at %s: %w", f, path, err)
	case info.IsDir() || info.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%s binary at %s is not an executable file: %s", f, path, f.installHint())
	}
	return path, nil
}

// Require returns the binary of the selected flavor (ServerEnv). Without it
// the test is skipped, or fails when RESAMANIA_E2E=required, so CI can never
// pass by skipping.
func Require(t testing.TB) string {
	t.Helper()
	f := SelectedFlavor(t)
	path, err := f.Binary()
	if err == nil {
		return path
	}
	if os.Getenv(E2EEnv) == "required" {
		t.Fatalf("%s=required but %v", E2EEnv, err)
	}
	t.Skipf("skipping end-to-end test: %v (set %s=required to fail instead)", err, E2EEnv)
	return ""
}
