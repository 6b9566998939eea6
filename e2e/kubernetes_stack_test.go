package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// kubeTokenLife is how long the fake's access tokens live in the
// Kubernetes test: short, so that a few token lives fit in a test.
const kubeTokenLife = 24 * time.Second

// appNamespace is the namespace of examples/kubernetes/.
const appNamespace = "app"

// The chains of the Kubernetes test beside the examples' mychain (which is
// lease_mode=none, read with allowStaticCreds): one per other way VSO can
// read a token, each with a VaultDynamicSecret derived from chain-token.yaml.
const (
	leasedChain  = "leasedchain"  // lease_mode=non_renewable (the default): VSO reads again at 67-77 % of each lease
	renewChain   = "renewchain"   // lease_mode=renewable: VSO renews, the renewal is cut short, VSO reads again
	refreshChain = "refreshchain" // lease_mode=none without allowStaticCreds: VSO reads every refreshAfter
	clubID       = 1234           // the club of club-token.yaml
)

// vsoSecret is one VaultDynamicSecret of the test and the chain it reads.
type vsoSecret struct {
	name  string // the VaultDynamicSecret, and its destination Secret
	chain string
	grant string // the grant that mints its tokens at Resamania
	// minMintGap is the least time between two tokens the plugin mints for
	// it, whatever its readers do: the bound on what it costs Resamania.
	minMintGap time.Duration
}

var (
	staticMintGap    = kubeTokenLife * 2 / 3    // the cache serves a token until a third of its life is left
	renewableMintGap = kubeTokenLife * 55 / 100 // a renewable read takes a token with 45 % of its life left
)

// The test's VaultDynamicSecrets: the three examples, then the lease modes.
var vsoSecrets = []vsoSecret{
	{"resamania-chain-token", chain, fakeresamania.GrantClientCredentials, staticMintGap},
	{"resamania-club-token", chain, fakeresamania.GrantClubCredentials, staticMintGap},
	{"resamania-member-alice", chain, fakeresamania.GrantRefreshToken, staticMintGap},
	{"resamania-leased-token", leasedChain, fakeresamania.GrantClientCredentials, staticMintGap},
	{"resamania-renewable-token", renewChain, fakeresamania.GrantClientCredentials, renewableMintGap},
	{"resamania-refresh-token", refreshChain, fakeresamania.GrantClientCredentials, staticMintGap},
}

// kubeStack is the plugin in a real Vault or OpenBao, a Kubernetes API
// server, the Vault Secrets Operator signed in with AppRole, and the files
// of examples/kubernetes/ applied.
type kubeStack struct {
	*stack
	kube     *vaultharness.Kube
	vso      *vaultharness.VSO
	secretID string    // the AppRole secret ID VSO signs in with
	synced   time.Time // when the VaultDynamicSecrets were created
}

// newKubeStack starts it all. Without the Kubernetes binaries the test is
// skipped (it fails under CI=true) before anything starts.
func newKubeStack(t *testing.T) *kubeStack {
	t.Helper()
	bins := vaultharness.RequireKube(t)
	ks := &kubeStack{stack: newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}, expiresIn: int(kubeTokenLife.Seconds())})}
	ks.fake.AddClub(chain, clubID)
	for _, c := range []string{leasedChain, renewChain, refreshChain} {
		ks.fake.AddClient(fakeresamania.Client{ClientToken: c, ClientID: clientID, ClientSecret: clientSecret, ExpiresIn: int(kubeTokenLife.Seconds())})
	}
	ks.configure(t, "lease_mode=none")
	ks.configureChain(t, leasedChain)
	ks.configureChain(t, renewChain, "lease_mode=renewable")
	ks.configureChain(t, refreshChain, "lease_mode=none")
	ks.signIn(t, member)
	roleID := ks.appRoleForVSO(t)

	ks.kube = vaultharness.StartKube(t, bins, vaultharness.KubeOptions{Secrets: func() []string {
		return append(secretsToHide(ks.fake), ks.secretID)
	}})
	ks.vso = vaultharness.StartVSO(t, ks.kube)
	ks.kube.Create(t, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": appNamespace}})
	ks.applyExamples(t, roleID)
	return ks
}

// configureChain writes the config of another chain than mychain, not verified.
func (st *stack) configureChain(t *testing.T, name string, extra ...string) {
	t.Helper()
	args := []string{"write", mount + "/config/" + name,
		"api_base_url=" + st.fake.URL(), "client_id=" + clientID, "client_secret=" + clientSecret, "api_key=" + gatewayKey,
		"verify_connection=false"}
	st.vault.MustCLI(t, append(args, extra...)...)
}

// appRoleForVSO sets up the AppRole of vault-auth-approle.yaml with the
// example's policy, plus a policy of the test's own for the other chains,
// and returns its role ID; the secret ID goes to ks.secretID.
func (ks *kubeStack) appRoleForVSO(t *testing.T) string {
	t.Helper()
	ks.vault.MustCLI(t, "auth", "enable", "approle")
	ks.vault.MustCLI(t, "policy", "write", "resamania-vso", exampleFile(t, "resamania-vso-policy.hcl"))
	var rules strings.Builder
	for _, c := range []string{leasedChain, renewChain, refreshChain} {
		rules.WriteString(`path "` + mount + `/token/` + c + `" { capabilities = ["read"] }` + "\n")
	}
	policy := filepath.Join(t.TempDir(), "lease-modes.hcl")
	require.NoError(t, os.WriteFile(policy, []byte(rules.String()), 0o600))
	ks.vault.MustCLI(t, "policy", "write", "resamania-vso-lease-modes", policy)
	ks.vault.MustCLI(t, "write", "auth/approle/role/resamania-reader", "token_policies=resamania-vso,resamania-vso-lease-modes", "token_ttl=1h")
	roleID := strings.TrimSpace(ks.vault.MustCLI(t, "read", "-field=role_id", "auth/approle/role/resamania-reader/role-id"))
	ks.secretID = strings.TrimSpace(ks.vault.MustCLI(t, "write", "-f", "-field=secret_id", "auth/approle/role/resamania-reader/secret-id"))
	return roleID
}

