# One member, one policy: each person signed in to Vault reads only the
# Resamania credential named after them, creds/mychain/<their user name>.
# One policy serves every member; no policy per member.
#
# The path is templated on the caller's identity: the name of their entity's
# alias in the auth method they logged in with. Replace auth_userpass_XXXX
# with that method's accessor, from
#
#   vault auth list -format=json | jq -r '.["userpass/"].accessor'
#
# then write the policy and attach it to every member's login:
#
#   vault policy write resamania-member member-policy.hcl
#   vault write auth/userpass/users/alice password=... policies=resamania-member
#
# Store each member's credential under the same name as their login, from
# their sign-in or an imported refresh token:
#
#   vault write resamania/creds/mychain/alice code=... redirect_uri=... state=...
#   vault write resamania/creds/mychain/alice refresh_token=...
#
# Alice then reads resamania/creds/mychain/alice; reading bob's credential is
# a 403. With another auth method (OIDC, LDAP) use its accessor: the alias
# name is then what that method names the user, which must be a valid
# credential name (letters, digits, '_', '-' or '.'; an email address is not).

path "resamania/creds/mychain/{{identity.entity.aliases.auth_userpass_XXXX.name}}" {
  capabilities = ["read"]
}
