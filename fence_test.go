package resamania

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// The fence (credentialStore.fence): no grant spends a refresh token or a
// code unless a storage write has just committed, so a node that cannot
// store the answer sends nothing. These tests are the Raft cluster's
// scenarios (e2e/cluster_quorum_test.go) with a quorumStorage standing for
// each node's view of the shared storage, and member tokens of 20 s.

// memberLife is the life of the member's access tokens in these tests.
const memberLife = 20

// otherNode is another instance of the plugin over storage: the plugin as
// the next active node (or this node after a restart) runs it, with the
// same fake server and clock. Its log goes to env's.
func otherNode(t *testing.T, env *testEnv, s logical.Storage) *testEnv {
	t.Helper()
	b := newBackend(env.clock.Now)
	config := logical.TestBackendConfig()
	config.StorageView = s
	config.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: env.logs})
	require.NoError(t, b.Setup(t.Context(), config))
	require.NoError(t, b.Initialize(t.Context(), &logical.InitializationRequest{Storage: s}))
	return &testEnv{t: t, b: b, storage: s, clock: env.clock, fake: env.fake, logs: env.logs}
}

// readFresh reads the member's credential asking for a token with at least
// minLeft seconds left, as step 3 of the scenarios does.
func (e *testEnv) readFresh(minLeft int) (*logical.Response, error) {
	return e.request(logical.ReadOperation, credPath, map[string]any{"minimum_seconds": minLeft})
}

// requireNoQuorum503 checks a read refused because storage cannot commit:
// a 503 that says nothing was sent.
func requireNoQuorum503(t *testing.T, resp *logical.Response, err error) {
	t.Helper()
	require.Nil(t, resp)
	var coded logical.HTTPCodedError
	require.True(t, errors.As(err, &coded), "a coded error, got %v", err)
	require.Equal(t, http.StatusServiceUnavailable, coded.Code())
	require.Contains(t, err.Error(), "Vault's storage cannot commit a write, so nothing was sent to Resamania")
	require.Contains(t, err.Error(), errNoQuorum.Error())
}

// storedCredential is what storage holds for the test member.
func (e *testEnv) storedCredential(t *testing.T) *credential {
	t.Helper()
	c, err := getCredential(t.Context(), e.storage, credKey(testChain, testMember))
	require.NoError(t, err)
	require.NotNil(t, c)
	return c
}

// refreshLedger is what became of the refresh tokens the plugin sent.
type refreshLedger struct {
	sent, refused int // refresh grants sent; refused with invalid_grant
	orphans       int // refresh tokens Resamania issued that no credential holds
}

func ledger(fake *fakeresamania.Server, activeCredentials int) refreshLedger {
	var l refreshLedger
	for _, r := range fake.Requests() {
		if r.GrantType == "refresh_token" {
			l.sent++
			if r.Status == http.StatusBadRequest {
				l.refused++
			}
		}
	}
	l.orphans = fake.LiveRefreshTokens(testChain) - activeCredentials
	return l
}

// Scenario 1: the active node loses its quorum; a read asks for a fresh
// token; the node stalls while the others elect a new leader. The read
// sends nothing, and the new leader refreshes with the stored token.
func TestFenceQuorumLostThenLeadershipMoves(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	env.signIn(t)
	shared := env.storage
	first := env.readCred(t).Data["access_token"].(string)
	stored := env.storedCredential(t).RefreshToken

	old := newQuorumStorage(shared)
	env.storage = old
	old.lose(0) // both standbys die
	env.clock.Advance(2 * time.Second)
	resp, err := env.readFresh(memberLife - 1)
	requireNoQuorum503(t, resp, err)
	require.Zero(t, env.fake.TokenRequests(testChain, "refresh_token"), "nothing sent")
	require.Equal(t, stored, env.storedCredential(t).RefreshToken, "the refresh token stays unspent in storage")
	require.Equal(t, false, env.credStatus(t)["unsaved"], "and nothing is held")

	// A reader content with the token in hand gets it, with a warning.
	env.clock.Advance(12 * time.Second) // past its refresh point, 6 s left
	resp, err = env.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	require.Equal(t, first, resp.Data["access_token"])
	require.Len(t, resp.Warnings, 1)
	require.Contains(t, resp.Warnings[0], "Vault's storage cannot commit a write, so nothing was sent to Resamania")
	require.Zero(t, env.fake.TokenRequests(testChain, "refresh_token"))

	// The old node stalls; the new leader runs the plugin over the storage
	// the quorum committed.
	leader := otherNode(t, env, newQuorumStorage(shared))
	resp, err = leader.readFresh(memberLife - 1)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	require.True(t, env.fake.AccessTokenValid(resp.Data["access_token"].(string)))
	require.Equal(t, stored, env.fake.Requests()[len(env.fake.Requests())-1].Form.Get("refresh_token"), "the new leader spends the token the old one left unspent")
	env.clock.Advance(memberLife * time.Second)
	require.True(t, env.fake.AccessTokenValid(leader.readCred(t).Data["access_token"].(string)), "and keeps refreshing")

	l := ledger(env.fake, 1)
	t.Logf("refresh tokens: %d sent, %d stored, %d lost (answered, never stored), %d refused (spent tokens sent)", l.sent, l.sent-l.refused-l.orphans, l.orphans, l.refused)
	require.Equal(t, refreshLedger{sent: 2}, l)
	require.Zero(t, leader.metricValue(t, metricRefreshAnswersLost, nil))
}

