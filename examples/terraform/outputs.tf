output "token_paths" {
  description = "Each chain's token path, for apps and Vault Agent."
  value       = { for chain, _ in var.chains : chain => "${vault_mount.resamania.path}/token/${chain}" }
}

output "policies" {
  description = "The policies' names, for auth roles."
  value = {
    app     = { for chain, p in vault_policy.app : chain => p.name }
    member  = { for chain, p in vault_policy.member : chain => p.name }
    metrics = vault_policy.metrics.name
  }
}
