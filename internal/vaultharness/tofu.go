package vaultharness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TofuTimeout bounds one tofu command (init, apply, plan, destroy).
const TofuTimeout = 2 * time.Minute

// Tofu runs OpenTofu, unpacked by scripts/unpack-tofu.sh, in one working
// directory against one server, with no network: the hashicorp/vault
// provider comes from the filesystem mirror in .bin/ (the CLI config the
// script writes), and any request that would leave the machine goes to a
// proxy that is not there.
type Tofu struct {
	Dir string // the configuration's directory, where the state is kept

	bin string
	env []string

	mu  sync.Mutex
	out bytes.Buffer // everything every command printed; guarded by mu
}

// tofuMissing is scripts/unpack-tofu.sh's exit code when ../shared/bin is
// not beside the repository (a user's clone).
const tofuMissing = 3

// RequireTofu unpacks tofu and the provider when needed, and returns tofu's
// path and the CLI config that installs the provider offline. Without
// ../shared/bin the test is skipped with a line no one can miss, or fails
// when CI=true: CI must never pass by skipping.
func RequireTofu(t testing.TB) (bin, cliConfig string) {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("tofu: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "unpack-tofu.sh"))
	cmd.Dir = root
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == tofuMissing && os.Getenv("CI") != "true":
		t.Skipf("\n%s\n%s\nSKIPPED, NOT PASSED: no OpenTofu here: scripts/unpack-tofu.sh takes it from ../shared/bin, which this clone has not (under CI=true this fails)",
			strings.Repeat("#", 72), strings.TrimSpace(string(out)))
	case err != nil:
		t.Fatalf("scripts/unpack-tofu.sh: %v\n%s", err, out)
	}
	return filepath.Join(root, ".bin", "tofu"), filepath.Join(root, ".bin", "tofu-offline.tfrc")
}

// NewTofu prepares tofu to run in dir against v, as its root token, with
// extraEnv (KEY=VALUE: TF_VAR_... for variables) added. The environment is
// the test's without any VAULT_*, BAO_* or TF_* variable of the developer's.
func NewTofu(t testing.TB, v *Process, dir string, extraEnv ...string) *Tofu {
	t.Helper()
	bin, cliConfig := RequireTofu(t)
	var env []string
	for _, kv := range baseEnv() {
		if !strings.HasPrefix(kv, "TF_") && !strings.HasPrefix(strings.ToUpper(kv), "HTTP_PROXY=") &&
			!strings.HasPrefix(strings.ToUpper(kv), "HTTPS_PROXY=") && !strings.HasPrefix(strings.ToUpper(kv), "NO_PROXY=") {
			env = append(env, kv)
		}
	}
	// Loopback is never proxied (Go's rule, which tofu and the provider
	// follow): the server answers, and anything else fails at once.
	noNetwork := "http://127.0.0.1:9"
	env = append(env, "HTTP_PROXY="+noNetwork, "HTTPS_PROXY="+noNetwork, "http_proxy="+noNetwork, "https_proxy="+noNetwork,
		"TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1", "HOME="+t.TempDir())
	env = append(env, v.Flavor.addrEnv(v.Addr, v.RootToken)...)
	return &Tofu{Dir: dir, bin: bin, env: append(env, extraEnv...)}
}

// Run runs one tofu command in Dir, with -no-color, and returns what it
// printed (stdout and stderr together) and its exit code.
func (tf *Tofu) Run(t testing.TB, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), TofuTimeout)
	defer cancel()
	args = append(args[:1:1], append([]string{"-no-color"}, args[1:]...)...)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, tf.bin, args...)
	cmd.Dir = tf.Dir
	cmd.Env = tf.env
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	tf.mu.Lock()
	fmt.Fprintf(&tf.out, "$ tofu %s\n%s\n", strings.Join(args, " "), out.String())
	tf.mu.Unlock()
	var exit *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		t.Fatalf("tofu %s: timed out after %s\n%s", strings.Join(args, " "), TofuTimeout, out.String())
	case errors.As(err, &exit):
	case err != nil:
		t.Fatalf("tofu %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("tofu %s: exit %d in %s", args[0], cmd.ProcessState.ExitCode(), time.Since(start).Round(time.Millisecond))
	return out.String(), cmd.ProcessState.ExitCode()
}

// Must is Run that fails the test, showing the output, unless tofu exits 0.
func (tf *Tofu) Must(t testing.TB, args ...string) string {
	t.Helper()
	out, code := tf.Run(t, args...)
	if code != 0 {
		t.Fatalf("tofu %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// Output is everything every command printed so far, for a secret scan.
func (tf *Tofu) Output() string {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	return tf.out.String()
}

// SetEnv replaces (or adds) one variable of the commands' environment,
// such as TF_VAR_chain_secrets for an apply with another secret.
func (tf *Tofu) SetEnv(key, value string) {
	env := tf.env[:0:0]
	for _, kv := range tf.env {
		if !strings.HasPrefix(kv, key+"=") {
			env = append(env, kv)
		}
	}
	tf.env = append(env, key+"="+value)
}
