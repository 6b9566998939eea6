# One member, one policy: each person signed in to Vault reads only the
# Resamania credential named by their Vault entity's id,
# creds/mychain/<entity id>. One policy serves every member; no policy per
# member, and it does not depend on the auth method.
#
# Why the entity id, and not the name the member logged in with: Vault puts
# the templated value into the path first and only then reads the path's
# globs. With a method whose names a user controls (an OIDC or JWT claim, an
# LDAP attribute), a user whose alias name is "+" or "*" would get
# creds/mychain/+ or creds/mychain/*: every member's credential of the chain.
# An entity id is a UUID Vault itself assigns: no user can choose it.
#
#   vault policy write resamania-member member-policy.hcl
#   vault write auth/userpass/users/alice password=... policies=resamania-member
#
# Store each member's credential under their entity id (the app learns it
# from the member's Vault token: `vault token lookup` shows entity_id; the
# app that stores credentials needs write access to creds/mychain/*):
#
#   vault write resamania/auth-code-url/mychain name=<entity id> redirect_uri=https://app.example/callback
#   vault write resamania/creds/mychain/<entity id> code=... redirect_uri=https://app.example/callback state=...
#   vault write resamania/creds/mychain/<entity id> refresh_token=...
#
# The member then reads resamania/creds/mychain/<their entity id>; reading
# anyone else's credential is a 403. A member who logs in through several
# methods that map to one entity reads the same credential through each.

path "resamania/creds/mychain/{{identity.entity.id}}" {
  capabilities = ["read"]
}
