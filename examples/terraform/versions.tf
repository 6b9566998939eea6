# The Resamania plugin's configuration as code, for OpenTofu and Terraform:
# the plugin in the catalog, its mount, each chain's config and the example
# policies. docs/terraform.md says how to run it and what to watch for.
terraform {
  required_version = ">= 1.6.0"
  required_providers {
    vault = {
      source  = "hashicorp/vault"
      version = ">= 5.11.0, < 6.0.0"
    }
  }
}

# VAULT_ADDR and VAULT_TOKEN come from the environment, for OpenBao too. The
# token needs sudo on sys/plugins/catalog, and may manage sys/mounts and
# sys/policies/acl.
provider "vault" {}
