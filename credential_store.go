package resamania

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// credentialStore owns members' credentials: their storage entries, and the
// ones held in memory because storage refused a rotated refresh token. Such a
// token exists nowhere else, so it is held and written at the next chance, and
// its spent predecessor is never sent again. Writers hold the key's lock in
// the token cache.
type credentialStore struct {
	// rotated counts refresh tokens Resamania replaced; set once.
	rotated prometheus.Counter

	// index is told of every write and delete, for the keep-alive; set once.
	index *credentialIndex

	mu   sync.Mutex
	held map[string]*credential // guarded by mu, by storage key
}

func newCredentialStore(rotated prometheus.Counter, index *credentialIndex) *credentialStore {
	return &credentialStore{rotated: rotated, index: index, held: make(map[string]*credential)}
}

// current returns key's newest credential: the one held in memory if storage
// refused it (held is then true), else the stored one.
func (st *credentialStore) current(ctx context.Context, s logical.Storage, key string) (c *credential, held bool, err error) {
	st.mu.Lock()
	c = st.held[key]
	st.mu.Unlock()
	if c != nil {
		return c, true, nil
	}
	c, err = getCredential(ctx, s, key)
	return c, false, err
}

// storeGrant records a grant's answer on c (a code exchange, an import or a
// refresh) and stores c, else holds it: see storeOrHold.
func (st *credentialStore) storeGrant(ctx context.Context, s logical.Storage, key string, c *credential, t *upstream.Token, now time.Time) error {
	if c.applyGrant(t, now) {
		st.rotated.Inc()
	}
	return st.storeOrHold(ctx, s, key, c)
}

// storeOrHold writes c over anything held for key. When storage refuses it, c
// is held in memory and a storageFailedError returned.
func (st *credentialStore) storeOrHold(ctx context.Context, s logical.Storage, key string, c *credential) error {
	err := putCredential(ctx, s, key, c)
	st.mu.Lock()
	defer st.mu.Unlock()
	if err != nil {
		st.held[key] = c
		return &storageFailedError{key: key, err: err}
	}
	delete(st.held, key)
	st.index.note(key, c)
	return nil
}

// saveHeld writes the credential held for key, if any, and returns it. An
// error means it is still only in memory.
func (st *credentialStore) saveHeld(ctx context.Context, s logical.Storage, key string) (*credential, error) {
	st.mu.Lock()
	c := st.held[key]
	st.mu.Unlock()
	if c == nil {
		return nil, nil
	}
	if err := st.storeOrHold(ctx, s, key, c); err != nil {
		return c, err
	}
	return c, nil
}

// heldKeys lists the credentials held in memory only.
func (st *credentialStore) heldKeys() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	keys := make([]string, 0, len(st.held))
	for k := range st.held {
		keys = append(keys, k)
	}
	return keys
}

// delete forgets a credential, held or stored.
func (st *credentialStore) delete(ctx context.Context, s logical.Storage, key string) error {
	st.mu.Lock()
	delete(st.held, key)
	st.mu.Unlock()
	if err := s.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting credential %q: %w", key, err)
	}
	st.index.forget(key)
	return nil
}
