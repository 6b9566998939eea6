package vaultharness

import (
	"os"
	"strings"
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
