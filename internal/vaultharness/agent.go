package vaultharness

import (
	"path/filepath"
	"testing"
	"time"
)

// Agent is one running `vault agent` process.
type Agent struct {
	ConfigFile string
	LogPath    string // agent stdout+stderr

	proc *child
}

// StartAgent runs `vault agent -config=<configFile>` in the config file's
// directory (so its relative paths resolve there, as when an operator runs it
// from that folder) with VAULT_ADDR set to s.Addr plus env (KEY=VALUE). It
// does not wait for readiness, which depends on the config: use WaitForFile.
// The agent is stopped in t.Cleanup.
func StartAgent(t testing.TB, s *Server, configFile string, env []string) *Agent {
	t.Helper()
	bin := Require(t)
	a := &Agent{ConfigFile: configFile, LogPath: filepath.Join(t.TempDir(), "vault-agent.log")}
	fullEnv := append(append(baseEnv(), s.Flavor.addrEnv(s.Addr, "")...), env...)
	p, err := startChild(filepath.Dir(configFile), bin, []string{"agent", "-config=" + filepath.Base(configFile)}, fullEnv, a.LogPath)
	if err != nil {
		t.Fatalf("vault agent: %v", err)
	}
	a.proc = p
	t.Cleanup(a.Stop)
	return a
}

// Stop stops the agent: SIGTERM, a bounded wait, then SIGKILL.
func (a *Agent) Stop() { a.proc.stop(StopTimeout) }

// Exited reports whether the agent process has exited.
func (a *Agent) Exited() bool { return a.proc.exited() }

// Log returns the agent log so far.
func (a *Agent) Log() string { return ReadLog(a.LogPath) }

// WaitForFile waits until path exists and is not empty (a sink or a
// rendered template), failing the test after timeout or if the agent exited.
func (a *Agent) WaitForFile(t testing.TB, path string, timeout time.Duration) string {
	t.Helper()
	var content string
	err := waitUntil(timeout, "file "+path, func() (bool, error) {
		content = ReadLog(path)
		if content != "" {
			return true, nil
		}
		if err := a.proc.exitErr(); err != nil {
			return true, err
		}
		return false, nil
	})
	if err != nil {
		fatalAfterTails(t, tailOf(a.LogPath, 40), "vault agent: %v", err)
	}
	return content
}
