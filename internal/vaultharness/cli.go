package vaultharness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runVault runs one vault CLI command with a hard timeout.
func runVault(bin string, env []string, timeout time.Duration, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second // don't hang on pipes held by a killed command
	err := cmd.Run()
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("vault %s: timed out after %s: %w", strings.Join(args, " "), timeout, err)
	}
	return stdout.String(), stderr.String(), err
}

// cliEnv points the CLI at this server with the root token.
func (v *Process) cliEnv() []string {
	return append(baseEnv(), v.Flavor.addrEnv(v.Addr, v.RootToken)...)
}

// CLI runs the real vault (or bao) binary against this server (VAULT_ADDR and
// VAULT_TOKEN set to the root token), bounded by CLITimeout.
func (v *Process) CLI(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	stdout, stderr, err = runVault(v.bin, v.cliEnv(), CLITimeout, args...)
	v.mu.Lock()
	v.cliStderr.WriteString(stderr)
	v.mu.Unlock()
	return stdout, stderr, err
}

// CLIStderr is everything the CLI printed to stderr (its errors and
// warnings) against this server so far, for tests that scan it for secrets.
func (v *Process) CLIStderr() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cliStderr.String()
}

// MustCLI is CLI that fails the test, showing stderr, when the command fails.
func (v *Process) MustCLI(t testing.TB, args ...string) string {
	t.Helper()
	stdout, stderr, err := v.CLI(t, args...)
	if err != nil {
		t.Fatalf("vault %s: %v\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), err, stderr, stdout)
	}
	return stdout
}

// ReadJSON runs `vault read -format=json path args...` (args are key=value
// request data) and returns the whole parsed response: the secret's fields
// are under "data" (and under "data"."data" for kv-v2).
func (v *Process) ReadJSON(t testing.TB, path string, args ...string) map[string]any {
	t.Helper()
	out := v.MustCLI(t, append([]string{"read", "-format=json", path}, args...)...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("vault read %s: output is not JSON: %v\n%s", path, err, out)
	}
	return m
}
