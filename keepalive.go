package resamania

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
)

const (
	// keepAliveBatch bounds the credentials refreshed per tick (Vault ticks
	// PeriodicFunc every minute), so a large backlog spreads over time.
	keepAliveBatch = 50
	// keepAliveParallel bounds the upstream calls in flight at once.
	keepAliveParallel = 4
)

// periodic is Vault's PeriodicFunc: the background work, done only on the node
// that owns storage (never on a standby or a secondary, which would send the
// same refresh tokens as the primary).
func (b *backend) periodic(ctx context.Context, req *logical.Request) error {
	if !b.ownsStorage() {
		return nil
	}
	b.saveUnsaved(ctx, req.Storage)
	b.refreshReadAhead(ctx)
	b.keepCredentialsAlive(ctx, req.Storage)
	b.expireAuthStates(ctx, req.Storage)
	return nil
}

func (b *backend) ownsStorage() bool {
	sys := b.System()
	if sys == nil {
		return true
	}
	return !sys.ReplicationState().HasState(consts.ReplicationPerformanceSecondary | consts.ReplicationPerformanceStandby | consts.ReplicationDRSecondary)
}

// saveUnsaved retries writing rotated refresh tokens that storage refused.
func (b *backend) saveUnsaved(ctx context.Context, s logical.Storage) {
	for _, key := range b.unsaved.keys() {
		err := b.tokens.changeKey(key, func() error {
			_, err := b.unsaved.save(ctx, s, key)
			return err
		})
		if err != nil {
			b.Logger().Error("a rotated refresh token is still only in memory", "credential", key, "error", err)
		}
	}
}

// refreshReadAhead renews the tokens that readers use, before they have to wait.
func (b *backend) refreshReadAhead(ctx context.Context) {
	now := b.now()
	due := b.tokens.readAhead(now)
	jobs := make([]func(), 0, len(due))
	for key, src := range due {
		jobs = append(jobs, func() {
			if err := b.tokens.refresh(ctx, key, src); err != nil {
				b.Logger().Warn("refresh ahead failed; readers will retry", "key", key, "error", err)
			}
		})
	}
	runBounded(jobs, keepAliveParallel)
}

// keepCredentialsAlive refreshes every active credential whose refresh token
// is past half its lifetime, so a member who opens the app once a month keeps
// the grant. Oldest first, at most keepAliveBatch per tick.
func (b *backend) keepCredentialsAlive(ctx context.Context, s logical.Storage) {
	chains, err := s.List(ctx, configStoragePrefix)
	if err != nil {
		b.Logger().Error("keep-alive: listing chains", "error", err)
		return
	}
	type dueCred struct {
		chain, name string
		lapseAt     time.Time
		timeout     time.Duration
	}
	var due []dueCred
	now := b.now()
	for _, chain := range chains {
		cfg, err := getChainConfig(ctx, s, chain)
		if err != nil || cfg == nil {
			continue
		}
		names, err := s.List(ctx, credsStoragePrefix+chain+"/")
		if err != nil {
			b.Logger().Error("keep-alive: listing credentials", "chain", chain, "error", err)
			continue
		}
		ttl := cfg.refreshTokenTTL()
		for _, name := range names {
			c, err := getCredential(ctx, s, credKey(chain, name))
			if err != nil || c == nil || c.State != credActive {
				continue
			}
			if now.Sub(c.RefreshTokenIssuedAt) >= ttl/2 {
				due = append(due, dueCred{chain: chain, name: name, lapseAt: c.RefreshTokenIssuedAt.Add(ttl), timeout: cfg.RequestTimeout})
			}
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].lapseAt.Before(due[j].lapseAt) })
	if len(due) > keepAliveBatch {
		b.Logger().Info("keep-alive: more credentials due than one tick refreshes; the rest wait for the next", "due", len(due))
		due = due[:keepAliveBatch]
	}
	jobs := make([]func(), 0, len(due))
	for _, d := range due {
		src := &refreshSource{b: b, chain: d.chain, name: d.name, storage: s, timeout: d.timeout}
		jobs = append(jobs, func() {
			if err := b.tokens.refresh(ctx, src.key(), src); err != nil {
				b.Logger().Warn("keep-alive refresh failed", "credential", src.key(), "error", err)
			}
		})
	}
	runBounded(jobs, keepAliveParallel)
}

// expireAuthStates forgets the sign-in states that have expired.
func (b *backend) expireAuthStates(ctx context.Context, s logical.Storage) {
	chains, err := s.List(ctx, authStateStoragePrefix)
	if err != nil {
		return
	}
	now := b.now()
	for _, chain := range chains {
		hashes, err := s.List(ctx, authStateStoragePrefix+chain)
		if err != nil {
			continue
		}
		for _, h := range hashes {
			key := authStateStoragePrefix + chain + h
			entry, err := s.Get(ctx, key)
			if err != nil || entry == nil {
				continue
			}
			var st authState
			if entry.DecodeJSON(&st) != nil || now.After(st.ExpiresAt) {
				_ = s.Delete(ctx, key)
			}
		}
	}
}

// runBounded runs jobs with at most n at once and waits for all.
func runBounded(jobs []func(), n int) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			job()
		}()
	}
	wg.Wait()
}
