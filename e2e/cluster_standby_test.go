package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// standbyOp is one operation a client may send to any node of a cluster,
// and what it costs Resamania: requests to its token endpoint.
type standbyOp struct {
	name string
	want int
	// setup runs through the active node first, uncounted; nil for none.
	setup func(t *testing.T, round int)
	// run is the counted operation, through node; round 0 goes through the
	// active node, round 1 through a standby, each on subjects of its own.
	run func(t *testing.T, node, round int)
}

// An OpenBao standby in its default configuration runs the plugin and
// answers requests itself, forwarding to the active node what it cannot
// finish; a Vault Community standby forwards everything. Either way an
// operation through a standby costs Resamania what it costs through the
// active node, and only the active node's plugin calls Resamania.
func TestClusterStandbyCostsAsActive(t *testing.T) {
	cs := newClusterStack(t, 0)
	cs.fake.AddClub(chain, 12)
	cs.fake.AddClub(chain, 13)
	cs.fake.AddMember(chain, memberEmail, memberPassword) // the contacts, as Resamania knows them
	// Refresh tokens an app holds, from grants outside the plugin; the fake
	// then forgets those requests, so that every one it records is the plugin's.
	imported := []string{appRefreshToken(t, cs.fake), appRefreshToken(t, cs.fake)}
	cs.fake.ResetCounters()

	c := cs.cluster
	active := c.Active(t)
	standby := c.Standbys(active)[0]
	cs.configure(t, active, nil)
	signedIn := make([]time.Time, 2)
	ops := []standbyOp{
		{name: "config write, verified", want: 1, run: func(t *testing.T, i, r int) {
			n := cs.node(i)
			_, err := n.Client.Logical().Write(configPath, map[string]any{"scope": fmt.Sprintf("verified%d", r), "verify_connection": true})
			require.NoError(t, err)
		}},
		{name: "token read, cold", want: 1,
			setup: func(t *testing.T, r int) { cs.configure(t, active, map[string]any{"scope": fmt.Sprintf("cold%d", r)}) },
			run:   func(t *testing.T, i, _ int) { readAccessToken(t, cs.node(i).Client, tokenPath) }},
		{name: "token read, cached", want: 0, run: func(t *testing.T, i, _ int) { readAccessToken(t, cs.node(i).Client, tokenPath) }},
		{name: "club token read", want: 1, run: func(t *testing.T, i, r int) {
			n := cs.node(i)
			readAccessToken(t, n.Client, fmt.Sprintf("%s/clubs/%d", tokenPath, 12+r))
		}},
		{name: "contact write", want: 0, run: func(t *testing.T, i, r int) {
			n := cs.node(i)
			_, err := n.Client.Logical().Write(contactPath(r), map[string]any{"email": memberEmail})
			require.NoError(t, err)
		}},
		{name: "contact token read", want: 1, run: func(t *testing.T, i, r int) {
			n := cs.node(i)
			readAccessToken(t, n.Client, fmt.Sprintf("%s/contacts/contact%d", tokenPath, r))
		}},
		{name: "sign-in", want: 1, run: func(t *testing.T, i, r int) {
			cs.signIn(t, i, signedInName(r))
			signedIn[r] = time.Now()
		}},
		{name: "credential read, cached", want: 0, run: func(t *testing.T, i, r int) {
			n := cs.node(i)
			readAccessToken(t, n.Client, credsPrefix+signedInName(r))
		}},
		{name: "refresh", want: 1, run: func(t *testing.T, i, r int) {
			n := cs.node(i)
			// Tokens live an hour: asking for all but 2 s of it refreshes one
			// older than that, and the new one meets it.
			time.Sleep(time.Until(signedIn[r].Add(2500 * time.Millisecond)))
			sec, err := n.Client.Logical().ReadWithData(credsPrefix+signedInName(r), map[string][]string{"minimum_seconds": {"3598"}})
			require.NoError(t, err)
			require.NotNil(t, sec)
		}},
		{name: "import", want: 1, run: func(t *testing.T, i, r int) {
			n := cs.node(i)
			_, err := n.Client.Logical().Write(credsPrefix+fmt.Sprintf("imported%d", r), map[string]any{"refresh_token": imported[r]})
			require.NoError(t, err)
		}},
		{name: "credential delete", want: 0, run: func(t *testing.T, i, r int) {
			n := cs.node(i)
			_, err := n.Client.Logical().Delete(credsPrefix + signedInName(r))
			require.NoError(t, err)
		}},
		{name: "contact delete", want: 0, run: func(t *testing.T, i, r int) {
			n := cs.node(i)
			_, err := n.Client.Logical().Delete(contactPath(r))
			require.NoError(t, err)
		}},
		{name: "chain delete", want: 0,
			setup: func(t *testing.T, _ int) { cs.configure(t, active, nil) },
			run: func(t *testing.T, i, _ int) {
				n := cs.node(i)
				_, err := n.Client.Logical().Delete(configPath)
				require.NoError(t, err)
				sec, err := cs.node(active).Client.Logical().Read(configPath)
				require.NoError(t, err)
				require.Nil(t, sec, "the chain is gone on the active node")
			}},
	}

	var figures []string
	for _, op := range ops {
		costs := make([]int, 2)
		for round, node := range []int{active, standby} {
			if op.setup != nil {
				op.setup(t, round)
			}
			before := len(cs.fake.Requests())
			op.run(t, node, round)
			costs[round] = len(cs.fake.Requests()) - before
		}
		figures = append(figures, fmt.Sprintf("%-24s active %d, standby %d", op.name, costs[0], costs[1]))
		require.Equal(t, op.want, costs[0], "%s through the active node%d", op.name, active)
		require.Equal(t, costs[0], costs[1], "%s through standby node%d costs Resamania what it costs through the active node%d", op.name, standby, active)
	}
	t.Logf("%s: requests to Resamania per operation, through the active node%d and through standby node%d:\n  %s",
		vaultharness.SelectedFlavor(t), active, standby, strings.Join(figures, "\n  "))

	calls := cs.upstreamCalls(t)
	requireCallsFrom(t, calls, active)
	requireNoRefreshTokenReused(t, calls)
	requireStandbyPlugin(t, cs, standby)
}

