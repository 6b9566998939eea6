# One config/<client_token> per chain. A write mints one token with the new
# settings first (verify_connection): a wrong secret fails the apply with the
# plugin's 400, and the config in force stays as it was.
resource "vault_generic_endpoint" "chain" {
  for_each = var.chains

  path = "${vault_mount.resamania.path}/config/${each.key}"
  # A config read never returns client_secret or api_key: compare only the
  # fields the read has.
  ignore_absent_fields = true
  data_json = jsonencode(merge(
    { for k, v in each.value : k => v if v != null },
    # Whole seconds go as a number, which a read returns as a number.
    { for k in ["request_timeout", "refresh_token_ttl"] : k => tonumber(each.value[k]) if each.value[k] != null && can(tonumber(each.value[k])) },
    { for k, v in var.chain_secrets[each.key] : k => v if v != null },
  ))
}
