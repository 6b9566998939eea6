package vaultharness

import (
	"os"
	"strings"
)

// baseEnv is the test process environment minus every VAULT_* and BAO_*
// variable, so a developer's own VAULT_ADDR, BAO_TOKEN or VAULT_NAMESPACE can
// never make a harness process talk to a real Vault or OpenBao.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VAULT_") || strings.HasPrefix(kv, "BAO_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
