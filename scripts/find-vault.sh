#!/usr/bin/env bash
# Prints the path of the `vault` binary the demo runs, and says on stderr
# which one it is and why. In order:
#   1. $VAULT_BIN, as given (a warning when older than the pinned version);
#   2. `vault` on PATH, when it is at least the version tools/vault/go.mod pins,
#      the one the end-to-end tests prove;
#   3. .bin/vault, built from that Go module when missing (scripts/build-vault.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
want="$(awk '$1 == "github.com/hashicorp/vault" {print $2; exit}' "$root/tools/vault/go.mod")"
want="${want#v}"

# version_of prints 1.21.0 for a binary whose `vault version` says "Vault v1.21.0 (...)".
version_of() { "$1" version 2>/dev/null | sed -n 's/^Vault v\([0-9][0-9.]*\).*/\1/p' | head -n 1; }

# at_least: version $1 is $2 or later.
at_least() { [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }

if [ -n "${VAULT_BIN:-}" ]; then
  [ -x "$VAULT_BIN" ] || { echo "VAULT_BIN=$VAULT_BIN is not an executable file" >&2; exit 1; }
  have="$(version_of "$VAULT_BIN")"
  echo "using vault ${have:-of unknown version} from VAULT_BIN=$VAULT_BIN" >&2
  at_least "$have" "$want" || echo "warning: it is older than v$want, the version the tests prove" >&2
  echo "$VAULT_BIN"
  exit 0
fi

if onpath="$(command -v vault)"; then
  have="$(version_of "$onpath")"
  if at_least "$have" "$want"; then
    echo "using vault $have found on PATH at $onpath (v$want or later)" >&2
    echo "$onpath"
    exit 0
  fi
  echo "not using vault ${have:-of unknown version} on PATH at $onpath: older than v$want" >&2
fi

VAULT_BIN="$root/.bin/vault" bash "$root/scripts/build-vault.sh"
echo "using vault $want at .bin/vault, built from its Go module (tools/vault)" >&2
echo "$root/.bin/vault"
