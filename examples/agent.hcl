# Vault Agent renders a Resamania access token to a file and keeps it fresh.
#
#   VAULT_ADDR=http://127.0.0.1:8200 vault agent -config=agent.hcl
#
# Run it from the folder holding this file, the template and a file named
# vault-token with a Vault token allowed to read resamania/token/mychain
# (policy: path "resamania/token/mychain" { capabilities = ["read"] }).
# The Vault address comes from VAULT_ADDR.

auto_auth {
  method "token_file" {
    config = {
      token_file_path = "vault-token"
    }
  }
}

template_config {
  # Keep retrying while Vault or Resamania is briefly unavailable.
  exit_on_retry_failure = false
}

# The same file serves a chain with or without leases; only the chain's
# config differs.
#   - Leased (the default): the lease ends a safety margin before the token
#     expires; Agent re-reads at 85-95% of the lease and always gets a new
#     token then.
#   - Unleased (lease_mode=none, or no_lease=true): the read carries ttl,
#     rotation_period and last_vault_rotation, and Agent re-reads ttl + 1
#     seconds later, just after the plugin has a newer token. No lease is
#     created. (Without those fields Agent would wait its
#     static_secret_render_interval, 5 minutes, whatever the token's life.)
template {
  source      = "resamania-token.ctmpl"
  destination = "resamania-token.txt"
  perms       = "0600"
}
