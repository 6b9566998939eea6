#!/usr/bin/env bash
# Builds the real `vault` binary from its Go module (tools/vault) into .bin/vault.
# Does nothing when the binary is already there and reports the pinned version.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${VAULT_BIN:-$root/.bin/vault}"
want="$(awk '$1 == "github.com/hashicorp/vault" {print $2; exit}' "$root/tools/vault/go.mod")"
if [ -x "$out" ] && "$out" version 2>/dev/null | grep -q "Vault ${want}"; then
  exit 0
fi
mkdir -p "$(dirname "$out")"
echo "building vault ${want} into ${out} (a cold build takes 10-15 minutes)" >&2
cd "$root/tools/vault"
# Vault's own build stamps the version through ldflags; mirror it so `vault version` is honest.
go build -trimpath -o "$out.tmp" \
  -ldflags "-X github.com/hashicorp/vault/version.Version=${want#v} -X github.com/hashicorp/vault/version.VersionPrerelease=" \
  github.com/hashicorp/vault
mv "$out.tmp" "$out"
"$out" version >&2
