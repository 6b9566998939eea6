package resamania_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// simStorage is Vault's storage as the plugin sees it over gRPC, with the
// faults the simulation arms for one step: writes refused, writes that
// commit and still report a failure, writes that stall past the caller's
// deadline, and gates that pause an operation while another actor runs.

// errStorageRefused is what Raft answers a write it cannot commit.
var errStorageRefused = errors.New("leadership lost while committing log")

// stallWaitLimit: a stalled call waits for its context's deadline when it is
// this close (a flight's budget), else fails at once as if it had waited:
// the plugin sees the same error, and the simulation stays fast.
const stallWaitLimit = 4 * time.Second

type storageFaultKind int

const (
	refuseWrite     storageFaultKind = iota // the write does not happen
	commitThenFail                          // the write happens, the caller is told it failed
	stallWrite                              // the write hangs until the caller's deadline, then does not happen
	commitThenStall                         // the write happens, then hangs until the caller's deadline
	gateOperation                           // any operation: pause, run gate, go on
)

// storageFault applies to the matching operations that come after skip of them.
type storageFault struct {
	kind        storageFaultKind
	skip, count int    // let skip matching operations through, then apply to count
	gate        func() // gateOperation: what runs while the operation waits
	note        func(op, key string)
}

type simStorage struct {
	inner logical.Storage

	mu      sync.Mutex
	faults  []*storageFault      // guarded by mu; armed for the current step
	written func(op, key string) // guarded by mu; told of each committed write
}

func newSimStorage() *simStorage { return &simStorage{inner: &logical.InmemStorage{}} }

func (s *simStorage) arm(f *storageFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

func (s *simStorage) disarm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *simStorage) onWrite(fn func(op, key string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written = fn
}

// take returns the fault that applies to op on key, if any. Write faults
// apply to puts and deletes; gates to any operation.
func (s *simStorage) take(op, key string) *storageFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	write := op == "put" || op == "delete"
	for _, f := range s.faults {
		if f.count == 0 || (f.kind != gateOperation && !write) {
			continue
		}
		if f.skip > 0 {
			f.skip--
			continue
		}
		f.count--
		if f.note != nil {
			f.note(op, key)
		}
		return f
	}
	return nil
}

func (s *simStorage) committed(op, key string) {
	s.mu.Lock()
	fn := s.written
	s.mu.Unlock()
	if fn != nil {
		fn(op, key)
	}
}

// stall waits as a gRPC call to a hung storage does: until the deadline.
func stall(ctx context.Context) error {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < stallWaitLimit {
		<-ctx.Done()
		return fmt.Errorf("storage call: %w", ctx.Err())
	}
	return fmt.Errorf("storage call: %w", context.DeadlineExceeded)
}

// write runs do (the real write) as the fault for op on key says.
func (s *simStorage) write(ctx context.Context, op, key string, do func() error) error {
	f := s.take(op, key)
	if f == nil {
		return s.commit(ctx, op, key, do)
	}
	switch f.kind {
	case refuseWrite:
		return errStorageRefused
	case commitThenFail:
		_ = s.commit(ctx, op, key, do)
		return errStorageRefused
	case stallWrite:
		return stall(ctx)
	case commitThenStall:
		_ = s.commit(ctx, op, key, do)
		return stall(ctx)
	}
	f.gate()
	return s.commit(ctx, op, key, do)
}

func (s *simStorage) commit(ctx context.Context, op, key string, do func() error) error {
	if leads, ok := ctx.Value(leaderCheck{}).(func() bool); ok && !leads() {
		return errNotLeader // checked as it commits: a paused write too
	}
	if err := do(); err != nil {
		return err
	}
	s.committed(op, key)
	return nil
}

func (s *simStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	return s.write(ctx, "put", e.Key, func() error { return s.inner.Put(ctx, e) })
}

func (s *simStorage) Delete(ctx context.Context, key string) error {
	return s.write(ctx, "delete", key, func() error { return s.inner.Delete(ctx, key) })
}

func (s *simStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	if f := s.take("get", key); f != nil {
		f.gate()
	}
	return s.inner.Get(ctx, key)
}

func (s *simStorage) List(ctx context.Context, prefix string) ([]string, error) {
	if f := s.take("list", prefix); f != nil {
		f.gate()
	}
	return s.inner.List(ctx, prefix)
}

// dump is every key and value, read past the faults.
func (s *simStorage) dump() map[string][]byte {
	out := map[string][]byte{}
	ctx := context.Background()
	var walk func(prefix string)
	walk = func(prefix string) {
		keys, _ := s.inner.List(ctx, prefix)
		sort.Strings(keys)
		for _, k := range keys {
			if strings.HasSuffix(k, "/") {
				walk(prefix + k)
				continue
			}
			if e, _ := s.inner.Get(ctx, prefix+k); e != nil {
				out[prefix+k] = e.Value
			}
		}
	}
	walk("")
	return out
}

// has says whether key is stored, past the faults.
func (s *simStorage) has(key string) bool {
	e, _ := s.inner.Get(context.Background(), key)
	return e != nil
}

// leaderCheck carries, in a write's context, whether the writing node still
// leads: Raft refuses a former leader's write when it would commit.
type leaderCheck struct{}
