#!/usr/bin/env bash
# Builds the real `vault` binary from its Go module (tools/vault) into
# .bin/vault, and nowhere else: VAULT_BIN is the user's, only ever read (by
# scripts/find-server.sh). Does nothing when .bin/vault already reports the
# version tools/vault/go.mod pins.
#
# Every target that needs Vault builds it here, with one toolchain and one set
# of flags whoever calls (make exports GOTOOLCHAIN=$RELEASE_GO for the plugin's
# own builds), so the Go build cache of the first build serves every later one:
# a second clone on the same machine only links. The toolchain is the machine's
# Go, or the one tools/vault/go.mod asks for when the machine's is older
# (GOTOOLCHAIN=auto): Vault is a test fixture, not what ships.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.bin/vault"
want="$(awk '$1 == "github.com/hashicorp/vault" {print $2; exit}' "$root/tools/vault/go.mod")"
if [ -x "$out" ] && "$out" version 2>/dev/null | grep -qE "^Vault ${want//./\\.}([^0-9.]|\$)"; then
  exit 0
fi
mkdir -p "$(dirname "$out")"
echo "building vault ${want} into .bin/vault (10-20 minutes the first time on a machine; then it only links)" >&2
cd "$root/tools/vault"
export GOTOOLCHAIN=auto GOFLAGS=-buildvcs=false
# Vault's own build stamps the version through ldflags; mirror it so `vault version` is honest.
go build -trimpath -o "$out.tmp" \
  -ldflags "-X github.com/hashicorp/vault/version.Version=${want#v} -X github.com/hashicorp/vault/version.VersionPrerelease=" \
  github.com/hashicorp/vault
mv "$out.tmp" "$out"
"$out" version >&2
