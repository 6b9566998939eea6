#!/usr/bin/env bash
# Prints the path of the `vault` binary to run (the demo, the end-to-end
# tests, the soak, the benchmark), and says on stderr which one it is and
# why: $VAULT_BIN, as given; else `vault` on PATH when it is at least the
# version tools/vault/go.mod pins, the one the end-to-end tests prove; else
# .bin/vault, built from that module when missing (scripts/find-server.sh
# says how).
exec bash "$(dirname "$0")/find-server.sh" vault
