#!/usr/bin/env bash
# The whole job end to end on loopback: a dev Vault, the plugin registered by
# its sha256, the fake Resamania server, a demo chain, and a token read.
# `make demo` builds the plugin and the fake server first; Vault is the one
# scripts/find-vault.sh picks (VAULT_BIN, a recent enough `vault` on PATH, or
# one built from its Go module). DEMO_KEEP=1 leaves both servers running and
# prints how to use and stop them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.bin"
state="$root/.demo"
version="${VERSION:-v0.1.0}"
plugin=vault-plugin-secrets-resamania
mkdir -p "$state"
rm -f "$state"/*.log
vault="$(bash "$root/scripts/find-vault.sh")"

# first free loopback port from $1 upward
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
[ "${DEMO_KEEP:-0}" = 1 ] || trap stop EXIT

# The fake Resamania server prints RESAMANIA_URL=... once it listens.
"$bin/fake-resamania" -addr 127.0.0.1:0 -prefix /demo-env -client-token demo \
  -client-id 1_demo -client-secret demo-secret -expires-in 3600 \
  >"$state/fake.out" 2>"$state/fake.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^RESAMANIA_URL=' "$state/fake.out" 2>/dev/null && break; sleep 0.1; done
resamania_url="$(sed -n 's/^RESAMANIA_URL=//p' "$state/fake.out")"
[ -n "$resamania_url" ] || { echo "the fake Resamania server did not start; see $state/fake.log" >&2; exit 1; }

port="$(free_port 18200)"
export VAULT_ADDR="http://127.0.0.1:$port" VAULT_TOKEN=root
cat >"$state/vault.hcl" <<HCL
plugin_directory = "$bin/plugins"
disable_mlock    = true
HCL
"$vault" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" \
  -config="$state/vault.hcl" >"$state/vault.log" 2>&1 &
pids+=($!)
for _ in $(seq 150); do "$vault" status >/dev/null 2>&1 && break; sleep 0.2; done
"$vault" status >/dev/null || { echo "vault did not start; see $state/vault.log" >&2; exit 1; }

sum="$(sha256sum "$bin/plugins/$plugin" | cut -d' ' -f1)"
# run shows each command as a user would type it, then runs it.
run() { printf '\n$ vault %s\n' "$*"; "$vault" "$@"; }
run plugin register -sha256="$sum" -version="$version" secret "$plugin"
run secrets enable -path=resamania -plugin-version="$version" "$plugin"
run write resamania/config/demo api_base_url="$resamania_url" client_id=1_demo client_secret=demo-secret
run read resamania/config/demo
run read resamania/token/demo
run read resamania/token/demo/clubs/1
run write resamania/contacts/demo/alice email=alice@demo.example
run read resamania/token/demo/contacts/alice

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  cat <<MSG

Vault and the fake Resamania server are still running:
  export VAULT_ADDR=$VAULT_ADDR VAULT_TOKEN=root
  $vault read resamania/token/demo
Stop them with: kill ${pids[*]}
MSG
else
  echo "demo done: servers stopped (DEMO_KEEP=1 make demo leaves them running)"
fi
