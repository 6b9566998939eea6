package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// examples/terraform, as it is, run by OpenTofu (offline: the vault provider
// from a filesystem mirror) against the server: the plugin registered by
// sum and version and mounted, the chain configured from variables with its
// secrets in sensitive ones, the example policies. Then: a clean plan, an
// update that settles, a wrong secret refused by the plugin while the
// config in force keeps serving, a destroy that leaves nothing, and no
// secret in the encrypted state, in what tofu printed or in the server's
// logs (the stack's scan).
func TestTerraformExample(t *testing.T) {
	st := newTofuStack(t)
	v := st.server
	// Forms the plugin normalises, as an operator may write them: each must
	// read back as written, or every plan would show a change.
	cfg := map[string]any{
		"api_base_url":          st.fake.URL() + "/",
		"client_id":             clientID,
		"refresh_token_ttl":     "24h",
		"request_timeout":       "15", // whole seconds: the example sends a number
		"lease_mode":            "renewable",
		"allowed_redirect_uris": []string{redirectURI},
	}
	st.writeVars(t, cfg)
	st.tofu.Must(t, "init", "-input=false")
	st.tofu.Must(t, "apply", "-auto-approve", "-input=false")

	// The plugin, registered under its version, and the mount pinned to it.
	info := v.ReadJSON(t, "sys/plugins/catalog/secret/"+vaultharness.PluginName, "version="+pluginVer)["data"].(map[string]any)
	require.Equal(t, st.plugin.SHA256, info["sha256"])
	mounts, err := v.Client.Sys().ListMounts()
	require.NoError(t, err)
	require.Contains(t, mounts, mount+"/")
	require.Equal(t, vaultharness.PluginName, mounts[mount+"/"].Type)
	require.Equal(t, pluginVer, mounts[mount+"/"].PluginVersion)
	mountUUID := mounts[mount+"/"].UUID

	// The chain's config, each field as written, and its token.
	read := v.ReadJSON(t, configPath)["data"].(map[string]any)
	require.Equal(t, st.fake.URL()+"/", read["api_base_url"])
	require.Equal(t, "24h", read["refresh_token_ttl"])
	require.EqualValues(t, 15, read["request_timeout"])
	require.Equal(t, "renewable", read["lease_mode"])
	require.Equal(t, true, read["client_secret_set"])
	require.Equal(t, true, read["api_key_set"])
	require.True(t, st.fake.AccessTokenValid(readAccessToken(t, v.Client, tokenPath)))

	// The example policies, as the files and the README give them.
	st.checkPolicies(t)
	st.planIsClean(t, "right after the apply")

	// An update settles: applied, then nothing left to change.
	cfg["lease_mode"], cfg["refresh_token_ttl"], cfg["scope"] = "none", "48h", "read"
	st.writeVars(t, cfg)
	st.tofu.Must(t, "apply", "-auto-approve", "-input=false")
	read = v.ReadJSON(t, configPath)["data"].(map[string]any)
	require.Equal(t, "none", read["lease_mode"])
	require.Equal(t, "48h", read["refresh_token_ttl"])
	require.Equal(t, "read", read["scope"])
	st.planIsClean(t, "after an update")

	st.wrongSecretChangesNothing(t)

	// The state: encrypted, so neither a secret nor anything else of the
	// configs (the client_id is in data_json) is readable in it.
	filesHoldNoSecret(t, st.tofu.Dir, append(secretsToHide(st.fake), statePassphrase, wrongSecret))
	state, err := os.ReadFile(filepath.Join(st.tofu.Dir, "terraform.tfstate"))
	require.NoError(t, err)
	var encrypted struct {
		EncryptedData string `json:"encrypted_data"`
	}
	require.NoError(t, json.Unmarshal(state, &encrypted))
	require.NotEmpty(t, encrypted.EncryptedData, "the state is encrypted")
	require.NotContains(t, string(state), clientID, "nothing of data_json in clear text")

	// Destroy leaves nothing: no mount, no policy, no plugin in the
	// catalog, nothing of the mount in storage; the chain was deleted
	// through the plugin, with all it held, before the mount went.
	st.tofu.Must(t, "destroy", "-auto-approve", "-input=false")
	mounts, err = v.Client.Sys().ListMounts()
	require.NoError(t, err)
	require.NotContains(t, mounts, mount+"/")
	policies, err := v.Client.Sys().ListPolicies()
	require.NoError(t, err)
	for _, p := range policies {
		require.False(t, strings.HasPrefix(p, "resamania-"), "policy %s left behind", p)
	}
	_, err = v.Client.Sys().GetPlugin(&api.GetPluginInput{Type: api.PluginTypeSecrets, Name: vaultharness.PluginName, Version: pluginVer})
	var notFound *api.ResponseError
	require.ErrorAs(t, err, &notFound, "the plugin is still in the catalog")
	require.Equal(t, 404, notFound.StatusCode)
	left, err := v.Client.Logical().List("sys/raw/logical/" + mountUUID + "/")
	require.NoError(t, err)
	require.Nil(t, left, "the mount's storage is empty")
	require.Positive(t, auditedOperations(t, st.audit, "delete", configPath), "the chain's config was deleted through the plugin")
	filesHoldNoSecret(t, st.tofu.Dir, append(secretsToHide(st.fake), statePassphrase, wrongSecret))
}

