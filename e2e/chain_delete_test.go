package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeletingAChainTakesItsMembersAndContacts: on the real Vault, deleting a
// chain with a signed-in member and a contact warns what it took, and the
// chain configured again finds neither.
func TestDeletingAChainTakesItsMembersAndContacts(t *testing.T) {
	st := newCredsStack(t, 3600)
	st.fake.AddMember(chain, memberEmail, memberPassword) // the contact, as Resamania knows them
	st.signIn(t, member)
	require.NotEmpty(t, st.readCred(t, member).Data.AccessToken)
	st.vault.MustCLI(t, "write", mount+"/contacts/"+chain+"/bob", "email="+memberEmail)
	contact := st.vault.ReadJSON(t, mount+"/token/"+chain+"/contacts/bob")
	require.NotNil(t, contact["data"])

	help := st.vault.MustCLI(t, "path-help", configPath)
	require.Contains(t, help, "Deleting a chain deletes everything stored under it", "path-help says so before anyone deletes")

	out, stderr, err := st.vault.CLI(t, "delete", configPath)
	require.NoError(t, err, stderr)
	require.Contains(t, out+stderr, `deleted with chain "mychain": 1 member credential(s) and 1 contact(s)`)

	st.configure(t)
	stderr = st.cliFails(t, "read", credsPath)
	require.Contains(t, stderr, "no credential")
	_, _, err = st.vault.CLI(t, "read", mount+"/contacts/"+chain+"/bob")
	require.Error(t, err, "the contact is gone: no value found")
	require.JSONEq(t, `null`, listOrNull(t, st, mount+"/creds/"+chain))
	require.JSONEq(t, `null`, listOrNull(t, st, mount+"/contacts/"+chain))
}

// listOrNull is `vault list -format=json path`, or "null" when it lists nothing.
func listOrNull(t *testing.T, st *stack, path string) string {
	t.Helper()
	out, _, err := st.vault.CLI(t, "list", "-format=json", path)
	if err != nil {
		return "null"
	}
	return out
}
