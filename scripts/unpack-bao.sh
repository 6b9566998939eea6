#!/usr/bin/env bash
# Unpacks the OpenBao server binary the end-to-end tests run into .bin/bao,
# and nowhere else (BAO_BIN is the user's, only ever read, by
# scripts/find-server.sh), after checking the sha256 of the .xz and of the
# binary it holds. Does nothing when .bin/bao already has the right sum.
# The .xz is $BAO_XZ, else ../shared/bin/ beside the repository;
# ../shared/bin/README.md says how it was built (OpenBao's source at tag
# v2.6.2, nothing changed on the plugin's side of the server). The binary is
# never committed (.bin/ is ignored).
# Exits 3 when there is no archive to unpack, so a caller can tell "no
# OpenBao here" from an archive that is there and wrong (exit 1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="2.6.2"
archive="bao-$version-linux-amd64.xz"
xz_sum="d376d886c7e218aaff05415bb74465cd54cb3a5a957a0bddd4e44ae194409fe1"
bin_sum="8cc068f0de607914aa172867c39506e4e36ab1b195bd32f858b5c573cef4ed34"
out="$root/.bin/bao"

. "$root/scripts/unpack-checked.sh"

src="${BAO_XZ:-$root/../shared/bin/$archive}"
rc=0
unpack_checked "$src" "$xz_sum" "$bin_sum" "$out" || rc=$?
if [ "$rc" = 3 ]; then
  if [ -n "${BAO_XZ:-}" ]; then
    echo "BAO_XZ=$BAO_XZ is not a file" >&2
    exit 1
  fi
  echo "no $archive in ../shared/bin/ beside this clone (BAO_XZ names it elsewhere)" >&2
  exit 3
fi