// Scenario 2: the same, but the quorum comes back with the same node
// active: it refreshes with the token it never sent.
func TestFenceQuorumLostThenLeadershipKept(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	env.signIn(t)
	env.readCred(t)
	stored := env.storedCredential(t).RefreshToken
	q := newQuorumStorage(env.storage)
	env.storage = q

	q.lose(0)
	env.clock.Advance(2 * time.Second)
	resp, err := env.readFresh(memberLife - 1)
	requireNoQuorum503(t, resp, err)
	require.Zero(t, env.fake.TokenRequests(testChain, "refresh_token"))

	q.regain()
	resp, err = env.readFresh(memberLife - 1)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	require.Empty(t, resp.Warnings)
	require.Equal(t, stored, env.fake.Requests()[len(env.fake.Requests())-1].Form.Get("refresh_token"))
	env.clock.Advance(memberLife * time.Second)
	env.readCred(t)
	require.Equal(t, refreshLedger{sent: 2}, ledger(env.fake, 1))
}

// Scenario 3: the whole cluster stops, the last nodes without a quorum,
// then starts again: tokens and credentials survive, and nothing is minted
// again. (TestFenceKeepAliveWaitsForQuorum: the keep-alive during such an
// outage.)
func TestFenceFullStopAndStart(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	env.signIn(t)
	shared := env.storage
	chainToken := env.readToken(nil).Data["access_token"]
	memberToken := env.readCred(t).Data["access_token"]

	q := newQuorumStorage(shared)
	env.storage = q
	q.lose(0)
	env.clock.Advance(time.Second)
	env.tick(t)
	require.Equal(t, memberToken, env.readCred(t).Data["access_token"])

	restarted := otherNode(t, env, shared)
	env.clock.Advance(time.Second)
	require.Equal(t, chainToken, restarted.readToken(nil).Data["access_token"])
	require.Equal(t, memberToken, restarted.readCred(t).Data["access_token"])
	restarted.tick(t)
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "client_credentials"), "nothing minted again")
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "authorization_code"))
	require.Zero(t, env.fake.TokenRequests(testChain, "refresh_token"))

	env.clock.Advance(memberLife * time.Second)
	require.True(t, env.fake.AccessTokenValid(restarted.readCred(t).Data["access_token"].(string)))
	require.Equal(t, refreshLedger{sent: 1}, ledger(env.fake, 1))
}

// The window the fence leaves: the fence commits, then the quorum goes
// before the answer is stored. The node serves the new token it holds; the
// next leader finds the fence's record, and when Resamania refuses the
// refresh token, the credential says its answer was lost in a failover.
func TestFenceLostAnswerIsReportedAsFailover(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	env.signIn(t)
	shared := env.storage
	old := newQuorumStorage(shared)
	env.storage = old

	old.lose(1) // the fence commits; the answer will not
	env.clock.Advance(2 * time.Second)
	sentAt := env.clock.Now()
	resp, err := env.readFresh(memberLife - 1)
	require.NoError(t, err, "never an error while the plugin holds a valid new token")
	require.True(t, env.fake.AccessTokenValid(resp.Data["access_token"].(string)))
	require.NotEmpty(t, resp.Warnings)
	require.Contains(t, resp.Warnings[0], "held in memory")
	record := env.storedCredential(t).GrantSent
	require.NotNil(t, record)
	require.Equal(t, grantRefreshToken, record.Grant)
	require.Equal(t, sentAt, record.At)
	require.Equal(t, env.b.creds.node, record.Node)

	leader := otherNode(t, env, newQuorumStorage(shared))
	env.clock.Advance(time.Second)
	resp, err = leader.readFresh(memberLife - 1)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	msg := resp.Error().Error()
	require.Contains(t, msg, "needs the member to sign in again")
	require.Contains(t, msg, "lost in a failover")
	status := leader.credStatus(t)
	require.Equal(t, "sign_in_required", status["state"])
	require.Contains(t, status["state_reason"], fmt.Sprintf("the answer to the refresh sent at %s from %s was lost in a failover", sentAt.UTC().Format(time.RFC3339), record.Node))
	require.Contains(t, status["state_reason"], "invalid_grant")
	require.Equal(t, 1.0, leader.metricValue(t, metricRefreshAnswersLost, nil))
	require.Nil(t, leader.storedCredential(t).GrantSent, "the outcome is stored")
	require.Equal(t, refreshLedger{sent: 2, refused: 1, orphans: 1}, ledger(env.fake, 0))
}

