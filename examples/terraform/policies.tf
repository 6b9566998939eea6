# The example policies of README.md and examples/, word for word, for this
# mount and each chain (the files name resamania/ and mychain).

# An app that only needs the chain's tokens.
resource "vault_policy" "app" {
  for_each = var.chains

  name   = "resamania-app-${each.key}"
  policy = <<-EOT
    path "${vault_mount.resamania.path}/token/${each.key}" {
      capabilities = ["read"]
    }
  EOT
}

# One member, one policy: each member reads the credential named by their
# entity id, creds/<chain>/{{identity.entity.id}}, and no other.
resource "vault_policy" "member" {
  for_each = var.chains

  name   = "resamania-member-${each.key}"
  policy = replace(replace(file("${path.module}/../member-policy.hcl"), "resamania/", "${vault_mount.resamania.path}/"), "creds/mychain/", "creds/${each.key}/")
}

# A Prometheus scraper's token: the metrics path and nothing else.
resource "vault_policy" "metrics" {
  name   = "resamania-metrics"
  policy = replace(file("${path.module}/../metrics-policy.hcl"), "resamania/", "${vault_mount.resamania.path}/")
}