// checkPolicies: the member and metrics policies are the example files word
// for word, and each policy grants what it says and no more.
func (st *tofuStack) checkPolicies(t *testing.T) {
	t.Helper()
	v := st.server
	root, err := vaultharness.RepoRoot()
	require.NoError(t, err)
	for name, file := range map[string]string{"resamania-member-" + chain: "member-policy.hcl", "resamania-metrics": "metrics-policy.hcl"} {
		want, err := os.ReadFile(filepath.Join(root, "examples", file))
		require.NoError(t, err)
		got, err := v.Client.Sys().GetPolicy(name)
		require.NoError(t, err)
		require.Equal(t, string(want), got, "policy %s is examples/%s", name, file)
	}
	app, err := v.Client.Sys().GetPolicy("resamania-app-" + chain)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("path %q {\n  capabilities = [\"read\"]\n}\n", tokenPath), app, "the README's policy for an app")

	token := func(policy string) string {
		return strings.TrimSpace(v.MustCLI(t, "token", "create", "-policy="+policy, "-field=token"))
	}
	c := st.clientAs(t, token("resamania-app-"+chain))
	require.True(t, st.fake.AccessTokenValid(readAccessToken(t, c, tokenPath)))
	requireDenied(t, c, credsPrefix+"alice")
	requireDenied(t, c, configPath)
	c = st.clientAs(t, token("resamania-metrics"))
	sec, err := c.Logical().Read(mount + "/metrics")
	require.NoError(t, err)
	require.NotNil(t, sec)
	requireDenied(t, c, tokenPath)
}

// wrongSecretChangesNothing: an apply with a wrong client_secret fails with
// the plugin's 400 (its verification asked Resamania, which refused), and
// the config in force keeps minting. With the right secret back, the next
// apply settles.
func (st *tofuStack) wrongSecretChangesNothing(t *testing.T) {
	t.Helper()
	st.tofu.SetEnv("TF_VAR_chain_secrets", chainSecrets(wrongSecret))
	out, code := st.tofu.Run(t, "apply", "-auto-approve", "-input=false")
	require.Equal(t, 1, code, "an apply with a wrong secret fails:\n%s", out)
	for line := range strings.Lines(out) {
		if strings.Contains(line, "Error") || strings.Contains(line, "Code:") || strings.Contains(line, "*") {
			t.Logf("the failed apply said: %s", strings.TrimSpace(line))
		}
	}
	require.Contains(t, out, "Code: 400")
	require.Contains(t, out, "invalid_client")
	require.Contains(t, out, "Nothing was stored")
	// A club token is minted now, with what the config holds.
	c := st.clientAs(t, st.server.RootToken)
	require.True(t, st.fake.AccessTokenValid(readAccessToken(t, c, fmt.Sprintf("%s/clubs/%d", tokenPath, club))), "the old config mints")
	require.True(t, st.fake.AccessTokenValid(readAccessToken(t, c, tokenPath)))

	// The provider keeps in the state what it failed to write (the plugin
	// SDK's rule for a failed update), so while the wrong secret stays in
	// the variables the plan is clean: docs/terraform.md warns of it.
	st.planIsClean(t, "the wrong secret still in the variables")
	st.tofu.SetEnv("TF_VAR_chain_secrets", chainSecrets(clientSecret))
	out, code = st.tofu.Run(t, "plan", "-detailed-exitcode", "-input=false")
	require.Equal(t, 2, code, "the right secret back, the plan writes it:\n%s", out)
	st.tofu.Must(t, "apply", "-auto-approve", "-input=false")
	st.planIsClean(t, "after the failed apply, the right secret back")
}

// clientAs is an API client of the server that authenticates with token.
func (st *tofuStack) clientAs(t *testing.T, token string) *api.Client {
	t.Helper()
	c, err := st.server.Client.Clone()
	require.NoError(t, err)
	c.SetToken(token)
	return c
}
