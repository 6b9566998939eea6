#!/usr/bin/env bash
# changelog-has.sh vX.Y.Z: succeeds when CHANGELOG.md has a heading for that
# version, "## [X.Y.Z] - YYYY-MM-DD" (Keep a Changelog); else says what is
# missing and fails. scripts/release.sh asks it before building anything.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:?usage: changelog-has.sh vX.Y.Z}"
heading="## [${version#v}]"
if [ -f "$root/CHANGELOG.md" ] && awk -v h="$heading" 'index($0, h) == 1 { found = 1 } END { exit !found }' "$root/CHANGELOG.md"; then
  exit 0
fi
echo "CHANGELOG.md has no \"$heading - YYYY-MM-DD\" entry: say what $version changes before releasing it" >&2
exit 1
