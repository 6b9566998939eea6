#!/usr/bin/env bash
# Unpacks OpenTofu v1.12.6 and the hashicorp/vault provider v5.11.0 from
# ../shared/bin/ beside the repository (or $SHARED_BIN) into .bin/, after
# checking the sha256 of each .xz and of each binary it holds, for
# e2e/terraform_test.go and for running examples/terraform by hand with no
# registry in reach:
#   .bin/tofu
#   .bin/tofu-providers/<host>/hashicorp/vault/5.11.0/linux_amd64/terraform-provider-vault_v5.11.0
#     (a filesystem mirror, for registry.opentofu.org and registry.terraform.io)
#   .bin/tofu-offline.tfrc, a CLI config that installs the provider from that
#     mirror only: TF_CLI_CONFIG_FILE=.bin/tofu-offline.tfrc
# ../shared/bin/README.md says how both were built. Nothing here is committed
# (.bin/ is ignored). Does nothing to a binary already there with the right sum.
# Exits 3, saying so, when the archives are not there (a clone without
# ../shared): the test skips then, or fails under CI=true.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SHARED_BIN:-$root/../shared/bin}"
bin="$root/.bin"
tofu_version="1.12.6"
provider_version="5.11.0"
tofu_xz_sum="92485dd45a6ac62540bdc9bf8b7568b25b7c95ccfee94f33a18323d282a8ff0b"
tofu_bin_sum="6b15238d25559a9d0e75b648c776c2acb7b1ff8c5c990eb37fcb6a82ad84b37f"
provider_xz_sum="5d75d3b60d0a6576e8200dc66568b48f474d4c43214c929f4a93e3ea317ae14a"
provider_bin_sum="f580fef240ce69d0980063178f0052b98798c8711589634ad0084cbbd3809260"
provider_file="terraform-provider-vault_v$provider_version"
mirror="$bin/tofu-providers"

. "$root/scripts/unpack-checked.sh"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "unpack-tofu: the binaries in ../shared/bin are linux/amd64 only, and this is $(uname -s)-$(uname -m)" >&2
  exit 3
fi

# unpack XZ SUM_XZ SUM_BIN OUT: unpack_checked, or exit 3 saying where the
# archive was looked for.
unpack() {
  local rc=0
  unpack_checked "$@" || rc=$?
  if [ "$rc" = 3 ]; then
    echo "unpack-tofu: $(basename "$1") not found in $shared (set SHARED_BIN to the folder that holds it)" >&2
    exit 3
  fi
}

unpack "$shared/tofu-$tofu_version-linux-amd64.xz" "$tofu_xz_sum" "$tofu_bin_sum" "$bin/tofu"
# tofu looks for hashicorp/vault under registry.opentofu.org, terraform under
# registry.terraform.io: one unpacked binary serves both.
for host in registry.opentofu.org registry.terraform.io; do
  unpack "$shared/terraform-provider-vault-$provider_version-linux-amd64.xz" "$provider_xz_sum" "$provider_bin_sum" \
    "$mirror/$host/hashicorp/vault/$provider_version/linux_amd64/$provider_file"
done

tfrc="$bin/tofu-offline.tfrc"
tmp="$(mktemp "$tfrc.XXXXXX")"
cat > "$tmp" <<EOF
# Written by scripts/unpack-tofu.sh: hashicorp/vault from the local mirror,
# and no registry for anything else.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.opentofu.org/hashicorp/vault", "registry.terraform.io/hashicorp/vault"]
  }
}
EOF
mv -f "$tmp" "$tfrc"
