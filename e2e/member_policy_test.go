package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// One member, one policy: docs/apps.md's identity-templated policy lets each
// member read the credential named by their entity's id and nobody else's,
// nor the chain's own token. The example file is used as it is: it names
// no auth method, so a user who controls their alias name (an OIDC claim
// set to "+" or "*") cannot widen the path.
func TestMemberPolicyOneCredentialPerEntity(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t)
	st.vault.MustCLI(t, "auth", "enable", "userpass")

	root, err := vaultharness.RepoRoot()
	require.NoError(t, err)
	example, err := os.ReadFile(filepath.Join(root, "examples", "member-policy.hcl"))
	require.NoError(t, err)
	require.Contains(t, string(example), "{{identity.entity.id}}")
	require.NotContains(t, string(example), "{{identity.entity.aliases.", "no alias name in the path")
	st.vault.MustCLI(t, "policy", "write", "resamania-member", filepath.Join(root, "examples", "member-policy.hcl"))

	members := []string{"alice", "bob"}
	clients := map[string]*api.Client{}
	entities := map[string]string{}
	for _, name := range members {
		st.vault.MustCLI(t, "write", "auth/userpass/users/"+name, "password=pw-"+name, "policies=resamania-member")
		login, err := st.clientAs(t, "").Logical().Write("auth/userpass/login/"+name, map[string]any{"password": "pw-" + name})
		require.NoError(t, err)
		require.NotNil(t, login.Auth)
		require.Contains(t, login.Auth.Policies, "resamania-member")
		require.NotEmpty(t, login.Auth.EntityID, "the login made the member's entity")
		clients[name], entities[name] = st.clientAs(t, login.Auth.ClientToken), login.Auth.EntityID
		// The member's credential, stored under their entity's id.
		code := st.fake.IssueCode(chain, clientID, redirectURI, name)
		st.vault.MustCLI(t, "write", credsPrefix+login.Auth.EntityID, "code="+code, "redirect_uri="+redirectURI,
			"state="+issueState(t, st.vault.Client, mount, chain, login.Auth.EntityID))
	}

	for i, name := range members {
		other := members[1-i]
		t.Run(name, func(t *testing.T) {
			c := clients[name]
			require.True(t, st.fake.AccessTokenValid(readAccessToken(t, c, credsPrefix+entities[name])), "%s reads their own credential", name)
			requireDenied(t, c, credsPrefix+entities[other])
			requireDenied(t, c, credsPrefix+name)
			requireDenied(t, c, tokenPath)
		})
	}
}
