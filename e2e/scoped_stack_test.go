package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// The scoped paths under the mount: club and member tokens, and contacts.
const (
	clubsPrefix    = tokenPath + "/clubs/"
	contactTokens  = tokenPath + "/contacts/"
	contactsPrefix = mount + "/contacts/" + chain + "/"
)

const (
	clubGrant    = fakeresamania.GrantClubCredentials
	contactGrant = fakeresamania.GrantContactCredentials
)

// newScopedStack is a configured stack whose Resamania knows clubs 12, 13
// and 21 of the chain, and the member memberEmail.
func newScopedStack(t *testing.T) *stack {
	t.Helper()
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})
	for _, club := range []int{12, 13, 21} {
		st.fake.AddClub(chain, club)
	}
	// For the contact grant a member's username is its email.
	st.fake.AddMember(chain, memberEmail, memberPassword)
	st.configure(t)
	return st
}

// tokenWithPolicy writes an ACL policy and returns a new Vault token that
// holds only it, both through the CLI.
func (st *stack) tokenWithPolicy(t *testing.T, name, rules string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name+".hcl")
	require.NoError(t, os.WriteFile(file, []byte(rules), 0o600))
	st.vault.MustCLI(t, "policy", "write", name, file)
	return strings.TrimSpace(st.vault.MustCLI(t, "token", "create", "-policy="+name, "-field=token"))
}

// clientAs is an API client of the server that authenticates with token.
func (st *stack) clientAs(t *testing.T, token string) *api.Client {
	t.Helper()
	c, err := st.vault.Client.Clone()
	require.NoError(t, err)
	c.SetToken(token)
	return c
}

// requireDenied: reading path with c is refused by Vault's policy check.
func requireDenied(t *testing.T, c *api.Client, path string) {
	t.Helper()
	_, err := c.Logical().Read(path)
	var re *api.ResponseError
	require.True(t, errors.As(err, &re), "read %s: want a 403, got %v", path, err)
	require.Equal(t, 403, re.StatusCode, "read %s: %v", path, err)
	require.Contains(t, err.Error(), "permission denied")
}

// cliFails runs a CLI command that must fail and returns its stderr.
func (st *stack) cliFails(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := st.vault.CLI(t, args...)
	require.Error(t, err, "vault %s succeeded:\n%s", strings.Join(args, " "), stdout)
	return stderr
}
