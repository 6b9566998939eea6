package vaultharness

import (
	"fmt"
	"os"
	"testing"
)

// Flavor is which server the harness runs: HashiCorp Vault or OpenBao, its
// open-source fork. Both speak the same HTTP API, plugin protocol and CLI
// (`vault` or `bao`), so a test written once runs on each.
type Flavor string

const (
	// FlavorVault is HashiCorp Vault: $VAULT_BIN or .bin/vault.
	FlavorVault Flavor = "vault"
	// FlavorOpenBao is OpenBao: $BAO_BIN or .bin/bao.
	FlavorOpenBao Flavor = "openbao"
)

// ServerEnv chooses the flavor: "vault" (the default) or "openbao".
const ServerEnv = "RESAMANIA_SERVER"

// Selected is the flavor ServerEnv names; unset is FlavorVault.
func Selected() (Flavor, error) {
	switch v := os.Getenv(ServerEnv); v {
	case "", string(FlavorVault):
		return FlavorVault, nil
	case string(FlavorOpenBao):
		return FlavorOpenBao, nil
	default:
		return "", fmt.Errorf("%s=%q: want %q or %q", ServerEnv, v, FlavorVault, FlavorOpenBao)
	}
}

// SelectedFlavor is Selected that fails the test on a bad setting.
func SelectedFlavor(t testing.TB) Flavor {
	t.Helper()
	f, err := Selected()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return f
}

// Command is the flavor's CLI name, as an operator types it: vault or bao.
func (f Flavor) Command() string {
	if f == FlavorOpenBao {
		return "bao"
	}
	return "vault"
}

// binEnv names the variable that points at the flavor's binary.
func (f Flavor) binEnv() string {
	if f == FlavorOpenBao {
		return "BAO_BIN"
	}
	return "VAULT_BIN"
}

// installHint says how to get the flavor's binary into .bin/.
func (f Flavor) installHint() string {
	if f == FlavorOpenBao {
		return "run scripts/unpack-bao.sh"
	}
	return "run scripts/build-vault.sh"
}

// addrEnv is what points a CLI, agent or proxy of the flavor at addr (and
// authenticates it with token, when there is one). OpenBao's CLI reads
// BAO_* and falls back to VAULT_*; both are set so neither is left to a
// developer's environment.
func (f Flavor) addrEnv(addr, token string) []string {
	env := []string{"VAULT_ADDR=" + addr}
	if token != "" {
		env = append(env, "VAULT_TOKEN="+token)
	}
	if f == FlavorOpenBao {
		env = append(env, "BAO_ADDR="+addr)
		if token != "" {
			env = append(env, "BAO_TOKEN="+token)
		}
	}
	return env
}

// OnlyOn skips the test unless the selected flavor is f, saying why: a test
// that needs something only one server has. It is the exception: most tests
// run on both.
func OnlyOn(t testing.TB, f Flavor, why string) {
	t.Helper()
	if got := SelectedFlavor(t); got != f {
		t.Skipf("runs on %s only (this run is on %s): %s", f, got, why)
	}
}
