package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux the benchmark runs on (Go cannot ask sysconf without cgo).
const clockTicks = 100

// processesOf lists the live processes whose executable is binary.
func processesOf(binary string) []int {
	want, _ := filepath.EvalSymlinks(binary)
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == want && vaultharness.ProcessAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// rssMB is the process's resident set (VmRSS of /proc/<pid>/status), in MB
// (10^6 bytes, as the targets count).
func rssMB(pid int) (float64, error) {
	kb, err := vaultharness.ProcStatusField(pid, "VmRSS")
	return float64(kb) * 1024 / 1e6, err
}

// cpuTime is the CPU time the process has used, user and system, all its
// threads (utime+stime of /proc/<pid>/stat; a resolution of 10 ms).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ppid ...": fields count from after the last ')';
	// utime and stime are fields 14 and 15 of the whole line.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