// exampleFile is the path of a file of examples/kubernetes/.
func exampleFile(t *testing.T, name string) string {
	t.Helper()
	root, err := vaultharness.RepoRoot()
	require.NoError(t, err)
	return filepath.Join(root, "examples", "kubernetes", name)
}

// applyExamples creates the objects of examples/kubernetes/ as they are,
// but for Vault's address and the AppRole's IDs, then the test's other
// VaultDynamicSecrets, derived from chain-token.yaml, and a Deployment for
// the leased one to restart.
func (ks *kubeStack) applyExamples(t *testing.T, roleID string) {
	t.Helper()
	ks.applyExample(t, "vault-connection.yaml", func(obj map[string]any) {
		obj["spec"].(map[string]any)["address"] = ks.vault.Addr
	})
	ks.applyExample(t, "vault-auth-approle.yaml", func(obj map[string]any) {
		switch obj["kind"] {
		case "Secret":
			data := obj["stringData"].(map[string]any)
			require.Equal(t, "SECRET_ID", data["id"], "the example's placeholder")
			data["id"] = ks.secretID
		case "VaultAuth":
			appRole := vaultharness.Nested(obj, "spec", "appRole").(map[string]any)
			require.Equal(t, "ROLE_ID", appRole["roleId"], "the example's placeholder")
			appRole["roleId"] = roleID
		}
	})
	deployments := vaultharness.MustReadManifests(t, exampleFile(t, "deployments.yaml"))
	for _, d := range deployments {
		ks.kube.Create(t, d)
	}
	// The leased chain's Deployment: a copy of club-kiosk, to count what a
	// leased token's re-reads restart.
	leasedKiosk := deepCopy(t, deployments[1])
	leasedKiosk["metadata"].(map[string]any)["name"] = "leased-kiosk"
	ks.kube.Create(t, leasedKiosk)

	ks.synced = time.Now()
	for _, f := range []string{"chain-token.yaml", "club-token.yaml", "member-credential.yaml"} {
		ks.applyExample(t, f, nil)
	}
	base := vaultharness.MustReadManifests(t, exampleFile(t, "chain-token.yaml"))[0]
	ks.kube.Create(t, deriveVDS(t, base, "resamania-leased-token", leasedChain, func(spec map[string]any) {
		spec["rolloutRestartTargets"] = []any{map[string]any{"kind": "Deployment", "name": "leased-kiosk"}}
	}))
	ks.kube.Create(t, deriveVDS(t, base, "resamania-renewable-token", renewChain, nil))
	ks.kube.Create(t, deriveVDS(t, base, "resamania-refresh-token", refreshChain, func(spec map[string]any) {
		// Under a third of the token's life: a read hands out a token with
		// at least that much left, and VSO reads again at 67-77 % of this.
		spec["refreshAfter"] = "8s"
	}))
}

// applyExample creates each object of an example file, after edit (nil
// for none) has changed what only the test can know.
func (ks *kubeStack) applyExample(t *testing.T, name string, edit func(obj map[string]any)) {
	t.Helper()
	objs := vaultharness.MustReadManifests(t, exampleFile(t, name))
	require.NotEmpty(t, objs, name)
	for _, obj := range objs {
		if edit != nil {
			edit(obj)
		}
		ks.kube.Create(t, obj)
	}
}

// deriveVDS is chain-token.yaml's VaultDynamicSecret for another chain,
// read as a leased secret (no allowStaticCreds), with edit's changes.
func deriveVDS(t *testing.T, base map[string]any, name, chainName string, edit func(spec map[string]any)) map[string]any {
	t.Helper()
	obj := deepCopy(t, base)
	obj["metadata"].(map[string]any)["name"] = name
	spec := obj["spec"].(map[string]any)
	require.Equal(t, "token/"+chain, spec["path"], "chain-token.yaml reads the chain's own token")
	spec["path"] = "token/" + chainName
	delete(spec, "allowStaticCreds")
	spec["destination"].(map[string]any)["name"] = name
	if edit != nil {
		edit(spec)
	}
	return obj
}

func deepCopy(t *testing.T, obj map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(obj)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// vdsPath is the API path of one of the test's VaultDynamicSecrets.
func vdsPath(name string) string {
	return vaultharness.ResourcePath("secrets.hashicorp.com/v1beta1", "VaultDynamicSecret", appNamespace, name)
}

// deploymentGeneration is a Deployment's generation: 1 when created, one
// more for each change of its spec, such as VSO's restartedAt annotation.
func (ks *kubeStack) deploymentGeneration(t *testing.T, name string) (generation int, restartedAt string) {
	t.Helper()
	d := ks.kube.MustGet(t, vaultharness.ResourcePath("apps/v1", "Deployment", appNamespace, name))
	g, _ := vaultharness.Nested(d, "metadata", "generation").(float64)
	at, _ := vaultharness.Nested(d, "spec", "template", "metadata", "annotations", "vso.secrets.hashicorp.com/restartedAt").(string)
	return int(g), at
}
