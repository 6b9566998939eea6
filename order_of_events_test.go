package resamania

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// Orders of events that once lost a member or misfiled one: an unload
// between a refused write and the next, a client gone in the middle of a
// sign-in, a chain deleted in the middle of a write under it.

// TestUnloadSavesAHeldRefreshToken: storage refuses a refresh's answer, so
// the rotated token is held in memory; the plugin is then reloaded. The
// unload writes the held token, and the next instance refreshes with it.
func TestUnloadSavesAHeldRefreshToken(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	env.signIn(t)
	shared := env.storage
	q := newQuorumStorage(shared)
	env.storage = q

	q.lose(1) // the fence commits; the answer will not
	env.clock.Advance(2 * time.Second)
	resp, err := env.readFresh(memberLife - 1)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	require.Len(t, env.b.creds.heldKeys(), 1, "the rotated refresh token is held")
	q.regain()

	env.b.Cleanup(t.Context())
	require.Empty(t, env.b.creds.heldKeys())
	reloaded := otherNode(t, env, shared)
	env.clock.Advance(memberLife * time.Second)
	resp, err = reloaded.readFresh(memberLife - 1)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "the reloaded plugin refreshes with the token the unload saved: %v", resp.Error())
	require.True(t, env.fake.AccessTokenValid(resp.Data["access_token"].(string)))
	require.Equal(t, refreshLedger{sent: 2}, ledger(env.fake, 1), "no spent token sent")
}

// TestSignInOutlivesItsCaller: the app's client disconnects once Resamania
// has processed the code. The sign-in goes on and stores the member's
// refresh token: the code is spent, and its answer is the only copy.
func TestSignInOutlivesItsCaller(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	resp, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect})
	require.NoError(t, err)
	code, state, err := env.fake.SignInAsMember(resp.Data["url"].(string), testMember, "SENTINEL-member-password")
	require.NoError(t, err)
	env.fake.InjectFault(fakeresamania.Fault{AfterProcessing: true, Delay: 300 * time.Millisecond, GrantType: "authorization_code", Count: 1})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var signInResp *logical.Response
	var signInErr error
	go func() {
		defer close(done)
		signInResp, signInErr = env.b.HandleRequest(ctx, &logical.Request{Operation: logical.CreateOperation, Path: credPath, Storage: env.storage, MountPoint: "resamania/",
			Data: map[string]any{"code": code, "redirect_uri": testRedirect, "state": state}})
	}()
	require.Eventually(t, func() bool { return env.fake.TokenRequests(testChain, "authorization_code") == 1 }, 10*time.Second, time.Millisecond)
	cancel() // the client goes away while the answer is on its way
	<-done

	require.NoError(t, signInErr)
	require.False(t, signInResp.IsError(), "%v", signInResp.Error())
	stored := env.storedCredential(t)
	require.Equal(t, credActive, stored.State)
	require.Equal(t, 1, env.fake.LiveRefreshTokens(testChain))
	require.Equal(t, refreshLedger{}, ledger(env.fake, 1), "the live refresh token is the stored one")
	env.clock.Advance(memberLife * time.Second)
	require.True(t, env.fake.AccessTokenValid(env.readCred(t).Data["access_token"].(string)))
}

// TestChainDeletedDuringASignInKeepsNothing: a sign-in has passed the
// chain's lookup and its code is at Resamania when the chain is deleted.
// The deletion waits for it, and takes its credential with the rest.
func TestChainDeletedDuringASignInKeepsNothing(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	resp, err := env.request(logical.UpdateOperation, "auth-code-url/"+testChain, map[string]any{"name": testMember, "redirect_uri": testRedirect})
	require.NoError(t, err)
	code, state, err := env.fake.SignInAsMember(resp.Data["url"].(string), testMember, "SENTINEL-member-password")
	require.NoError(t, err)
	env.fake.InjectFault(fakeresamania.Fault{AfterProcessing: true, Delay: 300 * time.Millisecond, GrantType: "authorization_code", Count: 1})

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = env.request(logical.CreateOperation, credPath, map[string]any{"code": code, "redirect_uri": testRedirect, "state": state})
	}()
	require.Eventually(t, func() bool { return env.fake.TokenRequests(testChain, "authorization_code") == 1 }, 10*time.Second, time.Millisecond)
	resp, err = env.request(logical.DeleteOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	wg.Wait()

	require.Len(t, resp.Warnings, 1, "the deletion waited for the sign-in and took its credential")
	require.Contains(t, resp.Warnings[0], "1 member credential(s)")
	require.Empty(t, env.dumpStorage(), "nothing is left under the deleted chain")
	require.Zero(t, env.b.guards.count(), "no guard outlives its users")
}