// Refused without a record from another instance, a refresh token is a
// plain refusal, not a failover.
func TestFenceInvalidGrantWithoutFailoverIsPlain(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	env.signIn(t)
	env.fake.ExpireRefreshTokens(testChain)
	env.clock.Advance(15 * time.Second)
	resp, err := env.readFresh(memberLife - 1)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.NotContains(t, resp.Error().Error(), "failover")
	require.Zero(t, env.metricValue(t, metricRefreshAnswersLost, nil))

	// Nor after a restart: the record was of the refresh that got the answer.
	env2 := getCredsBackend(t, memberLife, nil)
	env2.signIn(t)
	env2.clock.Advance(15 * time.Second)
	env2.readCred(t)
	env2.fake.ExpireRefreshTokens(testChain)
	reloadBackend(t, env2)
	env2.clock.Advance(15 * time.Second)
	resp, err = env2.readFresh(memberLife - 1)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.NotContains(t, resp.Error().Error(), "failover")
	require.Zero(t, env2.metricValue(t, metricRefreshAnswersLost, nil))
}

// A refresh refused before Resamania looked at the grant spent nothing: its
// record goes, and a record left by another instance is replaced.
func TestFenceRecordClearedWhenNothingWasSpent(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	env.signIn(t)
	env.clock.Advance(15 * time.Second)
	env.fake.InjectFault(fakeresamania.Fault{Status: http.StatusUnauthorized, Body: `{"error":"invalid_client"}`, ContentType: "application/json", Count: 1, GrantType: "refresh_token"})
	_, err := env.readFresh(memberLife - 1)
	require.Error(t, err)
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))
	c := env.storedCredential(t)
	require.Nil(t, c.GrantSent)
	require.Equal(t, credActive, c.State)
}

// Keep-alive sends nothing while storage cannot commit, stops at the first
// refused fence, and catches up by itself once writes commit.
func TestFenceKeepAliveWaitsForQuorum(t *testing.T) {
	env := getCredsBackend(t, 3600, map[string]any{"refresh_token_ttl": "1h"})
	const members = 2*keepAliveParallel + 1
	for i := range members {
		resp, err := env.request(logical.CreateOperation, fmt.Sprintf("creds/%s/m%d", testChain, i), map[string]any{"refresh_token": env.refreshTokenFromFake(t)})
		require.NoError(t, err)
		require.False(t, resp.IsError(), "%v", resp)
	}
	imports := env.fake.TokenRequests(testChain, "refresh_token")
	q := newQuorumStorage(env.storage)
	env.storage = q
	q.lose(0)
	env.clock.Advance(31 * time.Minute)

	env.tick(t)
	env.tick(t)
	require.Equal(t, imports, env.fake.TokenRequests(testChain, "refresh_token"), "nothing sent")
	require.LessOrEqual(t, q.refused(), 2*keepAliveParallel, "a tick stops at its first refused fence: only those already started are refused")
	require.Contains(t, env.logs.String(), "Vault's storage cannot commit, so no refresh is sent this tick")

	q.regain()
	env.tick(t)
	require.Equal(t, imports+members, env.fake.TokenRequests(testChain, "refresh_token"), "caught up")
	for i := range members {
		c, err := getCredential(t.Context(), env.storage, credKey(testChain, fmt.Sprintf("m%d", i)))
		require.NoError(t, err)
		require.Equal(t, 1, c.Refreshes)
		require.Nil(t, c.GrantSent)
	}
}

