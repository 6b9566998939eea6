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

// A sign-in's state: auth-code-url issues it, the code's write consumes it
// once, and the periodic function forgets the expired ones. Only its sha256
// is stored (storage_layout.go).

// authStateTTL is how long an issued state is accepted; expireAuthStates
// forgets the older ones.
const authStateTTL = 10 * time.Minute

// authState is an issued state. JSON tags are the storage format.
type authState struct {
	RedirectURI string    `json:"redirect_uri"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// issueAuthState stores a state for the chain's sign-in and returns it with
// its end: the reader's own state, or a random one when it gave none.
func issueAuthState(ctx context.Context, s logical.Storage, now time.Time, chain, state, redirectURI string) (string, time.Time, error) {
	if state == "" {
		buf := make([]byte, 32)
		if _, err := rand.Read(buf); err != nil {
			return "", time.Time{}, fmt.Errorf("generating a state: %w", err)
		}
		state = base64.RawURLEncoding.EncodeToString(buf)
	}
	expires := now.Add(authStateTTL)
	if err := putJSON(ctx, s, authStateKey(chain, state), "the sign-in state", &authState{RedirectURI: redirectURI, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, err
	}
	return state, expires, nil
}

// consumeAuthState accepts an issued, unexpired state once, for the
// redirect_uri it was issued with.
func consumeAuthState(ctx context.Context, s logical.Storage, now time.Time, chain, state, redirectURI string) error {
	key := authStateKey(chain, state)
	st, err := getAuthState(ctx, s, key)
	if err != nil {
		return err
	}
	if st == nil || now.After(st.ExpiresAt) {
		return &authStateError{msg: fmt.Sprintf("state is unknown, expired or already used: start the sign-in again with auth-code-url/%s", chain)}
	}
	if redirectURI != "" && st.RedirectURI != redirectURI {
		return &authStateError{msg: "state was issued for another redirect_uri"}
	}
	if err := s.Delete(ctx, key); err != nil {
		return fmt.Errorf("consuming the state: %w", err)
	}
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
// work, run by the periodic function.
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
		for _, h := range hashes {
			key := authStateStoragePrefix + chain + h
			if st, err := getAuthState(ctx, s, key); err == nil && st != nil && now.After(st.ExpiresAt) {
				_ = s.Delete(ctx, key)
			}
		}
	}
}
