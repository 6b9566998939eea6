package resamania

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// credsStoragePrefix holds one member credential per chain and name:
// creds/<client_token>/<name>. Seal-wrapped: it holds refresh tokens.
const credsStoragePrefix = "creds/"

// credState says whether a credential can be refreshed.
type credState string

const (
	// credActive: the stored refresh token is believed good.
	credActive credState = "active"
	// credSignInRequired: Resamania refused the refresh token (invalid_grant);
	// only a new sign-in (or an imported refresh token) brings it back.
	credSignInRequired credState = "sign_in_required"
	// credUncertain: a refresh reached the server but its answer was lost; the
	// server may have rotated the token, so the old one is never sent again.
	credUncertain credState = "uncertain"
)

// credential is a member's grant. JSON tags are the storage format.
type credential struct {
	RefreshToken string `json:"refresh_token"`
	// RefreshTokenIssuedAt: the current refresh token lapses refresh_token_ttl after it.
	RefreshTokenIssuedAt time.Time    `json:"refresh_token_issued_at"`
	AccessToken          *cachedToken `json:"access_token,omitempty"`
	Scope                string       `json:"scope,omitempty"`
	State                credState    `json:"state"`
	StateReason          string       `json:"state_reason,omitempty"`
	StateSince           time.Time    `json:"state_since"`
	CreatedAt            time.Time    `json:"created_at"`
	LastRefreshedAt      time.Time    `json:"last_refreshed_at,omitempty"`
	Refreshes            int          `json:"refreshes"`
}

func credKey(chain, name string) string { return credsStoragePrefix + chain + "/" + name }

// splitCredKey is credKey's inverse.
func splitCredKey(key string) (chain, name string, ok bool) {
	chain, name, ok = strings.Cut(strings.TrimPrefix(key, credsStoragePrefix), "/")
	return chain, name, ok && strings.HasPrefix(key, credsStoragePrefix)
}

func getCredential(ctx context.Context, s logical.Storage, key string) (*credential, error) {
	entry, err := s.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading credential %q: %w", key, err)
	}
	if entry == nil {
		return nil, nil
	}
	c := new(credential)
	if err := entry.DecodeJSON(c); err != nil {
		return nil, fmt.Errorf("decoding credential %q: %w", key, err)
	}
	return c, nil
}

func putCredential(ctx context.Context, s logical.Storage, key string, c *credential) error {
	entry, err := logical.StorageEntryJSON(key, c)
	if err != nil {
		return fmt.Errorf("encoding credential %q: %w", key, err)
	}
	if err := s.Put(ctx, entry); err != nil {
		return fmt.Errorf("storing credential %q: %w", key, err)
	}
	return nil
}

func (c *credential) setState(state credState, reason string, now time.Time) {
	c.State, c.StateReason, c.StateSince = state, reason, now
}

// unsavedCredentials holds credentials whose rotated refresh token could not be
// written to storage: the new token exists nowhere else, so it is kept here and
// written at the next chance, and the old one is never sent again.
type unsavedCredentials struct {
	mu    sync.Mutex
	creds map[string]*credential // guarded by mu, by storage key
}

func (u *unsavedCredentials) put(key string, c *credential) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.creds == nil {
		u.creds = make(map[string]*credential)
	}
	u.creds[key] = c
}

func (u *unsavedCredentials) get(key string) *credential {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.creds[key]
}

func (u *unsavedCredentials) drop(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.creds, key)
}

func (u *unsavedCredentials) keys() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	keys := make([]string, 0, len(u.creds))
	for k := range u.creds {
		keys = append(keys, k)
	}
	return keys
}

// current returns key's newest credential: the one held in memory if storage
// refused it (held is then true), else the stored one.
func (u *unsavedCredentials) current(ctx context.Context, s logical.Storage, key string) (c *credential, held bool, err error) {
	if c = u.get(key); c != nil {
		return c, true, nil
	}
	c, err = getCredential(ctx, s, key)
	return c, false, err
}

// saveUnsaved writes the held credential of key, if any; it must run under the
// key's lock. An error means the credential is still only in memory.
func (u *unsavedCredentials) save(ctx context.Context, s logical.Storage, key string) (*credential, error) {
	c := u.get(key)
	if c == nil {
		return nil, nil
	}
	if err := putCredential(ctx, s, key, c); err != nil {
		return c, err
	}
	u.drop(key)
	return c, nil
}