// A code exchange and an import are fenced too: without a quorum, the code
// or refresh token is not sent and can be written again later.
func TestFenceSignInWaitsForQuorum(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	q := newQuorumStorage(env.storage)
	env.storage = q
	code := env.fake.IssueCode(testChain, testClientID, testRedirect, testMember)
	signIn := env.codeWrite(t, testMember, code)
	imported := env.refreshTokenFromFake(t)
	importsBefore := env.fake.TokenRequests(testChain, "")

	q.lose(0)
	resp, err := env.request(logical.CreateOperation, credPath, signIn)
	requireNoQuorum503(t, resp, err)
	require.Contains(t, err.Error(), "the code is still unspent")
	resp, err = env.request(logical.CreateOperation, "creds/"+testChain+"/bob", map[string]any{"refresh_token": imported})
	requireNoQuorum503(t, resp, err)
	require.Equal(t, importsBefore, env.fake.TokenRequests(testChain, ""), "nothing sent")

	q.regain()
	resp, err = env.request(logical.CreateOperation, credPath, signIn) // the state is unspent too
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	resp, err = env.request(logical.CreateOperation, "creds/"+testChain+"/bob", map[string]any{"refresh_token": imported})
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	require.Nil(t, env.storedCredential(t).GrantSent)
}

// A sign-in whose answer a failover lost leaves a credential that says so.
func TestFenceSignInLostAnswerSaysSo(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	shared := env.storage
	q := newQuorumStorage(shared)
	env.storage = q
	code := env.fake.IssueCode(testChain, testClientID, testRedirect, testMember)
	signIn := env.codeWrite(t, testMember, code)

	q.lose(2) // the fence commits, the state is spent; the answer will not
	_, err := env.request(logical.CreateOperation, credPath, signIn)
	require.ErrorContains(t, err, "held in memory")
	require.Equal(t, "active", env.credStatus(t)["state"], "this node holds the new credential")

	leader := otherNode(t, env, shared)
	status := leader.credStatus(t)
	require.Equal(t, "sign_in_required", status["state"])
	require.Contains(t, status["state_reason"], "its answer was never stored (a failover or a crash): sign the member in again")
	resp, err := leader.request(logical.ReadOperation, credPath, nil)
	require.NoError(t, err)
	require.True(t, resp.IsError())
	require.Contains(t, resp.Error().Error(), "sign the member in again")
}

// A failed sign-in leaves no placeholder behind, and a failed replacement
// leaves the credential it would have replaced working.
func TestFenceFailedSignInLeavesNothing(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	resp, err := env.request(logical.CreateOperation, credPath, env.codeWrite(t, testMember, "never-issued"))
	require.NoError(t, err)
	require.True(t, resp.IsError())
	entry, err := env.storage.Get(t.Context(), credKey(testChain, testMember))
	require.NoError(t, err)
	require.Nil(t, entry)

	env.signIn(t)
	resp, err = env.request(logical.UpdateOperation, credPath, env.codeWrite(t, testMember, "never-issued"))
	require.NoError(t, err)
	require.True(t, resp.IsError())
	env.clock.Advance(15 * time.Second)
	require.True(t, env.fake.AccessTokenValid(env.readCred(t).Data["access_token"].(string)))
	require.Equal(t, 1, env.fake.TokenRequests(testChain, "refresh_token"))
}

// The fence's record is a new, optional field: entries without it (every
// earlier format) read as no grant under way, and it round-trips.
func TestGrantSentRecordStorageFormat(t *testing.T) {
	ctx := context.Background()
	s := &logical.InmemStorage{}
	key := credKey("mychain", "alice")
	format1 := `{"format_version":1,"refresh_token":"rt","refresh_token_issued_at":"2025-03-01T10:00:00Z","state":"active","state_since":"2025-03-01T10:00:00Z","created_at":"2025-03-01T10:00:00Z","refreshes":3}`
	require.NoError(t, s.Put(ctx, &logical.StorageEntry{Key: key, Value: []byte(format1)}))
	c, err := getCredential(ctx, s, key)
	require.NoError(t, err)
	require.Nil(t, c.GrantSent)
	require.Equal(t, "rt", c.RefreshToken)

	c.GrantSent = &grantSent{Grant: grantRefreshToken, Secret: secretFingerprint("rt"), At: issued, Instance: "i", Node: "n"}
	require.NoError(t, putCredential(ctx, s, key, c))
	entry, err := s.Get(ctx, key)
	require.NoError(t, err)
	require.NotContains(t, string(entry.Value), `"rt"`+`,"at"`, "the record holds a fingerprint, not the token")
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(entry.Value, &raw))
	require.JSONEq(t, `{"grant":"refresh_token","secret_sha256":"`+secretFingerprint("rt")+`","at":"2025-03-01T10:00:00Z","instance":"i","node":"n"}`, string(raw["grant_sent"]))
	got, err := getCredential(ctx, s, key)
	require.NoError(t, err)
	require.Equal(t, c, got)
	require.True(t, got.sentBy(got.GrantSent))
}
