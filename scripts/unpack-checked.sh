# Sourced by the scripts that unpack a server or tool from an .xz release
# archive (unpack-bao.sh, unpack-tofu.sh, unpack-k8s.sh): one way to check
# and unpack it.
#
# unpack_checked XZ WANT_XZ WANT_BIN OUT: OUT from the archive XZ, after
# checking the sha256 of the archive and of what it holds; written under a
# temporary name of its own and renamed, so two suites unpacking at once
# never see half a binary. Leaves OUT as it is when it already has WANT_BIN.
# Returns 3, saying nothing, when XZ is not there (the caller says where it
# looked); exits 1, saying why, on a wrong sum or without xz.

sum_of() { sha256sum "$1" | awk '{print $1}'; }

unpack_checked() {
  local src="$1" want_xz="$2" want_bin="$3" out="$4" have tmp
  if [ -x "$out" ] && [ "$(sum_of "$out")" = "$want_bin" ]; then
    return 0
  fi
  [ -f "$src" ] || return 3
  command -v xz >/dev/null || { echo "$(basename "$0"): xz is missing: apt-get install xz-utils" >&2; exit 1; }
  have="$(sum_of "$src")"
  [ "$have" = "$want_xz" ] || { echo "$(basename "$0"): $src: sha256 $have, want $want_xz: refusing it" >&2; exit 1; }
  mkdir -p "$(dirname "$out")"
  tmp="$(mktemp "$out.XXXXXX")"
  xz -dc "$src" > "$tmp"
  have="$(sum_of "$tmp")"
  if [ "$have" != "$want_bin" ]; then
    rm -f "$tmp"
    echo "$(basename "$0"): unpacked $(basename "$out"): sha256 $have, want $want_bin: refusing it" >&2
    exit 1
  fi
  chmod +x "$tmp"
  mv -f "$tmp" "$out"
  echo "$(basename "$0"): unpacked $out (sha256 checked)" >&2
}
