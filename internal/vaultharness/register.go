package vaultharness

import (
	"path/filepath"
	"testing"
)

// Register adds p to the plugin catalog as a secrets plugin with its sha256
// and version. The binary must sit in the server's plugin directory (start
// the server with Options{PluginDir: p.Dir}).
func (v *Process) Register(t testing.TB, p *Plugin) {
	t.Helper()
	if v.PluginDir == "" {
		t.Fatalf("register %s: server has no plugin directory (set Options.PluginDir)", p.Name)
	}
	if !sameDir(filepath.Dir(p.Path), v.PluginDir) {
		t.Fatalf("register %s: binary %s is not in the server's plugin directory %s (use Options{PluginDir: p.Dir})", p.Name, p.Path, v.PluginDir)
	}
	args := []string{"plugin", "register", "-sha256=" + p.SHA256, "-command=" + filepath.Base(p.Path)}
	if p.Version != "" {
		args = append(args, "-version="+p.Version)
	}
	v.MustCLI(t, append(args, "secret", p.Name)...)
}

// Enable mounts p at mountPath, pinned to p.Version when it has one.
func (v *Process) Enable(t testing.TB, p *Plugin, mountPath string) {
	t.Helper()
	args := []string{"secrets", "enable", "-path=" + mountPath}
	if p.Version != "" {
		args = append(args, "-plugin-version="+p.Version)
	}
	v.MustCLI(t, append(args, p.Name)...)
}

// RegisterAndEnable registers p and mounts it at mountPath.
func (v *Process) RegisterAndEnable(t testing.TB, p *Plugin, mountPath string) {
	t.Helper()
	v.Register(t, p)
	v.Enable(t, p, mountPath)
}

// ReloadPlugin reloads every mount of the secrets plugin p on this node:
// `vault plugin reload -type=secret -plugin=<name>`, or on OpenBao, whose
// command has no -type flag, `bao plugin reload -plugin=<name>`.
func (v *Process) ReloadPlugin(t testing.TB, p *Plugin) {
	t.Helper()
	v.MustCLI(t, ReloadPluginArgs(v.Flavor, p.Name)...)
}

// ReloadPluginArgs is the CLI's plugin reload command (without the binary's
// name) for every mount of the secrets plugin name, as the flavor spells it.
func ReloadPluginArgs(f Flavor, name string) []string {
	if f == FlavorOpenBao {
		return []string{"plugin", "reload", "-plugin=" + name}
	}
	return []string{"plugin", "reload", "-type=secret", "-plugin=" + name}
}

// sameDir compares directories after resolving symlinks (/tmp may be one).
func sameDir(a, b string) bool {
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	if errA != nil || errB != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return ra == rb
}
