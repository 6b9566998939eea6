#!/usr/bin/env bash
# Unpacks the OpenBao server binary the end-to-end tests run into .bin/bao
# (or $BAO_BIN's path), after checking the sha256 of the .xz and of the
# binary it holds. Does nothing when a binary with the right sum is already
# there. The .xz comes from ../shared/bin/ beside the repository, or
# $BAO_XZ; ../shared/bin/README.md says how it was built (OpenBao's source at
# tag v2.6.2, nothing changed on the plugin's side of the server).
# The binary is never committed (.bin/ is ignored).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="2.6.2"
xz_sum="d376d886c7e218aaff05415bb74465cd54cb3a5a957a0bddd4e44ae194409fe1"
bin_sum="8cc068f0de607914aa172867c39506e4e36ab1b195bd32f858b5c573cef4ed34"
out="${BAO_BIN:-$root/.bin/bao}"

sum_of() { sha256sum "$1" | awk '{print $1}'; }

if [ -x "$out" ] && [ "$(sum_of "$out")" = "$bin_sum" ]; then
  exit 0
fi

src="${BAO_XZ:-}"
if [ -z "$src" ]; then
  for cand in "$root/../shared/bin" /work/shared/bin; do
    if [ -f "$cand/bao-$version-linux-amd64.xz" ]; then src="$cand/bao-$version-linux-amd64.xz"; break; fi
  done
fi
[ -n "$src" ] && [ -f "$src" ] || { echo "bao-$version-linux-amd64.xz not found in ../shared/bin/ (set BAO_XZ to its path)" >&2; exit 1; }
command -v xz >/dev/null || { echo "xz is missing: apt-get install xz-utils" >&2; exit 1; }

have="$(sum_of "$src")"
[ "$have" = "$xz_sum" ] || { echo "$src: sha256 $have, want $xz_sum: refusing it" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
xz -dc "$src" > "$out.tmp"
have="$(sum_of "$out.tmp")"
if [ "$have" != "$bin_sum" ]; then
  rm -f "$out.tmp"
  echo "unpacked bao: sha256 $have, want $bin_sum: refusing it" >&2
  exit 1
fi
chmod +x "$out.tmp"
mv "$out.tmp" "$out"
echo "unpacked OpenBao v$version into $out (sha256 checked)" >&2
"$out" version >&2
