variable "mount_path" {
  type        = string
  default     = "resamania"
  description = "Where the plugin is mounted."
}

variable "plugin_version" {
  type        = string
  description = "The version the plugin binary reports, such as v0.1.0 (the release's name). Vault registers the binary under that version whatever is asked, so it must be given."
}

variable "plugin_sha256" {
  type        = string
  description = "The binary's sha256, from the release's SHA256SUMS."
}

variable "plugin_command" {
  type        = string
  default     = "vault-plugin-secrets-resamania"
  description = "The binary's file name in the server's plugin_directory."
}

variable "allowed_hosts" {
  type        = list(string)
  default     = []
  description = "Hosts a chain's config may send its secrets to (RESAMANIA_ALLOWED_HOSTS, such as [\"*.resamania.com\"]); empty allows any."
}

# Each chain by its client_token: what a config write takes, without its
# secrets. Write each value in the form you want to read back: the plugin
# returns a field as it was written (a trailing slash, "24h").
variable "chains" {
  type = map(object({
    api_base_url          = string
    client_id             = string
    scope                 = optional(string)
    request_timeout       = optional(string) # "15s", or whole seconds ("15")
    refresh_token_ttl     = optional(string) # "336h", or whole seconds
    lease_mode            = optional(string) # non_renewable, renewable or none
    share_api_key         = optional(bool)
    login_url             = optional(string)
    allowed_redirect_uris = optional(list(string))
  }))
}

# The secrets, apart, from the environment (TF_VAR_chain_secrets) or a
# secret store: never in a .tfvars file in version control.
variable "chain_secrets" {
  type = map(object({
    client_secret = string
    api_key       = optional(string)
  }))
  sensitive   = true
  description = "By client_token: the OAuth client's secret and the gateway key."
}
