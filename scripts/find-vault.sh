#!/usr/bin/env bash
# Prints the path of the `vault` binary the demo runs, and says on stderr
# which one it is and why: $VAULT_BIN; else `vault` on PATH when it is at
# least the version tools/vault/go.mod pins, the one the end-to-end tests
# prove; else .bin/vault, built from that module when missing
# (scripts/find-server.sh says how).
exec bash "$(dirname "$0")/find-server.sh" vault
