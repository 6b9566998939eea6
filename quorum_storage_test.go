package resamania

import (
	"context"
	"errors"
	"sync"

	"github.com/hashicorp/vault/sdk/logical"
)

// errNoQuorum is what Vault's integrated storage answers a write that cannot
// commit: the active node lost its Raft quorum (hashicorp/raft's
// ErrLeadershipLost).
var errNoQuorum = errors.New("leadership lost while committing log")

// quorumStorage is one node's view of a shared storage whose writes (puts
// and deletes) fail while the node has no quorum; reads, served from the
// node's local copy, always work.
type quorumStorage struct {
	logical.Storage

	mu     sync.Mutex
	commit int // writes that still commit before they fail; -1 for all; guarded by mu
	failed int // writes refused so far; guarded by mu
}

func newQuorumStorage(shared logical.Storage) *quorumStorage {
	return &quorumStorage{Storage: shared, commit: -1}
}

// lose makes every write fail after the next n.
func (q *quorumStorage) lose(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.commit = n
}

// regain makes every write commit again.
func (q *quorumStorage) regain() { q.lose(-1) }

// refused counts the writes that failed.
func (q *quorumStorage) refused() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failed
}

func (q *quorumStorage) write() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.commit < 0:
		return nil
	case q.commit == 0:
		q.failed++
		return errNoQuorum
	}
	q.commit--
	return nil
}

func (q *quorumStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if err := q.write(); err != nil {
		return err
	}
	return q.Storage.Put(ctx, e)
}

func (q *quorumStorage) Delete(ctx context.Context, key string) error {
	if err := q.write(); err != nil {
		return err
	}
	return q.Storage.Delete(ctx, key)
}
