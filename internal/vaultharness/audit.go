package vaultharness

import (
	"fmt"
	"path/filepath"
	"testing"
)

// EnableFileAudit enables a file audit device writing to a new file in
// t.TempDir() and returns that file's path, so tests can check what Vault
// records (e.g. that no secret appears in clear). Each call adds a device at
// a new mount path (file/, file-2/, ...).
func (v *Process) EnableFileAudit(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	v.mu.Lock()
	v.audits++
	mount := "file"
	if v.audits > 1 {
		mount = fmt.Sprintf("file-%d", v.audits)
	}
	v.mu.Unlock()
	v.MustCLI(t, "audit", "enable", "-path="+mount, "file", "file_path="+path)
	return path
}
