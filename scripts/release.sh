#!/usr/bin/env bash
# Builds the plugin for every released platform with the version stamped in,
# and writes SHA256SUMS beside the binaries: dist/<version>/.
#   scripts/release.sh v1.2.3           build
#   scripts/release.sh v1.2.3 --check   build twice, in two folders, and fail
#                                       unless the sums match (reproducible)
# Reproducible: -trimpath, no build id, no VCS stamp, no cgo, so two builds of
# one commit with one Go toolchain give the same bytes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:?usage: scripts/release.sh vX.Y.Z [--check]}"
[[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "version must look like v1.2.3" >&2; exit 2; }
plugin=vault-plugin-secrets-resamania
platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)

# build_into DIR: every platform's binary and their SHA256SUMS in DIR.
build_into() {
  local out="$1"
  rm -rf "$out" && mkdir -p "$out"
  for p in "${platforms[@]}"; do
    local os="${p%/*}" arch="${p#*/}"
    (cd "$root" && CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X main.version=$version" \
      -o "$out/${plugin}_${version}_${os}_${arch}" "./cmd/$plugin")
  done
  (cd "$out" && sha256sum "${plugin}_${version}"_* > SHA256SUMS)
}

dist="$root/dist/$version"
build_into "$dist"
if [ "${2:-}" = "--check" ]; then
  again="$(mktemp -d)"
  trap 'rm -rf "$again"' EXIT
  GOFLAGS="${GOFLAGS:-} -a" build_into "$again"   # -a: rebuild everything, nothing from the cache
  diff "$dist/SHA256SUMS" "$again/SHA256SUMS" || { echo "two builds of this commit differ: not reproducible" >&2; exit 1; }
  echo "reproducible: two builds give the same SHA256SUMS"
fi
cat "$dist/SHA256SUMS"
