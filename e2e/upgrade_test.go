package e2e

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// The versions an operator upgrades between: two builds of this commit,
// different binaries (and sha256) because the version is stamped in.
const (
	fromVersion = "v0.1.0"
	toVersion   = "v0.2.0"
)

// TestUpgradeInPlaceKeepsEverything is the operator's upgrade on a Vault
// with file storage: register the new version, tune the mount to it, reload.
// Every config stays, the cached token is served without a new mint, the
// member's credential still refreshes, and Vault runs the new version.
func TestUpgradeInPlaceKeepsEverything(t *testing.T) {
	vaultharness.Require(t)
	plugins := vaultharness.BuildPluginVersions(t, fromVersion, toVersion)
	from, to := plugins[0], plugins[1]
	require.NotEqual(t, from.SHA256, to.SHA256, "the stamped version makes the binaries differ")
	st := newStack(t, stackOptions{vault: vaultharness.Options{PluginDir: from.Dir}, plugin: from})
	require.False(t, st.vault.Dev, "an upgrade is proved on storage that outlives the process")

	// Before: v0.1.0 holds a config, a contact, a cached token and a credential.
	st.configure(t, "scope=read")
	st.vault.MustCLI(t, "write", contactsPrefix+"bob", "email="+memberEmail)
	config := st.vault.ReadJSON(t, configPath)["data"]
	contact := st.vault.ReadJSON(t, contactsPrefix+"bob")["data"]
	token := st.readToken(t).Data.AccessToken
	require.Equal(t, 1, st.fake.TokenRequests(chain, "client_credentials"))
	st.signIn(t, member)
	memberToken := st.readCred(t, member).Data.AccessToken
	signedIn := time.Now()
	requireMount(t, st.vault, from, from)

	// Vault checks the version the binary reports: v0.1.0's binary cannot
	// be registered as v0.2.0.
	_, stderr, err := st.vault.CLI(t, "plugin", "register", "-sha256="+from.SHA256, "-command="+filepath.Base(from.Path), "-version="+toVersion, "secret", from.Name)
	require.Error(t, err)
	require.Contains(t, stderr, "did not match requested version")

	// The upgrade, as docs/operations.md tells it.
	st.vault.Register(t, to)
	st.vault.MustCLI(t, "secrets", "tune", "-plugin-version="+toVersion, mount)
	requireMount(t, st.vault, to, from) // a tune alone changes nothing that runs
	st.vault.ReloadPlugin(t, to)
	requireMount(t, st.vault, to, to)

	// After: the same config and contact, the same token without a new mint.
	require.Equal(t, config, st.vault.ReadJSON(t, configPath)["data"])
	require.Equal(t, contact, st.vault.ReadJSON(t, contactsPrefix+"bob")["data"])
	require.Equal(t, token, st.readToken(t).Data.AccessToken)
	require.Equal(t, 1, st.fake.TokenRequests(chain, "client_credentials"), "the upgrade re-minted a good token")

	// The credential refreshes with the refresh token v0.1.0 stored, and the
	// rotated one is kept: asking for more life than the cached access token
	// has left forces a refresh. (Tokens live an hour; after two seconds the
	// cached one has less than 3599 s left, a fresh one more.)
	time.Sleep(time.Until(signedIn.Add(2 * time.Second)))
	refreshed := st.readLeased(t, credsPath, "minimum_seconds=3599").Data.AccessToken
	require.NotEqual(t, memberToken, refreshed)
	require.True(t, st.fake.AccessTokenValid(refreshed))
	require.Equal(t, 1, st.fake.TokenRequests(chain, "refresh_token"))
	status := st.vault.ReadJSON(t, credsPath+"/status")["data"].(map[string]any)
	require.Equal(t, "active", status["state"])
	require.EqualValues(t, 1, status["refreshes"])

	// The mount stays on v0.2.0 across a restart of Vault.
	st.vault.Restart(t)
	requireMount(t, st.vault, to, to)
	require.Equal(t, token, st.readToken(t).Data.AccessToken)
	require.Equal(t, refreshed, st.readCred(t, member).Data.AccessToken)
	require.Equal(t, 1, st.fake.TokenRequests(chain, "client_credentials"))
	require.Equal(t, 1, st.fake.TokenRequests(chain, "refresh_token"))
}

// requireMount: `vault secrets list -detailed` shows the mount pinned to
// pinned's version and running running's binary, which reports its version.
func requireMount(t *testing.T, v *vaultharness.Server, pinned, running *vaultharness.Plugin) {
	t.Helper()
	var mounts map[string]struct {
		PluginVersion        string `json:"plugin_version"`
		RunningPluginVersion string `json:"running_plugin_version"`
		RunningSHA256        string `json:"running_sha256"`
	}
	out := v.MustCLI(t, "secrets", "list", "-detailed", "-format=json")
	require.NoError(t, json.Unmarshal([]byte(out), &mounts), out)
	m, ok := mounts[mount+"/"]
	require.True(t, ok, "no mount %s/ in %s", mount, out)
	require.Equal(t, pinned.Version, m.PluginVersion, "the mount's pinned version")
	require.Equal(t, running.Version, m.RunningPluginVersion)
	require.Equal(t, running.SHA256, m.RunningSHA256)
}
