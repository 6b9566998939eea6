package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// memberPolicyAccessor is the placeholder examples/member-policy.hcl holds
// for the userpass accessor.
const memberPolicyAccessor = "auth_userpass_XXXX"

// One member, one policy: the README's identity-templated policy, filled
// with the real userpass accessor, lets each member read the credential
// named after their login and nobody else's, nor the chain's own token.
func TestMemberPolicyOneCredentialPerLogin(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	st.configure(t)

	st.vault.MustCLI(t, "auth", "enable", "userpass")
	var auths map[string]struct{ Accessor string }
	out := st.vault.MustCLI(t, "auth", "list", "-format=json")
	require.NoError(t, json.Unmarshal([]byte(out), &auths), out)
	accessor := auths["userpass/"].Accessor
	require.True(t, strings.HasPrefix(accessor, "auth_userpass_"), accessor)

	// The very example file, its placeholder replaced as its comment says.
	root, err := vaultharness.RepoRoot()
	require.NoError(t, err)
	example, err := os.ReadFile(filepath.Join(root, "examples", "member-policy.hcl"))
	require.NoError(t, err)
	require.Contains(t, string(example), memberPolicyAccessor)
	policy := filepath.Join(t.TempDir(), "member-policy.hcl")
	require.NoError(t, os.WriteFile(policy, []byte(strings.ReplaceAll(string(example), memberPolicyAccessor, accessor)), 0o600))
	st.vault.MustCLI(t, "policy", "write", "resamania-member", policy)

	members := []string{"alice", "bob"}
	for _, name := range members {
		st.vault.MustCLI(t, "write", "auth/userpass/users/"+name, "password=pw-"+name, "policies=resamania-member")
		// The member's credential, stored under their login's name.
		code := st.fake.IssueCode(chain, clientID, redirectURI, name)
		st.vault.MustCLI(t, "write", credsPrefix+name, "code="+code, "redirect_uri="+redirectURI, "state="+issueState(t, st.vault.Client, mount, chain, name))
	}

	for i, name := range members {
		other := members[1-i]
		t.Run(name, func(t *testing.T) {
			login, err := st.clientAs(t, "").Logical().Write("auth/userpass/login/"+name, map[string]any{"password": "pw-" + name})
			require.NoError(t, err)
			require.NotNil(t, login.Auth)
			require.Contains(t, login.Auth.Policies, "resamania-member")
			c := st.clientAs(t, login.Auth.ClientToken)

			require.True(t, st.fake.AccessTokenValid(readAccessToken(t, c, credsPrefix+name)), "%s reads their own credential", name)
			requireDenied(t, c, credsPrefix+other)
			requireDenied(t, c, tokenPath)
		})
	}
}
