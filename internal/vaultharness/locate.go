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

// VaultBinary returns $VAULT_BIN if set, else <repo>/.bin/vault, and checks
// that the file exists.
func VaultBinary() (string, error) {
	path := os.Getenv("VAULT_BIN")
	if path == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		path = filepath.Join(root, ".bin", "vault")
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("vault binary not found at %s: run scripts/build-vault.sh", path)
	case err != nil:
		return "", fmt.Errorf("vault binary at %s: %w", path, err)
	case info.IsDir() || info.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("vault binary at %s is not an executable file: run scripts/build-vault.sh", path)
	}
	return path, nil
}

// Require returns the vault binary path. Without it the test is skipped, or
// fails when RESAMANIA_E2E=required, so CI can never pass by skipping.
func Require(t testing.TB) string {
	t.Helper()
	path, err := VaultBinary()
	if err == nil {
		return path
	}
	if os.Getenv(E2EEnv) == "required" {
		t.Fatalf("%s=required but %v", E2EEnv, err)
	}
	t.Skipf("skipping end-to-end test: %v (set %s=required to fail instead)", err, E2EEnv)
	return ""
}
