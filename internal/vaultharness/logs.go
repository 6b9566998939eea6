package vaultharness

import (
	"fmt"
	"os"
	"strings"
	"testing"
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

// fileSize is the size of a file, or 0 if it cannot be read.
func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// fatalAfterTails fails the test with a message, the log tails, and the
// message again: a CI log cut to its last lines still shows why.
func fatalAfterTails(t testing.TB, tails string, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	t.Fatalf("%s%s\n%s", msg, tails, msg)
}

// tailOf is a log's last n lines under a header naming the file.
func tailOf(path string, n int) string {
	return fmt.Sprintf("\n--- %s (tail) ---\n%s", path, logTail(path, n))
}
