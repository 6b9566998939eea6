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
func (s *Server) EnableFileAudit(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	s.mu.Lock()
	s.audits++
	mount := "file"
	if s.audits > 1 {
		mount = fmt.Sprintf("file-%d", s.audits)
	}
	s.mu.Unlock()
	s.MustCLI(t, "audit", "enable", "-path="+mount, "file", "file_path="+path)
	return path
}