// TestClusterStandbyServesTheNewConfig: a config changed on the active node
// is what a read through a standby serves: its token read mints with the new
// config at once, and its config read shows it once the standby has it.
func TestClusterStandbyServesTheNewConfig(t *testing.T) {
	cs := newClusterStack(t, 0)
	c := cs.cluster
	active := c.Active(t)
	standby := c.Standbys(active)[0]
	cs.configure(t, active, map[string]any{"scope": "old"})
	first := readScopedToken(t, cs.node(standby).Client, "old")

	changed := time.Now()
	cs.configure(t, active, map[string]any{"scope": "new"})
	second := readScopedToken(t, cs.node(standby).Client, "new")
	require.NotEqual(t, first, second, "the token minted with the old config must not outlive it")
	reqs := cs.fake.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "new", reqs[1].Form.Get("scope"), "the standby's read was minted with the new config")

	// A config read is answered by an OpenBao standby from its own storage,
	// which follows the active node's (eventually consistent).
	require.Eventually(t, func() bool {
		sec, err := cs.node(standby).Client.Logical().Read(configPath)
		return err == nil && sec != nil && sec.Data["scope"] == "new"
	}, 5*time.Second, 20*time.Millisecond, "config read through standby node%d", standby)
	t.Logf("%s: standby node%d showed the new config %s after the write through node%d began",
		vaultharness.SelectedFlavor(t), standby, time.Since(changed).Round(time.Millisecond), active)
	requireCallsFrom(t, cs.upstreamCalls(t), active)
}

// readScopedToken reads the chain's token through c and checks its scope.
func readScopedToken(t *testing.T, c *api.Client, scope string) string {
	t.Helper()
	sec, err := c.Logical().Read(tokenPath)
	require.NoError(t, err)
	require.NotNil(t, sec)
	require.Equal(t, scope, sec.Data["scope"])
	tok, _ := sec.Data["access_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

// requireStandbyPlugin: an OpenBao standby in its default configuration runs
// the plugin (it answers reads); a Vault Community standby does not. Either
// way it sent Resamania nothing (requireCallsFrom).
func requireStandbyPlugin(t *testing.T, cs *clusterStack, standby int) {
	t.Helper()
	pids := cs.node(standby).PluginPIDs()
	if vaultharness.SelectedFlavor(t) == vaultharness.FlavorOpenBao {
		require.NotEmpty(t, pids, "OpenBao's standby node%d runs the plugin to answer reads: are standby reads off?", standby)
		return
	}
	require.Empty(t, pids, "Vault's standby node%d forwards everything and runs no plugin", standby)
}

func contactPath(round int) string {
	return fmt.Sprintf("%s/contacts/%s/contact%d", mount, chain, round)
}

func signedInName(round int) string { return fmt.Sprintf("member%d", round) }

// appRefreshToken is a refresh token an app got on its own, outside the
// plugin: a member's code exchanged at the token endpoint, through the gateway.
func appRefreshToken(t *testing.T, fake *fakeresamania.Server) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fake.TokenURL(chain), strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {fake.IssueCode(chain, clientID, redirectURI, member)},
		"redirect_uri": {redirectURI}, "client_id": {clientID}, "client_secret": {clientSecret},
	}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("x-gravitee-api-key", gatewayKey)
	grant, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer grant.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	require.NoError(t, json.NewDecoder(grant.Body).Decode(&body))
	require.NotEmpty(t, body.RefreshToken)
	return body.RefreshToken
}
