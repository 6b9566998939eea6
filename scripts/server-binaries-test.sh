#!/usr/bin/env bash
# Proves that finding, building and unpacking the servers never writes over a
# binary of the user's: VAULT_BIN or BAO_BIN set to a fake old binary (a shell
# script printing an old version), and an old `vault` and `bao` first on PATH,
# come out byte-identical, with a warning for the given ones; what the project
# builds or unpacks lands in .bin/; Vault is built with one toolchain and one
# set of flags whoever asks; no OpenBao at all is exit 3.
# It runs in a copy of the scripts and the Makefile, with a fake `go` that
# "builds" Vault at once, so it takes seconds and touches nothing of the
# repository's. Run by scripts/script-check.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
unset VAULT_BIN BAO_BIN BAO_XZ GOFLAGS REQUIRE_OPENBAO
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

sandbox="$tmp/repo"   # no ../shared beside it, like a user's clone
mkdir -p "$sandbox/tools/vault"
cp -R "$root/scripts" "$root/Makefile" "$sandbox/"
cp "$root/tools/vault/go.mod" "$sandbox/tools/vault/"
want="$(awk '$1 == "github.com/hashicorp/vault" {print $2; exit}' "$root/tools/vault/go.mod")"

fail() { echo "server-binaries-test: $*" >&2; exit 1; }

# fake_server FILE LINE: a binary whose `version` prints LINE, as vault's and bao's do.
fake_server() { printf '#!/bin/sh\necho "%s"\n' "$2" > "$1"; chmod +x "$1"; }

# The fake go: `go build ... -o OUT ...` writes a Vault of the pinned version
# at OUT, and every call is noted with the toolchain and flags it ran under.
fakes="$tmp/fakes"
mkdir -p "$fakes"
cat > "$fakes/go" <<'GO'
#!/usr/bin/env bash
echo "GOTOOLCHAIN=${GOTOOLCHAIN:-} GOFLAGS=${GOFLAGS:-} $*" >> "$FAKE_GO_LOG"
out="" prev=""
for a in "$@"; do [ "$prev" = -o ] && out="$a"; prev="$a"; done
[ -z "$out" ] || { printf '#!/bin/sh\necho "Vault %s, built (fake)"\n' "$FAKE_VAULT_VERSION" > "$out"; chmod +x "$out"; }
GO
chmod +x "$fakes/go"
# Old servers first on PATH: too old to be picked, and never to be touched.
fake_server "$fakes/vault" "Vault v1.10.0, built (fake)"
fake_server "$fakes/bao" "OpenBao v2.0.0 (v2.0.0)"
export PATH="$fakes:$PATH" FAKE_GO_LOG="$tmp/go.log" FAKE_VAULT_VERSION="$want"

# The user's own binaries, and copies to compare them with afterwards.
user="$tmp/user"
mkdir -p "$user"
fake_server "$user/vault" "Vault v1.10.0, built (fake)"
fake_server "$user/bao" "OpenBao v2.0.0 (v2.0.0)"
mkdir -p "$tmp/orig/user" "$tmp/orig/fakes"
cp "$user/vault" "$user/bao" "$tmp/orig/user/"
cp "$fakes/vault" "$fakes/bao" "$tmp/orig/fakes/"
untouched() {
  cmp -s "$user/vault" "$tmp/orig/user/vault" || fail "$1: VAULT_BIN was written over"
  cmp -s "$user/bao" "$tmp/orig/user/bao" || fail "$1: BAO_BIN was written over"
  cmp -s "$fakes/vault" "$tmp/orig/fakes/vault" || fail "$1: the vault on PATH was written over"
  cmp -s "$fakes/bao" "$tmp/orig/fakes/bao" || fail "$1: the bao on PATH was written over"
}

# 1. A given Vault older than the pin is used as given, with a warning.
got="$(VAULT_BIN="$user/vault" bash "$sandbox/scripts/find-vault.sh" 2>"$tmp/err")" || fail "find-vault.sh with VAULT_BIN failed: $(cat "$tmp/err")"
[ "$got" = "$user/vault" ] || fail "find-vault.sh picked $got, not VAULT_BIN=$user/vault"
grep -q warning "$tmp/err" || fail "find-vault.sh gave no warning for an old VAULT_BIN: $(cat "$tmp/err")"
untouched "find-vault.sh with an old VAULT_BIN"

# 2. make vault with VAULT_BIN set builds .bin/vault, never VAULT_BIN; here the
# Makefile's GOTOOLCHAIN is in force.
VAULT_BIN="$user/vault" make -s -C "$sandbox" vault >"$tmp/out" 2>&1 || fail "make vault failed: $(cat "$tmp/out")"
untouched "make vault with an old VAULT_BIN"
"$sandbox/.bin/vault" version | grep -q "^Vault $want," || fail "make vault did not build .bin/vault"
made_by_make="$(tail -n 1 "$tmp/go.log")"

# 3. Nothing given and an old vault on PATH: .bin/vault is built, with the
# same toolchain and flags as make vault's, whatever the caller's GOTOOLCHAIN.
rm -f "$sandbox/.bin/vault"
got="$(GOTOOLCHAIN=local bash "$sandbox/scripts/find-vault.sh" 2>"$tmp/err")" || fail "find-vault.sh failed: $(cat "$tmp/err")"
[ "$got" = "$sandbox/.bin/vault" ] || fail "find-vault.sh picked $got, not .bin/vault"
untouched "find-vault.sh with an old vault on PATH"
[ "$(tail -n 1 "$tmp/go.log")" = "$made_by_make" ] || fail "Vault is built two ways: make vault ran \`$made_by_make\`, find-vault.sh \`$(tail -n 1 "$tmp/go.log")\`"

# 4. A given OpenBao older than v2.6 is used as given, with a warning.
got="$(BAO_BIN="$user/bao" bash "$sandbox/scripts/find-bao.sh" 2>"$tmp/err")" || fail "find-bao.sh with BAO_BIN failed: $(cat "$tmp/err")"
[ "$got" = "$user/bao" ] || fail "find-bao.sh picked $got, not BAO_BIN=$user/bao"
grep -q warning "$tmp/err" || fail "find-bao.sh gave no warning for an old BAO_BIN: $(cat "$tmp/err")"
untouched "find-bao.sh with an old BAO_BIN"

# 5. No OpenBao anywhere (none given, an old one on PATH, no archive): exit 3.
rc=0
bash "$sandbox/scripts/find-bao.sh" >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" = 3 ] || fail "find-bao.sh without any OpenBao exited $rc, want 3: $(cat "$tmp/err")"
untouched "find-bao.sh without any OpenBao"

# 6. make bao with BAO_BIN set unpacks into .bin/bao, never BAO_BIN. Needs the
# real archive (a few seconds of xz); a user's clone has none and skips this.
archive="$root/../shared/bin/bao-2.6.2-linux-amd64.xz"
if [ -f "$archive" ]; then
  BAO_BIN="$user/bao" BAO_XZ="$archive" make -s -C "$sandbox" bao >"$tmp/out" 2>&1 || fail "make bao failed: $(cat "$tmp/out")"
  untouched "make bao with an old BAO_BIN"
  "$sandbox/.bin/bao" version | grep -q '^OpenBao v2\.6\.2 ' || fail "make bao did not unpack .bin/bao"
else
  echo "server-binaries-test: no ../shared/bin/bao-2.6.2-linux-amd64.xz: make bao with BAO_BIN set not tried"
fi
echo "server-binaries-test: VAULT_BIN, BAO_BIN and the servers on PATH untouched; builds in .bin/; one way to build Vault"
