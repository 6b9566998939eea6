package resamania

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// A performance standby (Vault Enterprise's, and every standby of OpenBao 2.5+
// on raft in its default configuration) runs the plugin and answers requests
// itself; one whose storage write fails there is replayed whole on the active
// node. An operation that may call Resamania or write storage must therefore
// be forwarded before it starts, or what it did before its first write (a
// token request, a cache drop) is done twice. Only what reads storage and
// nothing else is answered where it arrives.

// forwardingCase is one operation of the backend, named by a request path it
// serves, and whether it is forwarded from performance standbys and
// secondaries (ForwardPerformanceStandby and ForwardPerformanceSecondary).
type forwardingCase struct {
	path    string
	op      logical.Operation
	forward bool
	why     string
}

var forwardingTable = []forwardingCase{
	{"config/" + testChain, logical.CreateOperation, true, "verifies with a token request, then stores"},
	{"config/" + testChain, logical.UpdateOperation, true, "verifies with a token request, then stores"},
	{"config/" + testChain, logical.ReadOperation, false, "reads storage"},
	{"config/" + testChain, logical.DeleteOperation, true, "deletes everything under the chain"},
	{"config/", logical.ListOperation, false, "lists storage"},
	{"token/" + testChain, logical.ReadOperation, true, "a miss mints a token and stores it"},
	{"token/" + testChain + "/clubs/42", logical.ReadOperation, true, "a miss mints a token and stores it"},
	{"token/" + testChain + "/contacts/bob", logical.ReadOperation, true, "a miss mints a token and stores it"},
	{"contacts/" + testChain + "/bob", logical.CreateOperation, true, "stores the contact, deletes its token"},
	{"contacts/" + testChain + "/bob", logical.UpdateOperation, true, "stores the contact, deletes its token"},
	{"contacts/" + testChain + "/bob", logical.ReadOperation, false, "reads storage"},
	{"contacts/" + testChain + "/bob", logical.DeleteOperation, true, "deletes the contact and its token"},
	{"contacts/" + testChain + "/", logical.ListOperation, false, "lists storage"},
	{"auth-code-url/" + testChain, logical.UpdateOperation, true, "stores the sign-in's state"},
	{credPath, logical.CreateOperation, true, "exchanges a code or refreshes, then stores the refresh token"},
	{credPath, logical.UpdateOperation, true, "exchanges a code or refreshes, then stores the refresh token"},
	{credPath, logical.ReadOperation, true, "a refresh rotates the refresh token, which must be stored"},
	{credPath, logical.DeleteOperation, true, "deletes the credential"},
	{credPath + "/status", logical.ReadOperation, false, "reads storage"},
	{"creds/" + testChain + "/", logical.ListOperation, false, "lists storage"},
	{"metrics", logical.ReadOperation, false, "this node's own figures"},
}

// TestForwardingFlagsOfEveryOperation: each operation of the backend's Paths
// is in the table, and carries both flags exactly when the table says so.
func TestForwardingFlagsOfEveryOperation(t *testing.T) {
	b := newBackend(time.Now)
	covered := map[*framework.Path]map[logical.Operation]bool{}
	for _, c := range forwardingTable {
		p := b.Route(c.path)
		require.NotNil(t, p, "no path serves %s", c.path)
		handler, ok := p.Operations[c.op]
		require.True(t, ok, "%s %s: no such operation", c.op, c.path)
		props := handler.Properties()
		require.Equal(t, c.forward, props.ForwardPerformanceStandby, "%s %s (pattern %s): ForwardPerformanceStandby; it %s", c.op, c.path, p.Pattern, c.why)
		require.Equal(t, c.forward, props.ForwardPerformanceSecondary, "%s %s (pattern %s): ForwardPerformanceSecondary; it %s", c.op, c.path, p.Pattern, c.why)
		if covered[p] == nil {
			covered[p] = map[logical.Operation]bool{}
		}
		covered[p][c.op] = true
	}
	for _, p := range b.Paths {
		for op := range p.Operations {
			require.True(t, covered[p][op], "%s on pattern %s is not in forwardingTable: say whether a standby may run it", op, p.Pattern)
		}
	}
}

// readOnlyStorage is a standby's view of storage: reads pass, writes are
// refused as Vault and OpenBao refuse them, and counted.
type readOnlyStorage struct {
	logical.Storage
	writes atomic.Int64
}

func (s *readOnlyStorage) Put(context.Context, *logical.StorageEntry) error {
	s.writes.Add(1)
	return logical.ErrReadOnly
}

func (s *readOnlyStorage) Delete(context.Context, string) error {
	s.writes.Add(1)
	return logical.ErrReadOnly
}

