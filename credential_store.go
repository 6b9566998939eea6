package resamania

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// credentialStore owns members' credentials: their storage entries, and the
// ones held in memory because storage refused a rotated refresh token. Such a
// token exists nowhere else, so it is held and written at the next chance, and
// its spent predecessor is never sent again. Writers hold the key's lock in
// the token cache. Held credentials are copied in and out: a caller that
// changes its own copy (a refresh, under the key's lock) races no reader of
// the held one (a status read, under no key lock).
type credentialStore struct {
	// rotated counts refresh tokens Resamania replaced; set once.
	rotated prometheus.Counter

	// lostInFailover counts refresh tokens found spent after a failover
	// lost the answer that replaced them; set once.
	lostInFailover prometheus.Counter

	// instance and node name this plugin instance in the grantSent records
	// it writes (see fence); set once.
	instance, node string

	// index is told of every write and delete, for the keep-alive; set once.
	index *credentialIndex

	// unloaded is set once the mount's unload has saved what it could: a
	// credential held after it (a grant whose answer came back later, on a
	// node that lost its leadership) is lost with the process, and said so
	// through lostAfterUnload, set once.
	unloaded        atomic.Bool
	lostAfterUnload func(key string)

	mu   sync.Mutex
	held map[string]*credential // guarded by mu, by storage key
}

func newCredentialStore(rotated, lostInFailover prometheus.Counter, index *credentialIndex) *credentialStore {
	return &credentialStore{rotated: rotated, lostInFailover: lostInFailover, index: index, held: make(map[string]*credential),
		instance: newInstanceID(), node: nodeName()}
}

// newInstanceID is random per credential store, so per plugin instance.
func newInstanceID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// nodeName is what the plugin knows of where it runs: the host name and its
// process id (Vault logs the pid of each plugin process it starts).
func nodeName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown host"
	}
	return fmt.Sprintf("%s (plugin pid %d)", host, os.Getpid())
}

// fence commits the write that must precede a grant spending c's secret (a
// refresh token, a code, an imported refresh token): c with a grantSent
// record. If storage refuses it, nothing may be sent: the secret stays
// unspent in storage for whichever node is active next. c is the stored (or
// held) credential, or the placeholder of a sign-in (see fenceSignIn).
func (st *credentialStore) fence(ctx context.Context, s logical.Storage, key string, c *credential, grant, secret string, now time.Time) error {
	c.GrantSent = &grantSent{Grant: grant, Secret: secretFingerprint(secret), At: now, Instance: st.instance, Node: st.node}
	if err := putCredential(ctx, s, key, c); err != nil {
		c.GrantSent = nil
		return &fenceError{key: key, grant: grant, err: err}
	}
	st.mu.Lock()
	delete(st.held, key) // a held credential fenced is a stored one
	st.mu.Unlock()
	st.index.note(key, c)
	return nil
}

// fenceSignIn fences a sign-in (a code exchange or an import) at key: on the
// credential it replaces, which stays as it was should the sign-in fail; or,
// for a new credential, on a placeholder that tells the member must sign in
// again should this sign-in's answer never be stored. undo removes that
// placeholder after a sign-in that got no answer to store.
func (st *credentialStore) fenceSignIn(ctx context.Context, s logical.Storage, key string, g memberGrant, now time.Time) (undo func() error, err error) {
	grant, secret := grantRefreshToken, g.refreshToken
	if g.fromCode() {
		grant, secret = grantAuthorizationCode, g.code
	}
	c, _, err := st.current(ctx, s, key)
	if err != nil {
		return nil, err
	}
	undo = func() error { return nil }
	if c == nil {
		c = &credential{CreatedAt: now}
		c.setState(credSignInRequired, fmt.Sprintf("a sign-in (%s grant) was sent at %s from %s and its answer was never stored (a failover or a crash): sign the member in again",
			grant, now.UTC().Format(time.RFC3339), st.node), now)
		undo = func() error { return st.delete(context.WithoutCancel(ctx), s, key) }
	}
	if err := st.fence(ctx, s, key, c, grant, secret, now); err != nil {
		// Nothing is sent, but the placeholder's write may have committed
		// all the same: it must not say a sign-in was sent.
		if uerr := undo(); uerr != nil {
			err = fmt.Errorf("%w; and removing its placeholder failed: %v", err, uerr)
		}
		return nil, err
	}
	return undo, nil
}

// lostAnswer is the reason a refresh token refused with invalid_grant was
// spent by a refresh whose answer a failover lost, per the grantSent record
// found before this instance's own refresh; "" when it was not.
func (st *credentialStore) lostAnswer(c *credential, found *grantSent) string {
	if found == nil || found.Instance == st.instance || !c.sentBy(found) {
		return ""
	}
	st.lostInFailover.Inc()
	return fmt.Sprintf("the answer to the refresh sent at %s from %s was lost in a failover: Resamania replaced the refresh token, and the new one was never stored",
		found.At.UTC().Format(time.RFC3339), cmp.Or(found.Node, "another node"))
}

// answerStoreTimeout bounds the writes that store a grant's answer.
const answerStoreTimeout = 10 * time.Second

// answerContext is the context of the writes that store a grant's answer:
// time of their own, apart from the caller's cancellation and deadline. The
// grant may have spent all of the caller's time, and its answer holds the
// only copy of a rotated refresh token.
func answerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), answerStoreTimeout)
}

// current returns key's newest credential: the one held in memory if storage
// refused it (held is then true), else the stored one.
func (st *credentialStore) current(ctx context.Context, s logical.Storage, key string) (c *credential, held bool, err error) {
	st.mu.Lock()
	c = st.held[key].copy()
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
		st.held[key] = c.copy()
		if st.unloaded.Load() && st.lostAfterUnload != nil {
			st.lostAfterUnload(key)
		}
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
	c := st.held[key].copy()
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

// forgetChain forgets what memory holds of a deleted chain's credentials:
// the held ones (storage has none any more) and the keep-alive's index.
func (st *credentialStore) forgetChain(chain string) {
	st.mu.Lock()
	deleteUnderPrefix(st.held, chainDir(credsStoragePrefix, chain))
	st.mu.Unlock()
	st.index.invalidate()
}

// delete forgets a credential, stored and held. A held one is forgotten
// only once storage's is gone: were the delete refused, storage would still
// hold an older, spent refresh token, and the held one is its successor.
func (st *credentialStore) delete(ctx context.Context, s logical.Storage, key string) error {
	if err := s.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting credential %q: %w", key, err)
	}
	st.mu.Lock()
	delete(st.held, key)
	st.mu.Unlock()
	st.index.forget(key)
	return nil
}
