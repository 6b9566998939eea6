#!/usr/bin/env bash
# Prints the path of the `bao` (OpenBao) binary to run, and says on stderr
# which one it is and why. In order:
#   1. $BAO_BIN, as given (a warning when older than v2.6);
#   2. `bao` on PATH, when it is v2.6 or later;
#   3. .bin/bao, unpacked from ../shared/bin after its sum is checked
#      (scripts/unpack-bao.sh).
# scripts/find-vault.sh does the same for Vault.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
want="2.6.0"

# version_of prints 2.6.2 for a binary whose `bao version` says "OpenBao v2.6.2 (...)".
version_of() { "$1" version 2>/dev/null | sed -n 's/^OpenBao v\([0-9][0-9.]*\).*/\1/p' | head -n 1; }

# at_least: version $1 is $2 or later.
at_least() { [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }

if [ -n "${BAO_BIN:-}" ]; then
  [ -x "$BAO_BIN" ] || { echo "BAO_BIN=$BAO_BIN is not an executable file" >&2; exit 1; }
  have="$(version_of "$BAO_BIN")"
  echo "using bao ${have:-of unknown version} from BAO_BIN=$BAO_BIN" >&2
  at_least "$have" "$want" || echo "warning: it is older than v$want, the version the tests prove" >&2
  echo "$BAO_BIN"
  exit 0
fi

if onpath="$(command -v bao)"; then
  have="$(version_of "$onpath")"
  if at_least "$have" "$want"; then
    echo "using bao $have found on PATH at $onpath (v$want or later)" >&2
    echo "$onpath"
    exit 0
  fi
  echo "not using bao ${have:-of unknown version} on PATH at $onpath: older than v$want" >&2
fi

BAO_BIN="$root/.bin/bao" bash "$root/scripts/unpack-bao.sh"
echo "using bao at .bin/bao, unpacked from ../shared/bin (sha256 checked)" >&2
echo "$root/.bin/bao"
