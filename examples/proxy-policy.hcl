# The policy of the AppRole role that examples/proxy.hcl signs in with:
#   vault policy write resamania-reader proxy-policy.hcl
path "resamania/token/mychain" { capabilities = ["read"] }
