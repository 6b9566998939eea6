package resamania

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// A sign-in's state: auth-code-url issues it for one credential of one chain
// and one redirect_uri, the code's write to that very credential spends it
// once, and the periodic function forgets the expired ones. The state is the
// plugin's own, never a caller's, so that it binds the code to the sign-in
// that was started. Only its sha256 is stored (storage_layout.go).

// authStateTTL is how long an issued state is accepted; expireAuthStates
// forgets the older ones.
const authStateTTL = 10 * time.Minute

// maxLiveAuthStates bounds a chain's pending sign-ins: any caller of
// auth-code-url adds one, and the periodic function reads them all.
const maxLiveAuthStates = 1000

// authState is an issued state. JSON tags are the storage format.
type authState struct {
	// Name is the credential the sign-in may be stored as: creds/<chain>/<name>.
	// Empty in states stored before it existed, which are refused.
	Name        string    `json:"name,omitempty"`
	RedirectURI string    `json:"redirect_uri"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// signIn is what a state is issued for, and checked against.
type signIn struct {
	chain, name, redirectURI string
}

// issueAuthState stores a new random state for the sign-in and returns it
// with its end, unless the chain already has as many pending as it keeps.
func issueAuthState(ctx context.Context, s logical.Storage, now time.Time, in signIn) (string, time.Time, error) {
	pending, err := s.List(ctx, chainDir(authStateStoragePrefix, in.chain))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("counting the pending sign-ins: %w", err)
	}
	if len(pending) >= maxLiveAuthStates {
		return "", time.Time{}, &authStatesFullError{msg: fmt.Sprintf(
			"chain %q has %d sign-ins pending, as many as it keeps: a state expires %s after auth-code-url issued it and is forgotten within a minute after; try again then",
			in.chain, maxLiveAuthStates, authStateTTL)}
	}
	buf := make([]byte, 32) // 256 bits: not guessable
	if _, err := rand.Read(buf); err != nil {
		return "", time.Time{}, fmt.Errorf("generating a state: %w", err)
	}
	state := base64.RawURLEncoding.EncodeToString(buf)
	expires := now.Add(authStateTTL)
	st := &authState{Name: in.name, RedirectURI: in.redirectURI, ExpiresAt: expires}
	if err := putJSON(ctx, s, authStateKey(in.chain, state), "the sign-in state", st); err != nil {
		return "", time.Time{}, err
	}
	return state, expires, nil
}

// checkAuthState accepts a state issued for this very sign-in and still
// unexpired; spendAuthState then spends it. Refusals never quote the state.
func checkAuthState(ctx context.Context, s logical.Storage, now time.Time, state string, in signIn) (*authState, error) {
	st, err := getAuthState(ctx, s, authStateKey(in.chain, state))
	if err != nil {
		return nil, err
	}
	again := "start the sign-in again with auth-code-url/" + in.chain
	switch {
	case st == nil || now.After(st.ExpiresAt):
		return nil, &authStateError{msg: "state is unknown, expired or already used: " + again}
	case st.Name == "" || st.Name != in.name || st.RedirectURI != in.redirectURI:
		return nil, &authStateError{msg: "state was not issued for this credential and redirect_uri: " + again + ", giving this credential's name"}
	}
	return st, nil
}

// spendAuthState forgets a state its sign-in has used.
func spendAuthState(ctx context.Context, s logical.Storage, chain, state string) error {
	if err := s.Delete(ctx, authStateKey(chain, state)); err != nil {
		return fmt.Errorf("spending the sign-in state: %w", err)
	}
	return nil
}

// bindCode accepts a code's write only with a redirect_uri on the chain's
// list and the state auth-code-url issued for this chain, name and
// redirect_uri, and has signInMember spend that state before the code is
// sent. The caller holds the credential's lock.
func bindCode(ctx context.Context, s logical.Storage, now time.Time, ch *chainEntry, name string, g *memberGrant) error {
	if err := ch.config.checkRedirectAllowed(ch.name, g.redirectURI); err != nil {
		return err
	}
	st, err := checkAuthState(ctx, s, now, g.state, signIn{chain: ch.name, name: name, redirectURI: g.redirectURI})
	if err != nil {
		return err
	}
	key := authStateKey(ch.name, g.state)
	g.spendState = func(ctx context.Context) error { return spendAuthState(ctx, s, ch.name, g.state) }
	g.restoreState = func(ctx context.Context) error { return putJSON(ctx, s, key, "the sign-in state", st) }
	return nil
}

func getAuthState(ctx context.Context, s logical.Storage, key string) (*authState, error) {
	st, err := getJSON[authState](ctx, s, key, "the sign-in state")
	if errors.Is(err, errUndecodable) {
		return &authState{}, nil // unreadable: counts as expired
	}
	return st, err
}

// expireAuthStates forgets the sign-in states that have expired: background
// work, run by the periodic function. It reads at most maxLiveAuthStates
// states per chain and tick: a chain holds no more, save the few a race
// of issues adds and those stored before the cap, and as every state
// expires, the first ones listed are forgotten at one tick or another.
func expireAuthStates(ctx context.Context, s logical.Storage, now time.Time) {
	chains, err := s.List(ctx, authStateStoragePrefix)
	if err != nil {
		return
	}
	for _, chain := range chains {
		hashes, err := s.List(ctx, authStateStoragePrefix+chain)
		if err != nil {
			continue
		}
		for _, h := range hashes[:min(len(hashes), maxLiveAuthStates)] {
			if ctx.Err() != nil {
				return
			}
			key := authStateStoragePrefix + chain + h
			if st, err := getAuthState(ctx, s, key); err == nil && st != nil && now.After(st.ExpiresAt) {
				_ = s.Delete(ctx, key)
			}
		}
	}
}
