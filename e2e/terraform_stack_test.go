package e2e

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// What examples/terraform needs besides the chain's secrets in stack_test.go.
const (
	statePassphrase = "SENTINEL-e2e-state-passphrase-5b1e"
	wrongSecret     = "SENTINEL-e2e-wrong-client-secret-0a9d"
	club            = 1234
)

// tofuStack is a server whose plugin directory holds the plugin, not yet
// registered, a fake Resamania server, and a copy of examples/ whose
// terraform/ folder tofu runs in.
type tofuStack struct {
	server *vaultharness.Server
	fake   *fakeresamania.Server
	plugin *vaultharness.Plugin
	audit  string
	tofu   *vaultharness.Tofu
}

func newTofuStack(t *testing.T) *tofuStack {
	t.Helper()
	vaultharness.Require(t)
	vaultharness.RequireTofu(t) // skips before anything starts when tofu is not here
	fake := startFake(t, 0)
	fake.AddClub(chain, club)
	st := &tofuStack{fake: fake}
	h := vaultharness.StartStack(t, vaultharness.StackOptions{
		// sys/raw shows that a destroy leaves nothing of the mount in storage.
		Server:        vaultharness.Options{Dev: true, ExtraConfig: "raw_storage_endpoint = true\n"},
		PluginVersion: pluginVer, Unregistered: true, Audit: true,
		Secrets: func() []string {
			secrets := append(secretsToHide(fake), statePassphrase, wrongSecret)
			if st.tofu != nil {
				testsupport.AssertNoSecret(t, "what tofu printed", st.tofu.Output(), secrets)
			}
			return secrets
		},
	})
	st.server, st.plugin, st.audit = h.Server, h.Plugin, h.AuditLog

	root, err := vaultharness.RepoRoot()
	require.NoError(t, err)
	examples := filepath.Join(t.TempDir(), "examples")
	copyExamples(t, filepath.Join(root, "examples"), examples)
	st.tofu = vaultharness.NewTofu(t, st.server.Process, filepath.Join(examples, "terraform"),
		"TF_VAR_state_passphrase="+statePassphrase, "TF_VAR_chain_secrets="+chainSecrets(clientSecret))
	return st
}

// chainSecrets is TF_VAR_chain_secrets with the chain's client secret.
func chainSecrets(secret string) string {
	raw, _ := json.Marshal(map[string]any{chain: map[string]string{"client_secret": secret, "api_key": gatewayKey}})
	return string(raw)
}

// writeVars writes terraform.tfvars.json: everything but the secrets, which
// come from the environment as an operator's would.
func (st *tofuStack) writeVars(t *testing.T, chainConfig map[string]any) {
	t.Helper()
	vars := map[string]any{
		"plugin_version": st.plugin.Version,
		"plugin_sha256":  st.plugin.SHA256,
		"allowed_hosts":  []string{"127.0.0.1"}, // the fake's host, and no other
		"chains":         map[string]any{chain: chainConfig},
	}
	raw, err := json.MarshalIndent(vars, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(st.tofu.Dir, "terraform.tfvars.json"), raw, 0o600))
}

// planIsClean runs `tofu plan -detailed-exitcode`: 0 is no change, 2 a change.
func (st *tofuStack) planIsClean(t *testing.T, why string) {
	t.Helper()
	out, code := st.tofu.Run(t, "plan", "-detailed-exitcode", "-input=false")
	require.Equal(t, 0, code, "%s: the plan is not clean:\n%s", why, out)
}

// copyExamples copies examples/ (the policies terraform/ reads with
// ../member-policy.hcl) without what a run by hand may have left in it.
func copyExamples(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if strings.Contains(d.Name(), ".tfstate") || d.Name() == ".terraform.lock.hcl" || strings.HasSuffix(d.Name(), ".tfvars") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), raw, 0o600)
	})
	require.NoError(t, err)
}

// filesHoldNoSecret: no file tofu left in dir holds a secret, the provider's
// binary aside.
func filesHoldNoSecret(t *testing.T, dir string, secrets []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.IsDir() && d.Name() == "providers" {
				return filepath.SkipDir
			}
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		testsupport.AssertNoSecret(t, path, string(raw), secrets)
		return nil
	})
	require.NoError(t, err)
}
