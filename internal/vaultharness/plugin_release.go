package vaultharness

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BuildPluginInto builds the plugin of this tree into dir as
// <PluginName>-<version>, beside others a test built there.
func BuildPluginInto(t testing.TB, version, dir string) *Plugin {
	t.Helper()
	return buildPlugin(t, PluginPackage, version, filepath.Join(dir, PluginName+"-"+version))
}

// BuildReleasedPlugin builds the plugin as it was at commit, a release the
// repository's history holds, into dir as <PluginName>-<version>: the binary
// an operator upgrades from, with the storage layout it writes.
func BuildReleasedPlugin(t testing.TB, commit, version, dir string) *Plugin {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("build released plugin: %v", err)
	}
	src := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	// git archive: the commit's files, without touching the work tree.
	cmd := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive --format=tar "$2" | tar -x -C "$3"`, "sh", root, commit, src)
	cmd.WaitDelay = 5 * time.Second
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the sources of release %s: %v\n%s", commit, err, b)
	}
	return buildPluginIn(t, src, PluginPackage, version, filepath.Join(dir, PluginName+"-"+version))
}
