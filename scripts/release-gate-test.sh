#!/usr/bin/env bash
# Proves that a release needs its CHANGELOG.md entry: scripts/changelog-has.sh
# finds "## [X.Y.Z] - date" for vX.Y.Z and nothing else, and
# scripts/release.sh refuses a version without one before building anything.
# In a copy of the scripts, in a moment. Run by scripts/script-check.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/repo"
cp -R "$root/scripts" "$tmp/repo/"
has="$tmp/repo/scripts/changelog-has.sh"

fail() { echo "release-gate-test: $*" >&2; exit 1; }

bash "$has" v1.2.3 2>/dev/null && fail "a version passed with no CHANGELOG.md at all"

cat > "$tmp/repo/CHANGELOG.md" <<'MD'
# Changelog

## [Unreleased]
- Mentions [1.2.4] and ## [1.2.5] - 2026-01-01 inside a line.

## [1.2.3] - 2026-12-07
- First release.

## [1.2.30] - 2026-12-08
MD
bash "$has" v1.2.3 || fail "v1.2.3 refused although CHANGELOG.md has \"## [1.2.3] - 2026-12-07\""
bash "$has" v1.2.30 || fail "v1.2.30 refused although CHANGELOG.md has its entry"
for v in v1.2.4 v1.2.5 v1.2 v0.0.0-ci; do
  bash "$has" "$v" 2>/dev/null && fail "$v passed with no entry of its own"
done

rc=0
bash "$tmp/repo/scripts/release.sh" v1.2.4 >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q CHANGELOG "$tmp/out" || fail "release.sh v1.2.4 did not refuse for want of an entry (exit $rc): $(cat "$tmp/out")"
grep -q building "$tmp/out" && fail "release.sh v1.2.4 built something before refusing: $(cat "$tmp/out")"
echo "release-gate-test: a release needs its CHANGELOG.md entry"
