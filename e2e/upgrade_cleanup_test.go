package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// lastRelease is the commit of the release before chain deletion took a
// chain's members and contacts with it: its deletions left them in storage.
const lastRelease = "705cdfe816feda51b288bb2c4f8e70bf6e5fb8b2"

// TestUpgradeRemovesWhatTheLastReleaseLeftOfDeletedChains: on a real Vault
// with file storage, the last release deletes a chain with a signed-in
// member and a contact and leaves both behind; the upgrade removes them as
// the new version starts, says how many in the log, and the chain
// configured again finds neither.
func TestUpgradeRemovesWhatTheLastReleaseLeftOfDeletedChains(t *testing.T) {
	vaultharness.Require(t)
	dir := t.TempDir()
	from := vaultharness.BuildReleasedPlugin(t, lastRelease, fromVersion, dir)
	to := vaultharness.BuildPluginInto(t, toVersion, dir)
	st := newStack(t, stackOptions{vault: vaultharness.Options{PluginDir: dir}, plugin: from})
	st.fake.AddMember(chain, memberEmail, memberPassword)

	// The last release, as operators ran it (it has no verify_connection).
	st.vault.MustCLI(t, "write", configPath, "api_base_url="+st.fake.URL(), "client_id="+clientID, "client_secret="+clientSecret, "api_key="+gatewayKey)
	st.signInAsTheLastReleaseDid(t, member)
	st.vault.MustCLI(t, "write", contactsPrefix+"bob", "email="+memberEmail)
	st.vault.MustCLI(t, "delete", configPath)
	require.JSONEq(t, `["`+member+`"]`, listOrNull(t, st, mount+"/creds/"+chain), "the last release left the credential")
	require.JSONEq(t, `["bob"]`, listOrNull(t, st, mount+"/contacts/"+chain), "and the contact")

	// The upgrade, as docs/operations.md tells it.
	st.vault.Register(t, to)
	st.vault.MustCLI(t, "secrets", "tune", "-plugin-version="+toVersion, mount)
	st.vault.ReloadPlugin(t, to)

	require.Eventually(t, func() bool {
		return strings.Contains(st.vault.Log(), "removed entries that an earlier version left behind for chains deleted since: entries=2")
	}, 20*time.Second, 100*time.Millisecond, "the new version says what it removed: the credential and the contact")
	require.JSONEq(t, `null`, listOrNull(t, st, mount+"/creds/"+chain))
	require.JSONEq(t, `null`, listOrNull(t, st, mount+"/contacts/"+chain))
	st.configure(t)
	require.Contains(t, st.cliFails(t, "read", credsPath), "no credential")
}

// signInAsTheLastReleaseDid signs the member in as the last release's
// sign-in went: auth-code-url took no name, and a chain needed no allowed
// redirect_uris.
func (st *stack) signInAsTheLastReleaseDid(t *testing.T, name string) {
	t.Helper()
	out := st.vault.MustCLI(t, "write", "-format=json", mount+"/auth-code-url/"+chain, "redirect_uri="+redirectURI)
	var issued struct{ Data struct{ URL, State string } }
	require.NoError(t, json.Unmarshal([]byte(out), &issued))
	code := memberSignsIn(t, st.fake, issued.Data.URL, issued.Data.State)
	st.vault.MustCLI(t, "write", credsPrefix+name, "code="+code, "redirect_uri="+redirectURI, "state="+issued.Data.State)
}
