#!/usr/bin/env bash
# find-server.sh vault|bao: prints the path of the server binary to run, and
# says on stderr which one it is and why. In order:
#   1. $VAULT_BIN or $BAO_BIN, as given: only read, never replaced, and a
#      warning when it is older than wanted;
#   2. `vault` or `bao` on PATH, when it is at least the wanted version;
#   3. .bin/vault, built from the Go module tools/vault/go.mod pins
#      (scripts/build-vault.sh), or .bin/bao, unpacked from ../shared/bin
#      after its sum is checked (scripts/unpack-bao.sh).
# The wanted version is the one the end-to-end tests prove: Vault's pin in
# tools/vault/go.mod, OpenBao v2.6.
# Exits 3 when there is no OpenBao at all (none given, none on PATH, no
# archive to unpack): scripts/e2e.sh then runs Vault's suite alone, and says so.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:?usage: find-server.sh vault|bao}"
case "$cmd" in
  vault)
    want="$(awk '$1 == "github.com/hashicorp/vault" {print $2; exit}' "$root/tools/vault/go.mod")"
    want="${want#v}"; product="Vault"; var=VAULT_BIN; install=build-vault.sh; how="built from its Go module (tools/vault)" ;;
  bao)
    want="2.6.0"; product="OpenBao"; var=BAO_BIN; install=unpack-bao.sh; how="unpacked from ../shared/bin (sha256 checked)" ;;
  *) echo "usage: find-server.sh vault|bao" >&2; exit 2 ;;
esac
given="${!var:-}"

# version_of prints 1.21.0 for a binary whose `vault version` says
# "Vault v1.21.0 (...)", 2.6.2 for "OpenBao v2.6.2 (...)".
version_of() { "$1" version 2>/dev/null | sed -n "s/^$product v\([0-9][0-9.]*\).*/\1/p" | head -n 1; }

# at_least: version $1 is $2 or later.
at_least() { [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }

if [ -n "$given" ]; then
  [ -x "$given" ] || { echo "$var=$given is not an executable file" >&2; exit 1; }
  have="$(version_of "$given")"
  echo "using $cmd ${have:-of unknown version} from $var=$given" >&2
  if [ -z "$have" ]; then
    echo "warning: $var=$given does not say it is $product (\`$given version\`); the tests prove $product v$want" >&2
  elif ! at_least "$have" "$want"; then
    echo "warning: $var=$given is $product v$have, older than v$want, the version the tests prove; it is used as given, never replaced" >&2
  fi
  echo "$given"
  exit 0
fi

if onpath="$(command -v "$cmd")"; then
  have="$(version_of "$onpath")"
  if at_least "$have" "$want"; then
    echo "using $cmd $have found on PATH at $onpath (v$want or later)" >&2
    echo "$onpath"
    exit 0
  fi
  echo "not using $cmd ${have:-of unknown version} on PATH at $onpath: older than v$want" >&2
fi

rc=0
bash "$root/scripts/$install" || rc=$?
if [ "$rc" -eq 3 ] && [ -x "$root/.bin/$cmd" ]; then
  # Nothing to unpack, but a binary put in .bin/ by hand: used as it is.
  have="$(version_of "$root/.bin/$cmd")"
  echo "using $cmd ${have:-of unknown version} at .bin/$cmd (its sum is not the archive's: put there by hand)" >&2
  at_least "$have" "$want" || echo "warning: .bin/$cmd is not $product v$want or later, the version the tests prove" >&2
  echo "$root/.bin/$cmd"
  exit 0
fi
if [ "$rc" -eq 3 ]; then
  echo "no $product found: $var is unset, no $cmd v$want or later is on PATH, nothing to unpack into .bin/$cmd" >&2
  exit 3
fi
[ "$rc" -eq 0 ] || exit "$rc"
echo "using $cmd at .bin/$cmd, $how" >&2
echo "$root/.bin/$cmd"
