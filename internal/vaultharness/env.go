package vaultharness

import (
	"os"
	"strings"
)

// baseEnv is the test process environment minus every VAULT_* variable, so a
// developer's own VAULT_ADDR, VAULT_TOKEN or VAULT_NAMESPACE can never make a
// harness process talk to a real Vault.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VAULT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
