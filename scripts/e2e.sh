#!/usr/bin/env bash
# The end-to-end suite on each server, side by side: Vault (scripts/find-vault.sh:
# VAULT_BIN, a `vault` v1.21+ on PATH, or .bin/vault built once) and OpenBao
# (scripts/find-bao.sh: BAO_BIN, a `bao` v2.6+ on PATH, or .bin/bao unpacked
# from ../shared/bin). Each suite's output goes to .bin/e2e/<server>.log,
# printed when both have finished. Exits non-zero when either suite fails.
# E2E_SERVERS="vault" (or "openbao") runs one only; extra arguments go to
# `go test` (e.g. -run 'TestToken'). The few tests that mostly wait (Agent and
# Proxy over token lives, the background tick) are t.Parallel and run five at
# a time, after the others.
#
# Without any OpenBao (a user's clone has no ../shared), Vault's suite runs
# alone and the last line says that OpenBao was not run and how to run it.
# With CI=true or REQUIRE_OPENBAO=1 (or E2E_SERVERS=openbao: nothing else to
# run) that is a failure instead, found before Vault is built.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
servers="${E2E_SERVERS:-vault openbao}"
mkdir -p .bin/e2e
export RESAMANIA_E2E=required

# The whole suite runs Debian's prometheus package (the metrics and Agent
# tests): say so now, not after Vault's build.
if [ $# -eq 0 ]; then
  for tool in prometheus promtool; do
    command -v "$tool" >/dev/null || { echo "$tool is missing, and the end-to-end tests run it: apt-get install prometheus" >&2; exit 1; }
  done
fi

# OpenBao first: finding it is cheap, and where it is required and missing
# this fails before Vault's build.
openbao_required=0
if [ "${CI:-}" = true ] || [ "${REQUIRE_OPENBAO:-}" = 1 ] || [ "$(echo $servers)" = openbao ]; then openbao_required=1; fi
openbao_skipped=0
case " $servers " in *" openbao "*)
  rc=0
  BAO_BIN="$(bash scripts/find-bao.sh)" || rc=$?
  if [ "$rc" -eq 3 ] && [ "$openbao_required" = 0 ]; then
    servers="$(echo " $servers " | sed 's/ openbao / /; s/^ *//; s/ *$//')"
    openbao_skipped=1
  elif [ "$rc" -ne 0 ]; then
    [ "$rc" -ne 3 ] || echo "OpenBao is required here (CI=true, REQUIRE_OPENBAO=1, or E2E_SERVERS=openbao): set BAO_BIN=/path/to/bao (v2.6+), or put bao-2.6.2-linux-amd64.xz in ../shared/bin/" >&2
    exit 1
  else
    export BAO_BIN
  fi ;;
esac
case " $servers " in *" vault "*) VAULT_BIN="$(bash scripts/find-vault.sh)"; export VAULT_BIN ;; esac

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
[ ${#failed[@]} -eq 0 ] || echo "e2e failed on: ${failed[*]}" >&2
if [ "$openbao_skipped" = 1 ]; then
  echo "OpenBao was NOT run (no bao binary found): only Vault was tested. To run it too: BAO_BIN=/path/to/bao make test (OpenBao v2.6+), or put bao-2.6.2-linux-amd64.xz in ../shared/bin/ beside this clone."
fi
[ ${#failed[@]} -eq 0 ]
