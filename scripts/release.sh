#!/usr/bin/env bash
# Builds the plugin for every released platform with the version stamped in,
# a CycloneDX SBOM beside each binary, and SHA256SUMS of them all:
# dist/<version>/.
#   scripts/release.sh v1.2.3           build, when CHANGELOG.md has a
#                                       "## [1.2.3] - YYYY-MM-DD" entry
#   scripts/release.sh v1.2.3 --check   a dry run: build twice, in two
#                                       temporary folders, and fail unless
#                                       the sums match (reproducible); needs
#                                       no CHANGELOG entry, leaves no dist/
# Reproducible: the Go toolchain is RELEASE_GO (scripts/pins.env) whatever Go
# the machine has, -trimpath, no build id, no VCS stamp, no cgo, so two builds
# of one commit give the same bytes on any machine. The SBOMs come from the
# binaries themselves (cyclonedx-gomod bin: the modules and the Go version
# linked in, and the binary's hashes) with no serial number, no timestamp and
# no hash of the generating tool (which differs with the builder's platform).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:?usage: scripts/release.sh vX.Y.Z [--check]}"
[[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "version must look like v1.2.3" >&2; exit 2; }
plugin=vault-plugin-secrets-resamania
platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)
check="${2:-}"

# A release says what changed: refused before anything is built when
# CHANGELOG.md has no entry for this version. The dry run needs none.
[ "$check" = "--check" ] || bash "$root/scripts/changelog-has.sh" "$version"

source "$root/scripts/release-go.sh"
use_release_go
command -v jq >/dev/null || { echo "jq is needed to write the SBOMs (Debian: apt-get install jq)" >&2; exit 1; }
cyclonedx="$(pinned_tool "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$CYCLONEDX_GOMOD_VERSION")"

# build_into DIR: every platform's binary, its SBOM and their SHA256SUMS in DIR.
build_into() {
  local out="$1"
  rm -rf "$out" && mkdir -p "$out"
  for p in "${platforms[@]}"; do
    local os="${p%/*}" arch="${p#*/}"
    local bin="$out/${plugin}_${version}_${os}_${arch}"
    (cd "$root" && CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X main.version=$version" \
      -o "$bin" "./cmd/$plugin")
    # GOOS and GOARCH give the package URLs the binary's platform.
    GOOS="$os" GOARCH="$arch" "$cyclonedx" bin -json -std -noserial -notimestamp \
      -version "$version" -output "$bin.cdx.json.tmp" "$bin" 2>/dev/null
    jq 'del(.metadata.tools[]?.hashes)' "$bin.cdx.json.tmp" > "$bin.cdx.json"
    rm "$bin.cdx.json.tmp"
  done
  (cd "$out" && sha256sum "${plugin}_${version}"_* > SHA256SUMS)
}

echo "building $version with $(go env GOVERSION)" >&2
if [ "$check" != "--check" ]; then
  dist="$root/dist/$version"
  build_into "$dist"
else
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  dist="$tmp/first" again="$tmp/again"
  build_into "$dist"
  GOFLAGS="${GOFLAGS:-} -a" build_into "$again"   # -a: rebuild everything, nothing from the cache
  diff "$dist/SHA256SUMS" "$again/SHA256SUMS" || { echo "two builds of this commit differ: not reproducible" >&2; exit 1; }
  echo "reproducible: two builds give the same SHA256SUMS (binaries and SBOMs)"
fi
cat "$dist/SHA256SUMS"
