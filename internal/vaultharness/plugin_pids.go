package vaultharness

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pluginStartedRe matches go-plugin's debug line when Vault starts a plugin
// process: "... plugin started: path=/x/vault-plugin-... pid=12345".
var pluginStartedRe = regexp.MustCompile(`plugin started: path=.* pid=(\d+)`)

// PluginPIDs lists the pids of every plugin process this server started, in
// order, over all its starts (it reads the log, so the log level must be
// debug or trace).
func (v *Process) PluginPIDs() []int {
	var pids []int
	for _, m := range pluginStartedRe.FindAllStringSubmatch(v.Log(), -1) {
		if pid, err := strconv.Atoi(m[1]); err == nil && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// PluginPIDOwners maps the pid of every plugin process any node started to
// that node's index.
func (c *Cluster) PluginPIDOwners() map[int]int {
	owners := map[int]int{}
	for _, n := range c.Nodes {
		for _, pid := range n.Process.PluginPIDs() {
			owners[pid] = n.Index
		}
	}
	return owners
}

// ProcessAlive reports whether pid is a live process (not a zombie), from
// /proc/<pid>/stat.
func ProcessAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// ProcessGoneWithin polls until pid is gone or timeout passes, and reports
// whether it went: a SIGKILL is delivered, and the orphan reaped, a moment
// after kill(2) returns, longer on a busy machine.
func ProcessGoneWithin(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for ProcessAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// ProcStatusField reads a number from /proc/<pid>/status, such as VmRSS (in
// kB) or Threads.
func ProcStatusField(pid int, name string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			n, err := strconv.Atoi(fields[0])
			if err != nil {
				return 0, fmt.Errorf("%s of %d: %w", name, pid, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}
