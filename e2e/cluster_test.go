package e2e

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

func TestClusterReadsThroughEveryNode(t *testing.T) {
	cs := newClusterStack(t, 0)
	c := cs.cluster
	active := c.Active(t)
	standbys := c.Standbys(active)
	require.Len(t, standbys, clusterSize-1)
	cs.configure(t, standbys[0], map[string]any{"request_timeout": 60}) // the held mint must outlast the wait for every reader
	auditLog := c.EnableFileAudit(t, active)                            // the active node audits every read, forwarded ones included

	// A cold chain, read by 30 readers at once spread over the three nodes:
	// the standbys forward to the active node, whose plugin makes one call,
	// held open at the fake until every read has reached the active node.
	clients := make([]*api.Client, clusterSize)
	for i := range c.Nodes {
		clients[i] = cs.node(i).NewClientNoRetry(t, 2*time.Minute) // the reads wait for the held mint
	}
	const readers = 30
	began := time.Now()
	token := readWithFirstMintHeld(t, cs.fake, auditLog, clients, readers, tokenPath, "client_credentials")
	t.Logf("%d concurrent cold reads over %d nodes took %s", readers, clusterSize, time.Since(began).Round(time.Millisecond))
	require.True(t, cs.fake.AccessTokenValid(token))
	require.Equal(t, 1, cs.fake.TokenRequests(chain, "client_credentials"), "one upstream call for 30 readers on 3 nodes")

	// Each node, the standbys included, serves the cached token, the config
	// without its secrets, and a member's credential stored through a standby.
	cs.signIn(t, standbys[1], member)
	for i := range c.Nodes {
		client := cs.node(i).Client
		require.Equal(t, token, readAccessToken(t, client, tokenPath), "token through node%d", i)
		sec, err := client.Logical().Read(configPath)
		require.NoError(t, err)
		require.Equal(t, clientID, sec.Data["client_id"], "config through node%d", i)
		require.Equal(t, true, sec.Data["client_secret_set"])
	}
	cs.requireCredentialEverywhere(t, member)
	require.Equal(t, 1, cs.fake.TokenRequests(chain, "client_credentials"), "reads through standbys use the active node's cache")
	require.Equal(t, 1, cs.fake.TokenRequests(chain, "authorization_code"))
	require.Zero(t, cs.fake.TokenRequests(chain, "refresh_token"))

	calls := cs.upstreamCalls(t)
	t.Logf("upstream calls per node: %s (active node%d)", describeCallsPerNode(calls), active)
	requireCallsFrom(t, calls, active)
	requireStandbyPlugin(t, cs, standbys[0])
	requireStandbyPlugin(t, cs, standbys[1])
}

func TestClusterConfigChangeSeenOnEveryNode(t *testing.T) {
	cs := newClusterStack(t, 0)
	c := cs.cluster
	active := c.Active(t)
	t.Logf("active node%d", active)

	// Written through node 0, read through node 2.
	cs.configure(t, 0, map[string]any{"scope": "a"})
	readSettled(t, cs.node(2).Client, configPath, func(sec *api.Secret) bool { return sec.Data["scope"] == "a" }) // written through node0

	sec, err := cs.node(1).Client.Logical().Read(tokenPath)
	require.NoError(t, err)
	first, _ := sec.Data["access_token"].(string)
	require.Equal(t, "a", sec.Data["scope"])
	require.Equal(t, 1, cs.fake.TokenRequests(chain, "client_credentials"))

	// Changed through node 2: node 0 sees it, and the next token read through
	// node 1 gets a token minted with the new config, not the cached one.
	_, err = cs.node(2).Client.Logical().Write(configPath, map[string]any{"scope": "b"})
	require.NoError(t, err)
	sec = readSettled(t, cs.node(0).Client, configPath, func(sec *api.Secret) bool { return sec.Data["scope"] == "b" }) // changed through node2
	require.Equal(t, clientID, sec.Data["client_id"], "an update changes only the fields it names")

	sec, err = cs.node(1).Client.Logical().Read(tokenPath)
	require.NoError(t, err)
	second, _ := sec.Data["access_token"].(string)
	require.NotEqual(t, first, second, "the token minted with the old config must not outlive it")
	require.Equal(t, "b", sec.Data["scope"])
	require.True(t, cs.fake.AccessTokenValid(second))
	reqs := cs.fake.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "a", reqs[0].Form.Get("scope"))
	require.Equal(t, "b", reqs[1].Form.Get("scope"), "the new token was asked for with the new config")

	// A broken secret is refused when verified; stored unverified through a
	// standby, it takes effect at once, everywhere.
	standby := c.Standbys(active)[0]
	const wrong = "SENTINEL-e2e-wrong-secret-7a1c"
	_, err = cs.node(standby).Client.Logical().Write(configPath, map[string]any{"client_secret": wrong})
	require.ErrorContains(t, err, "invalid_client", "verified through a standby, which forwards the write")
	require.NotContains(t, err.Error(), wrong)
	_, err = cs.node(standby).Client.Logical().Write(configPath, map[string]any{"client_secret": wrong, "verify_connection": false})
	require.NoError(t, err)
	for i := range c.Nodes {
		// No retries: the api client would retry the 502.
		_, err := cs.node(i).NewClientNoRetry(t, clusterReadTimeout).Logical().Read(tokenPath)
		require.Error(t, err, "token through node%d after the secret broke", i)
		require.Contains(t, err.Error(), "invalid_client", "node%d", i)
		require.NotContains(t, err.Error(), wrong)
	}
	cs.configure(t, standby, nil)
	require.True(t, cs.fake.AccessTokenValid(readAccessToken(t, cs.node(standby).Client, tokenPath)))

	calls := cs.upstreamCalls(t)
	t.Logf("upstream calls per node: %s (active node%d)", describeCallsPerNode(calls), active)
	requireCallsFrom(t, calls, active)
}
