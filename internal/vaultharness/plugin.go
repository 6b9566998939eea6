package vaultharness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// PluginName is the plugin's catalog name and binary file name.
const PluginName = "vault-plugin-secrets-resamania"

// PluginPackage is the plugin's main package, relative to the repo root.
const PluginPackage = "./cmd/vault-plugin-secrets-resamania"

// Plugin is a built plugin binary ready to be registered.
type Plugin struct {
	Name    string // catalog name
	Dir     string // directory holding the binary: use it as Options.PluginDir
	Path    string // Dir/<binary file>
	SHA256  string // hex sha256 of the binary, for `vault plugin register`
	Version string // stamped with -X main.version; "" when not stamped
}

// BuildPlugin builds the real plugin (PluginPackage) into a fresh temp dir,
// stamping version (semver with a leading v, e.g. "v0.1.0") into main.version.
func BuildPlugin(t testing.TB, version string) *Plugin {
	t.Helper()
	return BuildPluginPackage(t, PluginPackage, version)
}

// BuildPluginPackage is BuildPlugin for any main package (a path relative to
// the repo root, or an import path), e.g. a test stub. The binary is still
// named PluginName.
func BuildPluginPackage(t testing.TB, pkg, version string) *Plugin {
	t.Helper()
	return buildPlugin(t, pkg, version, filepath.Join(t.TempDir(), PluginName))
}

// BuildPluginVersions builds the real plugin once per version into one
// directory, each as <PluginName>-<version>, so one server can register them
// all and move a mount from one to the next: an upgrade in place.
func BuildPluginVersions(t testing.TB, versions ...string) []*Plugin {
	t.Helper()
	dir := t.TempDir()
	plugins := make([]*Plugin, 0, len(versions))
	for _, v := range versions {
		plugins = append(plugins, buildPlugin(t, PluginPackage, v, filepath.Join(dir, PluginName+"-"+v)))
	}
	return plugins
}

// buildPlugin builds pkg into out, stamping version when there is one.
func buildPlugin(t testing.TB, pkg, version, out string) *Plugin {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("build plugin: %v", err)
	}
	return buildPluginIn(t, root, pkg, version, out)
}

// buildPluginIn builds pkg of the module at root into out.
func buildPluginIn(t testing.TB, root, pkg, version, out string) *Plugin {
	t.Helper()
	args := []string{"build", "-o", out}
	if version != "" {
		args = append(args, "-ldflags", "-X main.version="+version)
	}
	args = append(args, pkg)

	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %q (in %s): %v\n%s", args, root, err, b)
	}
	sum, err := fileSHA256(out)
	if err != nil {
		t.Fatalf("build plugin: %v", err)
	}
	t.Logf("built plugin %s %s in %s", pkg, version, time.Since(start).Round(time.Millisecond))
	return &Plugin{Name: PluginName, Dir: filepath.Dir(out), Path: out, SHA256: sum, Version: version}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("sha256 of %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
