# OpenBao 2.5+ only: the plugin declared in the server's config file, so it
# is in the catalog at every start without a `bao plugin register`.
# Merge into your OpenBao server config; put the binary in plugin_directory
# and write its sha256 (`sha256sum vault-plugin-secrets-resamania`) below.
# Then: bao secrets enable -path=resamania -plugin-version=v0.1.0 vault-plugin-secrets-resamania
plugin_directory     = "/etc/openbao/plugins"
plugin_auto_register = true

plugin "secret" "vault-plugin-secrets-resamania" {
  command   = "vault-plugin-secrets-resamania"
  version   = "v0.1.0"
  sha256sum = "<sha256 of the binary>"
}