// TestChainDeletedDuringAClubMintKeepsNothing: the same for a club token
// whose mint is at Resamania when the chain is deleted.
func TestChainDeletedDuringAClubMintKeepsNothing(t *testing.T) {
	env := getChainWithEverything(t)
	env.fake.InjectFault(fakeresamania.Fault{Delay: 300 * time.Millisecond, GrantType: fakeresamania.GrantClubCredentials, Count: 1})
	env.fake.AddClub(testChain, 13)
	before := env.fake.TokenRequests(testChain, fakeresamania.GrantClubCredentials)

	var wg sync.WaitGroup
	wg.Add(1)
	var readResp *logical.Response
	go func() {
		defer wg.Done()
		readResp, _ = env.request(logical.ReadOperation, "token/"+testChain+"/clubs/13", nil)
	}()
	require.Eventually(t, func() bool {
		return env.fake.TokenRequests(testChain, fakeresamania.GrantClubCredentials) == before+1
	}, 10*time.Second, time.Millisecond)
	_, err := env.request(logical.DeleteOperation, "config/"+testChain, nil)
	require.NoError(t, err)
	wg.Wait()

	require.NotNil(t, readResp)
	require.False(t, readResp.IsError(), "the read that began before the deletion is served: %v", readResp.Error())
	require.Empty(t, env.dumpStorage(), "its token is not stored under the deleted chain")
	require.Zero(t, env.b.tokens.cachedCount())
}

// TestHeldCredentialIsHandedOutAsACopy: a status read (under no key lock)
// and a refresh (under the key's lock) of a credential held in memory each
// get a copy of their own, so the refresh's changes race no reader.
func TestHeldCredentialIsHandedOutAsACopy(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	env.signIn(t)
	q := newQuorumStorage(env.storage)
	env.storage = q
	q.lose(1) // the fence commits; the answer is held
	env.clock.Advance(2 * time.Second)
	resp, err := env.readFresh(memberLife - 1)
	require.NoError(t, err)
	require.False(t, resp.IsError(), "%v", resp)
	q.regain()

	key := credKey(testChain, testMember)
	seen, held, err := env.b.creds.current(t.Context(), env.storage, key)
	require.NoError(t, err)
	require.True(t, held)
	reason := seen.StateReason
	saved, err := env.b.creds.saveHeld(t.Context(), env.storage, key)
	require.NoError(t, err)
	saved.StateReason = "changed by the refresh that saved it"
	require.Equal(t, reason, seen.StateReason, "what the status read holds is its own")
}

// TestAnswerHeldAfterUnloadSaysItIsLost: a grant's answer that comes back
// after the unload saved what it could (a node that lost its leadership
// mid-grant) cannot be stored, and the log says it is lost with the process.
func TestAnswerHeldAfterUnloadSaysItIsLost(t *testing.T) {
	env := getCredsBackend(t, memberLife, nil)
	q := newQuorumStorage(env.storage)
	env.b.Cleanup(t.Context())
	q.lose(0)
	key := credKey(testChain, testMember)
	err := env.b.creds.storeOrHold(t.Context(), q, key, &credential{State: credActive})
	var held *storageFailedError
	require.ErrorAs(t, err, &held)
	require.Contains(t, env.logs.String(), "is lost with this process")
	require.Contains(t, env.logs.String(), "credential="+key)
}
