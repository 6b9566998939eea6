package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// clusterStack is newStack's high-availability variant: a three-node Vault
// cluster on integrated storage with the plugin mounted, and a fake
// Resamania server.
type clusterStack struct {
	cluster *vaultharness.Cluster
	fake    *fakeresamania.Server
	plugin  *vaultharness.Plugin
}

const (
	clusterSize         = 3
	clusterReadTimeout  = 15 * time.Second // one read through a node, forwarding included
	clusterFailoverSLO  = 30 * time.Second // kill of the active node to the first good read
	clusterQuietTimeout = 20 * time.Second // to find a moment with no refresh in flight
)

// newClusterStack starts the fake (its tokens live expiresIn seconds; 0 is an
// hour), builds the plugin, starts the cluster and mounts the plugin.
func newClusterStack(t *testing.T, expiresIn int) *clusterStack {
	t.Helper()
	vaultharness.Require(t)
	fake := startFake(t, expiresIn)
	h := vaultharness.StartStack(t, vaultharness.StackOptions{
		Nodes: clusterSize, PluginVersion: pluginVer, Mount: mount,
		Secrets: func() []string { return secretsToHide(fake) },
	})
	return &clusterStack{cluster: h.Cluster, fake: fake, plugin: h.Plugin}
}

// node is node i's vault server.
func (cs *clusterStack) node(i int) *vaultharness.Process { return cs.cluster.Nodes[i].Process }

// configure writes the chain's config through node i (a standby forwards it).
func (cs *clusterStack) configure(t *testing.T, i int, extra map[string]any) {
	t.Helper()
	// Unverified unless extra says so, as stack.configure.
	data := map[string]any{"api_base_url": cs.fake.URL(), "client_id": clientID, "client_secret": clientSecret, "api_key": gatewayKey, "verify_connection": false,
		"allowed_redirect_uris": redirectURI}
	for k, v := range extra {
		data[k] = v
	}
	_, err := cs.node(i).Client.Logical().Write(configPath, data)
	require.NoError(t, err, "write config through node%d", i)
}

// signIn stores a member's credential through node i: the login URL from
// the plugin, the member's browser step, the code and state written back.
func (cs *clusterStack) signIn(t *testing.T, i int, name string) {
	t.Helper()
	client := cs.node(i).Client
	sec, err := client.Logical().Write(mount+"/auth-code-url/"+chain, map[string]any{"name": name, "redirect_uri": redirectURI})
	require.NoError(t, err, "login URL through node%d", i)
	require.NotNil(t, sec, "login URL through node%d", i)
	loginURL, _ := sec.Data["url"].(string)
	state, _ := sec.Data["state"].(string)
	code := memberSignsIn(t, cs.fake, loginURL, state)
	_, err = client.Logical().Write(credsPrefix+name, map[string]any{"code": code, "redirect_uri": redirectURI, "state": state})
	require.NoError(t, err, "store credential %s through node%d", name, i)
}

// signInAtOnce stores n members' credentials ("member0", ...) at the same
// moment, member m through node through[m%len(through)], from codes the fake
// issued as if each had signed in, so their refreshes stay in step. It
// returns their names.
func (cs *clusterStack) signInAtOnce(t *testing.T, n int, through []int) []string {
	t.Helper()
	names := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for m := range n {
		names[m] = fmt.Sprintf("member%d", m)
		code := cs.fake.IssueCode(chain, clientID, redirectURI, names[m])
		client := cs.node(through[m%len(through)]).Client
		state := issueState(t, client, mount, chain, names[m])
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[m] = client.Logical().Write(credsPrefix+names[m], map[string]any{"code": code, "redirect_uri": redirectURI, "state": state})
		}()
	}
	wg.Wait()
	for m := range n {
		require.NoError(t, errs[m], "sign-in of %s", names[m])
	}
	return names
}

// requireCredentialEverywhere reads name's credential and its status through
// every node: one valid access token everywhere, and the state active. It
// returns the token.
func (cs *clusterStack) requireCredentialEverywhere(t *testing.T, name string) string {
	t.Helper()
	var first string
	for i := range cs.cluster.Nodes {
		client := cs.node(i).Client
		tok := readAccessToken(t, client, credsPrefix+name)
		require.True(t, cs.fake.AccessTokenValid(tok), "%s through node%d", name, i)
		if first == "" {
			first = tok
		}
		require.Equal(t, first, tok, "%s through node%d: one refresh serves every node", name, i)
		readSettled(t, client, credsPrefix+name+"/status", func(sec *api.Secret) bool { return sec.Data["state"] == "active" })
	}
	return first
}

// readSettled reads path through client until settled says the answer is
// the one expected, for at most 5 s, and returns it: an OpenBao standby
// answers reads from its own storage, which follows the active node's a
// moment later (a Vault standby forwards them).
func readSettled(t *testing.T, client *api.Client, path string, settled func(*api.Secret) bool) *api.Secret {
	t.Helper()
	var (
		sec *api.Secret
		err error
	)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if sec, err = client.Logical().Read(path); err == nil && sec != nil && settled(sec) {
			return sec
		}
	}
	require.NoError(t, err, "read %s through %s", path, client.Address())
	require.NotNil(t, sec, "read %s through %s", path, client.Address())
	require.True(t, settled(sec), "read %s through %s: %v", path, client.Address(), sec.Data)
	return sec
}
