# What a Prometheus scraper's Vault token needs: read on the metrics path,
# and nothing else (no token, credential or config of any chain).
path "resamania/metrics" {
  capabilities = ["read"]
}
