// The judge of `make vulncheck` (scripts/vulncheck.sh): reads govulncheck's
// JSON and the accepted list. A module of its own, with no dependency, so the
// plugin's go.mod never carries scan tooling.
module github.com/resamania-oss/vault-plugin-secrets-resamania/tools/vulncheck

go 1.26.0
