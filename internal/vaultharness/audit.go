package vaultharness

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
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

// auditEverywhereTimeout bounds the wait for every node of a cluster to
// audit with a new device.
const auditEverywhereTimeout = 15 * time.Second

// EnableFileAudit enables a file audit device through node i, as
// Process.EnableFileAudit, and waits until every running node audits a
// request with it. An OpenBao standby that answers requests itself refuses
// them ("no audit backend succeeded in logging the request": it cannot
// store the device's salt) until the salt the active node stores with its
// first audited request has reached it.
func (c *Cluster) EnableFileAudit(t testing.TB, i int) string {
	t.Helper()
	path := c.Nodes[i].Process.EnableFileAudit(t)
	order := []*Node{c.Nodes[c.Active(t)]} // the active node first: it stores the salt
	order = append(order, c.Nodes...)
	deadline := time.Now().Add(auditEverywhereTimeout)
	for _, n := range order {
		if !n.Process.Running() {
			continue
		}
		for {
			_, err := n.Process.Client.Sys().ListMounts()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not audit a request %s after the audit device was enabled: %v", n.NodeID, auditEverywhereTimeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return path
}
