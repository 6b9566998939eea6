#!/usr/bin/env bash
# make script-check (make test runs it, before anything slow): every script
# parses, none holds a path of one machine (a clone lives anywhere, with or
# without ../shared beside it), VAULT_BIN and BAO_BIN are never written over
# (scripts/server-binaries-test.sh), and a release needs its CHANGELOG entry
# (scripts/release-gate-test.sh). About ten seconds, most of it unpacking
# OpenBao when ../shared is there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

for f in scripts/*.sh .ci/run; do
  bash -n "$f" || { echo "script-check: $f does not parse" >&2; exit 1; }
done

# The pattern is split so this file does not match itself.
machine='/(wo''rk|ho''me|ro''ot|Us''ers)(/|\b)'
if grep -nE "$machine" scripts/* .ci/* Makefile; then
  echo "script-check: a path of one machine (above); use a path relative to the repository" >&2
  exit 1
fi

bash scripts/server-binaries-test.sh
bash scripts/release-gate-test.sh
echo "script-check: ok"