// replicaOf is a second mount over env's storage, seen read-only, on a node
// in the given replication state, as Vault and OpenBao set one up there.
func replicaOf(t *testing.T, env *testEnv, state consts.ReplicationState) (*backend, *readOnlyStorage) {
	t.Helper()
	ro := &readOnlyStorage{Storage: env.storage}
	config := logical.TestBackendConfig()
	config.StorageView = ro
	config.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: env.logs})
	config.System.(*logical.StaticSystemView).ReplicationStateVal = state
	b := newBackend(env.clock.Now)
	require.NoError(t, b.Setup(t.Context(), config))
	return b, ro
}

// TestStandbyForwardsBeforeItStarts: on a performance standby or secondary,
// a forwarded operation is refused as read-only before it does anything,
// and the others run there: no request reaches Resamania, nothing is
// written. Forwarded or not, the table above is what is asked.
func TestStandbyForwardsBeforeItStarts(t *testing.T) {
	for _, state := range []consts.ReplicationState{consts.ReplicationPerformanceStandby, consts.ReplicationPerformanceSecondary} {
		t.Run(fmt.Sprint(state), func(t *testing.T) {
			env := getCredsBackend(t, 3600, nil)
			env.signIn(t)
			_, err := env.request(logical.CreateOperation, "contacts/"+testChain+"/bob", map[string]any{"email": testEmail})
			require.NoError(t, err)
			env.readToken(nil)
			before, sent := env.dumpStorage(), len(env.fake.Requests())

			standby, ro := replicaOf(t, env, state)
			for _, c := range forwardingTable {
				resp, err := standby.HandleRequest(t.Context(), &logical.Request{
					Operation: c.op, Path: c.path, Data: writeData(env, c), Storage: ro, MountPoint: "resamania/",
				})
				if c.forward {
					require.ErrorIs(t, err, logical.ErrReadOnly, "%s %s must be forwarded: it %s (answered %v)", c.op, c.path, c.why, resp)
					continue
				}
				require.NoError(t, err, "%s %s runs on the standby", c.op, c.path)
				require.False(t, resp.IsError(), "%s %s: %v", c.op, c.path, resp)
			}
			require.Len(t, env.fake.Requests(), sent, "a standby sends nothing to Resamania")
			require.Zero(t, ro.writes.Load(), "a standby writes nothing")
			require.Equal(t, before, env.dumpStorage())
		})
	}
}

// writeData is a valid write of c's path, one that would reach storage, and
// Resamania where the operation calls it, if a standby ran it.
func writeData(env *testEnv, c forwardingCase) map[string]any {
	if c.op != logical.CreateOperation && c.op != logical.UpdateOperation {
		return nil
	}
	switch {
	case strings.HasPrefix(c.path, "config/"):
		return map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret, "scope": "other"}
	case strings.HasPrefix(c.path, "contacts/"):
		return map[string]any{"email": "SENTINEL-bob2@club.example"}
	case strings.HasPrefix(c.path, "auth-code-url/"):
		return map[string]any{"name": testMember, "redirect_uri": testRedirect}
	case strings.HasPrefix(c.path, "creds/"):
		return map[string]any{"refresh_token": "SENTINEL-imported-refresh-token"}
	}
	return nil
}

// TestInitializeWritesOnlyWhereStorageIsOwned: OpenBao initializes the mount
// on its standbys too; there the start-up clean-up (orphans of deleted
// chains, ended gateway holds) only reads. The active node, told the same,
// deletes them: the test sees writes where they are due.
func TestInitializeWritesOnlyWhereStorageIsOwned(t *testing.T) {
	env := getTestBackend(t)
	ctx := t.Context()
	require.NoError(t, putJSON(ctx, env.storage, credKey("deletedchain", testMember), "an orphan", map[string]any{"refresh_token": "x"}))
	require.NoError(t, putJSON(ctx, env.storage, gatewayHoldStoragePrefix+"unparsable", "an ended hold", storedHold{Limit: "x", Until: env.clock.Now().Add(-time.Hour)}))
	before := env.dumpStorage()

	standby, ro := replicaOf(t, env, consts.ReplicationPerformanceStandby)
	require.NoError(t, standby.Initialize(ctx, &logical.InitializationRequest{Storage: ro}))
	require.Zero(t, ro.writes.Load(), "a standby's Initialize writes nothing")
	require.Equal(t, before, env.dumpStorage())

	active, ro := replicaOf(t, env, consts.ReplicationPerformancePrimary)
	require.NoError(t, active.Initialize(ctx, &logical.InitializationRequest{Storage: ro}))
	require.Positive(t, ro.writes.Load(), "the active node removes what the standby left")
}
