# Vault Proxy in front of the Resamania plugin: applications read
# resamania/token/mychain from the proxy, without a Vault token, and the
# proxy's cache answers most reads with the token it already holds.
#
#   vault write resamania/config/mychain lease_mode=renewable
#   VAULT_ADDR=http://127.0.0.1:8200 vault proxy -config=proxy.hcl
#   VAULT_ADDR=http://127.0.0.1:8100 vault read resamania/token/mychain
#
# The chain must use lease_mode=renewable. The proxy's cache keeps only
# renewable secrets and passes every other read through to Vault: with the
# default lease_mode, non_renewable, each read through the proxy is one more
# lease in Vault. With renewable, the proxy caches the token, renews its
# lease, and drops it when a renewal can no longer extend it (the lease never
# outlives the token's expiry minus a safety margin); the next read then gets
# the plugin's current token.
#
# Run the proxy from the folder holding this file and two files written from
# an AppRole role: role-id and secret-id. The role's token needs this policy
# (proxy-policy.hcl):
#
#   path "resamania/token/mychain" { capabilities = ["read"] }
#
# and the default policy, which lets the proxy renew leases
# (sys/leases/renew). For example, as an administrator:
#
#   vault auth enable approle
#   vault policy write resamania-reader proxy-policy.hcl
#   vault write auth/approle/role/resamania-proxy token_policies=resamania-reader
#   vault read -field=role_id auth/approle/role/resamania-proxy/role-id > role-id
#   vault write -f -field=secret_id auth/approle/role/resamania-proxy/secret-id > secret-id
#
# The Vault address comes from VAULT_ADDR. Anyone who can reach the listener
# reads with the proxy's token: keep it on 127.0.0.1 (the end-to-end test
# runs this file with only the listener's port changed).

auto_auth {
  method "approle" {
    config = {
      role_id_file_path                   = "role-id"
      secret_id_file_path                 = "secret-id"
      remove_secret_id_file_after_reading = false
    }
  }
}

api_proxy {
  # Requests that carry no Vault token use the proxy's own.
  use_auto_auth_token = true
}

# Caches renewable leases, here the token reads of lease_mode=renewable.
cache {}

listener "tcp" {
  address     = "127.0.0.1:8100"
  tls_disable = true
}
