#!/usr/bin/env bash
# The end-to-end suite on each server: Vault (.bin/vault, or VAULT_BIN) and
# OpenBao (BAO_BIN, a `bao` v2.6+ on PATH, or .bin/bao), side by side, each
# with its own output in .bin/e2e/<server>.log, printed when both have
# finished. Exits non-zero when either suite fails. E2E_SERVERS="vault" (or
# "openbao") runs one only; extra arguments go to `go test` (e.g. -run
# 'TestToken'). The few tests that mostly wait (Agent and Proxy over token
# lives, the background tick) are t.Parallel and run five at a time, after
# the others.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
servers="${E2E_SERVERS:-vault openbao}"
mkdir -p .bin/e2e
export RESAMANIA_E2E=required
export VAULT_BIN="${VAULT_BIN:-$root/.bin/vault}"
# OpenBao: BAO_BIN, else a `bao` v2.6+ on PATH, else .bin/bao (scripts/find-bao.sh).
case " $servers " in *" openbao "*) BAO_BIN="$(bash scripts/find-bao.sh)"; export BAO_BIN ;; esac
# Built once, before both suites compile it at the same time.
go test -count=1 -run '^$' ./e2e/ >/dev/null

declare -A pid start
for s in $servers; do
  start[$s]=$(date +%s)
  (
    rc=0
    RESAMANIA_SERVER="$s" go test -count=1 -timeout 40m -parallel 5 -v "$@" ./e2e/... > ".bin/e2e/$s.log" 2>&1 || rc=$?
    echo "$(( $(date +%s) - start[$s] ))" > ".bin/e2e/$s.seconds"
    exit $rc
  ) &
  pid[$s]=$!
done
failed=()
for s in $servers; do
  if ! wait "${pid[$s]}"; then failed+=("$s"); fi
done
for s in $servers; do
  echo "=== e2e on $s took $(cat ".bin/e2e/$s.seconds")s, log .bin/e2e/$s.log"
done
for s in $servers; do
  echo "################ e2e on $s ################"
  cat ".bin/e2e/$s.log"
  printf 'e2e on %s: %s passed, %s failed, %s skipped\n' "$s" \
    "$(grep -c '^--- PASS' ".bin/e2e/$s.log" || true)" \
    "$(grep -c '^--- FAIL' ".bin/e2e/$s.log" || true)" \
    "$(grep -c '^--- SKIP' ".bin/e2e/$s.log" || true)"
  grep -B1 "^--- SKIP" ".bin/e2e/$s.log" | grep -v "^--" | sed "s/^/  skip: /" || true
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "e2e failed on: ${failed[*]}" >&2
  exit 1
fi
