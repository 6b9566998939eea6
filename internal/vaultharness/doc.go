// Package vaultharness runs real Vault processes (a server, a raft cluster,
// an agent) on loopback for end-to-end tests of the Resamania secrets plugin.
//
// It drives the real `vault` binary built by scripts/build-vault.sh (or
// $VAULT_BIN) instead of linking github.com/hashicorp/vault, so the plugin's
// go.mod stays free of Vault's huge dependency tree and tests exercise the
// same CLI and plugin protocol an operator would.
//
// Every process listens on 127.0.0.1 only, every wait is bounded, and every
// process is stopped from t.Cleanup, also when a test fails.
package vaultharness
