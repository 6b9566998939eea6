#!/usr/bin/env bash
# Unpacks what the Kubernetes end-to-end test (e2e/kubernetes_test.go) runs
# into .bin/k8s/: etcd 3.7.4, kube-apiserver 1.37.2, the Vault Secrets
# Operator's manager 1.4.1, and VSO's CRDs. Each .xz, each binary and each
# CRD is checked against the sha256 written here before it is used; a file
# already in place with the right sum is left as it is. They come from
# ../shared beside the repository (or $K8S_SHARED): ../shared/bin/README.md
# says how each was built. Nothing here is ever committed (.bin/ is ignored).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${K8S_SHARED:-$root/../shared}"
out="$root/.bin/k8s"
crds_version="vso-1.4.1-crds"

# name  .xz file  sha256 of the .xz  sha256 of the binary
binaries=(
  "etcd etcd-3.7.4-linux-amd64.xz cff758408004d8c4df2f7e45cc0d66aae906bd4b2268940eeba85de079ad4c0f 26925d130a57bdaf423ab17f4925960b1bc51f5bb6fbcbbb00ac77fb33c255ee"
  "kube-apiserver kube-apiserver-1.37.2-linux-amd64.xz 141909b091c6271401fbecd652b562f4d3c5d3a701d92751483e8be062d566eb 029ab2a3ac0270e41d2c61baf0589c75df2372d8a308557836102f62c4fbd4dd"
  "vso-manager vso-manager-1.4.1-linux-amd64.xz 905fa3d53aa56f9f9c6d64b71c0368280f21017cf59f8c06d9a1840d6206b7d8 b9251f1ac90680badcec1bfa0aa79c2d5a6ffc67a2d136df9c5d63d891e6bdd0"
)
# VSO v1.4.1's config/crd/bases: every kind its manager watches must be known.
crds=(
  "secrets.hashicorp.com_csisecrets.yaml 7475e4a59c0873934be2a797d04faec6037f27f7043a2c77aa9304c3da4e520a"
  "secrets.hashicorp.com_hcpauths.yaml 657a0c5e67ee1be7a4da223a5be37904eea5aa1a4799ec1c78b0191d33a24985"
  "secrets.hashicorp.com_hcpvaultsecretsapps.yaml ab8fc5c7d0cda26d5e11ac09a0e47fa609af819c987953a13ccfe4480595fb24"
  "secrets.hashicorp.com_secrettransformations.yaml 8e490170d4a6becc68b8c303eca4ba77e06b2c7c5508111e00f1c7a380969ec6"
  "secrets.hashicorp.com_vaultauthglobals.yaml 85a6f27b03a4aa63517817f55d724899da8e0cc85aea6e35784a53fc31b88dce"
  "secrets.hashicorp.com_vaultauths.yaml 1b480133507978048a698340cec528379748405e224fb84968ff173a1be15ed0"
  "secrets.hashicorp.com_vaultconnections.yaml ee7f001dd645e39b6bdff44984cf9e9eeb5384518ba484b7d0afce875517283b"
  "secrets.hashicorp.com_vaultdynamicsecrets.yaml 892b27dddbeef177a64207565dd4675e02cab2436f108ed9bed0154ffd2a9fce"
  "secrets.hashicorp.com_vaultpkisecrets.yaml 416b4f5c7904bf7ce0b807b5c9738bd082cf18a823dddd87df46899b7900af18"
  "secrets.hashicorp.com_vaultstaticsecrets.yaml 6c4d9c3b1a6bebb1dc19681d32985b66bece3a8288bb7b1812c14196a1ae97bd"
)

. "$root/scripts/unpack-checked.sh"
fail() { echo "unpack-k8s: $*" >&2; exit 1; }

mkdir -p "$out/$crds_version"
for entry in "${binaries[@]}"; do
  read -r name xz xz_sum bin_sum <<<"$entry"
  rc=0
  unpack_checked "$shared/bin/$xz" "$xz_sum" "$bin_sum" "$out/$name" || rc=$?
  [ "$rc" = 0 ] || fail "$xz not found in $shared/bin/ (set K8S_SHARED to the folder that holds bin/ and k8s/)"
done

for entry in "${crds[@]}"; do
  read -r file want <<<"$entry"
  dest="$out/$crds_version/$file"
  if [ -f "$dest" ] && [ "$(sum_of "$dest")" = "$want" ]; then continue; fi
  src="$shared/k8s/$crds_version/$file"
  [ -f "$src" ] || fail "$file not found in $shared/k8s/$crds_version/"
  have="$(sum_of "$src")"
  [ "$have" = "$want" ] || fail "$src: sha256 $have, want $want: refusing it"
  tmp="$dest.tmp.$$"
  cp "$src" "$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "$dest"
done
