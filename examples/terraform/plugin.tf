resource "vault_plugin" "resamania" {
  type    = "secret"
  name    = "vault-plugin-secrets-resamania"
  command = var.plugin_command
  sha256  = var.plugin_sha256
  # Never leave version out: the binary reports its version and Vault
  # registers it under that one, so a registration without a version lands
  # in a versioned entry, the provider reads the unversioned one, finds
  # nothing, and the apply fails with "Provider produced inconsistent result
  # after apply: root object was present, but now absent".
  version = var.plugin_version
  env     = length(var.allowed_hosts) > 0 ? ["RESAMANIA_ALLOWED_HOSTS=${join(",", var.allowed_hosts)}"] : []
}

resource "vault_mount" "resamania" {
  path           = var.mount_path
  type           = vault_plugin.resamania.name
  plugin_version = vault_plugin.resamania.version
  description    = "Resamania OAuth tokens"
}
