#!/usr/bin/env bash
# Fuzzes each target for FUZZTIME (default 3m). `make test` runs only their seed
# corpus; this runs the fuzzer itself. New failing inputs land in testdata/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-3m}"
for target in "./internal/upstream FuzzTokenResponse" "./internal/upstream FuzzNormalizeBaseURL" ". FuzzChainConfigValidate"; do
  set -- $target
  echo "== $2 ($1) for $fuzztime"
  go test -run='^$' -fuzz="^$2\$" -fuzztime="$fuzztime" "$1"
done
