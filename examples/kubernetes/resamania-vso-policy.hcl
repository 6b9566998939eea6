# The Vault policy of the role VSO signs in with (VaultAuth "resamania"):
# read the three tokens the VaultDynamicSecrets here sync, nothing else.
#   vault policy write resamania-vso resamania-vso-policy.hcl
# On a leased chain (lease_mode non_renewable or renewable) VSO also renews
# and revokes through sys/leases/renew and sys/leases/revoke: Vault's default
# policy allows the renewal; add the revocation only if a VaultDynamicSecret
# sets revoke: true.

# The chain's own token (token/<client_token>).
path "resamania/token/mychain" {
  capabilities = ["read"]
}

# The token of club 1234 of the chain (token/<client_token>/clubs/<club_id>).
path "resamania/token/mychain/clubs/1234" {
  capabilities = ["read"]
}

# The member credential alice of the chain (creds/<client_token>/<name>).
path "resamania/creds/mychain/alice" {
  capabilities = ["read"]
}
