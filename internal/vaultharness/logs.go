package vaultharness

import (
	"os"
	"strings"
	"testing"
	"time"
)

// ReadLog returns the content of a log file, or "" if it cannot be read.
func ReadLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// logTail returns the last n lines of a log file, for failure messages.
func logTail(path string, n int) string {
	lines := strings.Split(strings.TrimRight(ReadLog(path), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitForLog waits until the log at path contains substr; it gives up early
// when p has exited, since nothing more will be written then.
func waitForLog(t testing.TB, p *process, path, substr string, timeout time.Duration) {
	t.Helper()
	err := waitUntil(timeout, "log line "+substr, func() (bool, error) {
		if strings.Contains(ReadLog(path), substr) {
			return true, nil
		}
		if p != nil && p.exited() && !strings.Contains(ReadLog(path), substr) {
			return true, errExited(p)
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("%s: %v\n--- %s (tail) ---\n%s", path, err, path, logTail(path, 40))
	}
}
