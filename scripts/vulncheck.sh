#!/usr/bin/env bash
# make vulncheck: govulncheck on every package of the plugin's module, with the
# release toolchain, against the Go vulnerability database built offline from
# a pinned version of the module golang.org/x/vulndb (versions: scripts/pins.env).
# Fails on any vulnerability the code calls that has a fix, and on one without
# a fix that security/vulncheck-accepted.txt does not list with why it cannot
# be exploited through this plugin (tools/vulncheck judges).
#
# Offline: the database comes from the module proxy like any module, and is
# built here by that version's cmd/gendb from a git repository of its files;
# govulncheck reads it as file://, and asks no vulnerability service.
# Cached: the tools in .bin/tools/, the database in .bin/vulndb/<version>/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/release-go.sh"
use_release_go

db="$root/.bin/vulndb/$VULNDB_VERSION"

# build_db: the database of golang.org/x/vulndb@$VULNDB_VERSION into $db.
# gendb reads data/osv/ from a git repository, and dates each entry it does
# not date itself by the commits that touched it: one commit, dated at the
# module's own time, so the database is the same bytes on any machine.
build_db() {
  local dir when gendb
  tmp="$(mktemp -d)"   # not local: the EXIT trap removes it
  trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
  # Outside any module: the download touches no go.mod or go.sum of ours.
  dir="$(cd "$tmp" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [ -d "$dir/data/osv" ] || { echo "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv" >&2; return 1; }
  when="$(cd "$tmp" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "golang.org/x/vulndb@$VULNDB_VERSION")"
  mkdir -p "$tmp/repo/data"
  cp -R "$dir/data/osv" "$tmp/repo/data/"
  chmod -R u+w "$tmp/repo"
  git -C "$tmp/repo" init -q
  git -C "$tmp/repo" add -A
  GIT_AUTHOR_DATE="$when" GIT_COMMITTER_DATE="$when" git -C "$tmp/repo" \
    -c user.name=vulndb -c user.email=vulndb@localhost -c commit.gpgsign=false \
    commit -q --no-verify -m "golang.org/x/vulndb@$VULNDB_VERSION"
  gendb="$(pinned_tool "golang.org/x/vulndb/cmd/gendb@$VULNDB_VERSION")"
  "$gendb" -repo "$tmp/repo" -out "$tmp/db" 2>/dev/null
  rm -rf "$db" && mkdir -p "$(dirname "$db")" && mv "$tmp/db" "$db"
  echo "built the vulnerability database of golang.org/x/vulndb@$VULNDB_VERSION ($(ls "$db/ID" | wc -l) entries, modified $when) into ${db#"$root/"}" >&2
}

[ -f "$db/index/db.json" ] || build_db
govulncheck="$(pinned_tool "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION")"

# The judge, after its own tests: a judge that cannot fail is worse than none.
out="$root/.bin/vulncheck"
mkdir -p "$out"
go -C "$root/tools/vulncheck" vet ./...
go -C "$root/tools/vulncheck" test -count=1 ./... >/dev/null
go -C "$root/tools/vulncheck" build -o "$out/judge" .

(cd "$root" && "$govulncheck" -db "file://$db" -format json ./...) > "$out/scan.json"
"$out/judge" -accepted "$root/security/vulncheck-accepted.txt" < "$out/scan.json" | sed "s#$root/##g"
