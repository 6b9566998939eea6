package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// soakEnv sets how long TestSoak runs (a Go duration: "10m", "60s"). `make
// soak` sets it; unset, the soak is not run, since `make test` has no room
// for it.
const soakEnv = "RESAMANIA_SOAK"

// TestSoak runs the plugin on a real Vault under a steady mix of readers for
// the soak's duration, with the gateway's limits reached now and then, a
// fault burst every minute and a plugin reload every 30 seconds, then proves
// nothing was lost: see soakReport.check for what fails it.
func TestSoak(t *testing.T) {
	raw := os.Getenv(soakEnv)
	if raw == "" {
		t.Skipf("set %s to a duration (make soak) to run the soak", soakEnv)
	}
	length, err := time.ParseDuration(raw)
	if err != nil || length < 30*time.Second {
		t.Fatalf("%s=%q: want a duration of at least 30s", soakEnv, raw)
	}
	vaultharness.Require(t)

	sk := newSoak(t)
	sk.warmUp(t)
	start := sk.snapshot(t)
	t.Logf("soak: %d chains, %d credentials, for %s", len(sk.chains), len(sk.creds), length)

	sk.run(t, length)
	after := sk.settle(t)
	end := sk.snapshot(t)

	report := sk.report(start, end, after)
	t.Log("\n" + report.String())
	for _, failure := range report.check(length) {
		t.Error(failure)
	}
}
