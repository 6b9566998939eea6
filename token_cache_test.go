package resamania

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// fakeTokenSource is a tokenSource the test drives: it counts calls, mints
// tokens of a chosen lifetime on the test clock, fails on demand, and can hold
// a mint or a load until the test lets it go.
type fakeTokenSource struct {
	clock   *testsupport.Clock
	started chan struct{} // one value per mint begun; buffered, never blocks a mint

	mu       sync.Mutex
	life     time.Duration // guarded by mu; lifetime of a minted token
	stored   *cachedToken  // guarded by mu; what load returns
	mintErr  error         // guarded by mu; when set, mint fails with it
	mintGate chan struct{} // guarded by mu; when set, a mint waits for it to close
	loadGate chan struct{} // guarded by mu; when set, a load waits for it to close
	loads    int           // guarded by mu
	mints    int           // guarded by mu
	inMint   int           // guarded by mu; mints begun and not yet returned
}

// cacheUnderTest is a token cache and a fake source minting tokens of life,
// both on one test clock.
func cacheUnderTest(life time.Duration) (*testsupport.Clock, *fakeTokenSource, *tokenCache) {
	clock := testsupport.NewClock()
	return clock, newFakeTokenSource(clock, life), newTokenCache(clock.Now)
}

func newFakeTokenSource(clock *testsupport.Clock, life time.Duration) *fakeTokenSource {
	return &fakeTokenSource{clock: clock, life: life, started: make(chan struct{}, 1000)}
}

func (s *fakeTokenSource) load(ctx context.Context) (*cachedToken, error) {
	s.mu.Lock()
	s.loads++
	gate, stored := s.loadGate, s.stored
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return stored, nil
}

func (s *fakeTokenSource) mint(ctx context.Context) (*cachedToken, error) {
	s.mu.Lock()
	s.mints++
	s.inMint++
	n, gate := s.mints, s.mintGate
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inMint--
		s.mu.Unlock()
	}()
	select {
	case s.started <- struct{}{}:
	default:
	}
	// Like a real grant, a mint gives up when its context ends: so a flight
	// tied to the first reader's cancellation would show as an error.
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mintErr != nil {
		return nil, s.mintErr
	}
	now := s.clock.Now()
	return &cachedToken{AccessToken: fmt.Sprintf("minted-%d", n), TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(s.life)}, nil
}

func (s *fakeTokenSource) budget() time.Duration { return 10 * time.Second }

func (s *fakeTokenSource) counts() (loads, mints int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads, s.mints
}

func (s *fakeTokenSource) mintsInProgress() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inMint
}

func (s *fakeTokenSource) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mintErr = err
}

func (s *fakeTokenSource) setStored(t *cachedToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stored = t
}

// holdMints makes every mint wait until release is called. It drops the
// started signals of earlier mints, so started tells only of held ones.
func (s *fakeTokenSource) holdMints() (release func()) {
	for len(s.started) > 0 {
		<-s.started
	}
	gate := make(chan struct{})
	s.mu.Lock()
	s.mintGate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// holdLoads makes every load wait until release is called.
func (s *fakeTokenSource) holdLoads() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.loadGate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// waitingCtx closes waiting the first time its Done is asked for. get and
// refresh ask only once they wait on a flight, so the test knows a reader has
// joined (or started) one before it lets the flight end; nothing else in the
// cache asks, as the flight's context is detached with WithoutCancel.
type waitingCtx struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func newWaitingCtx(parent context.Context) *waitingCtx {
	return &waitingCtx{Context: parent, waiting: make(chan struct{})}
}

func (c *waitingCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

type getResult struct {
	tok     *cachedToken
	warning string
	err     error
}

// goGet runs get in a goroutine; its result arrives on the channel.
func goGet(c *tokenCache, ctx context.Context, key string, src tokenSource, minLeft time.Duration) <-chan getResult {
	out := make(chan getResult, 1)
	go func() {
		tok, warning, err := getToken(c, ctx, key, src, minLeft)
		out <- getResult{tok, warning, err}
	}()
	return out
}

// waitFor bounds a wait that only a bug makes long, so a bug fails the test
// instead of hanging it.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		require.FailNow(t, "timed out waiting for "+what)
		var zero T
		return zero
	}
}

// waitParkedIn waits until a goroutine is parked (on a lock, a channel, a
// wait group) inside the function called fn, or until returned is ready,
// whichever comes first, and reports whether it was parked. It proves that a
// call blocks without guessing how long "not yet" must last: a call that
// wrongly does not block returns instead, and the test sees it.
func waitParkedIn[T any](t *testing.T, fn string, returned <-chan T) (parked bool) {
	t.Helper()
	frame := "." + fn + "("
	deadline := time.Now().Add(10 * time.Second) // only a hang guard: no outcome depends on it
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		if len(returned) > 0 {
			return false
		}
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(stacks, "\n\n") {
			state, _, _ := strings.Cut(g, "\n")
			if strings.Contains(g, frame) && !strings.Contains(state, "[running]") && !strings.Contains(state, "[runnable]") {
				return true
			}
		}
		runtime.Gosched()
	}
	require.FailNow(t, "neither parked in "+fn+" nor returned")
	return false
}

func mustGet(t *testing.T, c *tokenCache, key string, src tokenSource, minLeft time.Duration) *cachedToken {
	t.Helper()
	tok, warning, err := getToken(c, context.Background(), key, src, minLeft)
	require.NoError(t, err)
	require.Empty(t, warning)
	require.NotNil(t, tok)
	return tok
}

func requireCounts(t *testing.T, src *fakeTokenSource, loads, mints int) {
	t.Helper()
	gotLoads, gotMints := src.counts()
	require.Equal(t, loads, gotLoads, "loads")
	require.Equal(t, mints, gotMints, "mints")
}

func TestTokenCacheSingleFlight(t *testing.T) {
	_, src, c := cacheUnderTest(time.Hour)
	release := src.holdMints()
	defer release()

	const readers = 100
	probes := make([]*waitingCtx, readers)
	results := make([]<-chan getResult, readers)
	for i := range readers {
		probes[i] = newWaitingCtx(context.Background())
		results[i] = goGet(c, probes[i], "k", src, 0)
	}
	// The mint ends only once every reader waits on a flight, so a second
	// flight, had any reader started one, would show as a second mint.
	for _, p := range probes {
		waitFor(t, p.waiting, "a reader to wait")
	}
	release()

	first := waitFor(t, results[0], "the first reader")
	require.NoError(t, first.err)
	require.NotNil(t, first.tok)
	for i := 1; i < readers; i++ {
		r := waitFor(t, results[i], "a reader")
		require.NoError(t, r.err)
		require.Empty(t, r.warning)
		require.Same(t, first.tok, r.tok)
	}
	requireCounts(t, src, 1, 1)
}

func TestTokenCacheStoredToken(t *testing.T) {
	t.Run("fresh stored token is served without a mint", func(t *testing.T) {
		clock := testsupport.NewClock()
		src := newFakeTokenSource(clock, time.Minute)
		now := clock.Now()
		stored := &cachedToken{AccessToken: "stored", IssuedAt: now.Add(-10 * time.Second), ExpiresAt: now.Add(50 * time.Second)}
		src.setStored(stored)
		c := newTokenCache(clock.Now)

		require.Same(t, stored, mustGet(t, c, "k", src, 0))
		requireCounts(t, src, 1, 0)
		// Once loaded, memory answers: storage is not read again.
		require.Same(t, stored, mustGet(t, c, "k", src, 0))
		requireCounts(t, src, 1, 0)
	})

	t.Run("stored token past its refresh point is re-minted", func(t *testing.T) {
		clock := testsupport.NewClock()
		src := newFakeTokenSource(clock, time.Minute)
		now := clock.Now()
		// 19s of 60s left: under a third, though far from expiry.
		stored := &cachedToken{AccessToken: "stored", IssuedAt: now.Add(-41 * time.Second), ExpiresAt: now.Add(19 * time.Second)}
		src.setStored(stored)
		c := newTokenCache(clock.Now)

		tok := mustGet(t, c, "k", src, 0)
		require.Equal(t, "minted-1", tok.AccessToken)
		requireCounts(t, src, 1, 1)
	})

	t.Run("reader joining a flight whose stored token is too short for it gets a minted one", func(t *testing.T) {
		clock := testsupport.NewClock()
		src := newFakeTokenSource(clock, time.Minute)
		now := clock.Now()
		stored := &cachedToken{AccessToken: "stored", IssuedAt: now.Add(-10 * time.Second), ExpiresAt: now.Add(50 * time.Second)}
		src.setStored(stored)
		c := newTokenCache(clock.Now)
		release := src.holdLoads()
		defer release()

		first := newWaitingCtx(context.Background())
		firstRes := goGet(c, first, "k", src, 0)
		waitFor(t, first.waiting, "the first reader to wait")
		second := newWaitingCtx(context.Background())
		secondRes := goGet(c, second, "k", src, 55*time.Second)
		waitFor(t, second.waiting, "the second reader to wait")
		release()

		r := waitFor(t, firstRes, "the first reader")
		require.NoError(t, r.err)
		require.Same(t, stored, r.tok)
		r = waitFor(t, secondRes, "the second reader")
		require.NoError(t, r.err)
		require.Equal(t, "minted-1", r.tok.AccessToken)
		require.GreaterOrEqual(t, r.tok.ExpiresAt.Sub(clock.Now()), 55*time.Second)
		requireCounts(t, src, 1, 1)
	})
}

func TestTokenCacheChangeDuringFlight(t *testing.T) {
	t.Run("forget", func(t *testing.T) {
		_, src, c := cacheUnderTest(time.Hour)
		release := src.holdMints()
		defer release()

		res := goGet(c, context.Background(), "k", src, 0)
		waitFor(t, src.started, "the mint to start")
		c.forget("k") // as Invalidate does, without the key's lock
		release()
		r := waitFor(t, res, "the reader")
		require.NoError(t, r.err)
		require.Equal(t, "minted-1", r.tok.AccessToken)

		// The token was minted from the source as it was before the change:
		// the cache must not keep it, so the next read loads and mints anew.
		tok := mustGet(t, c, "k", src, 0)
		require.Equal(t, "minted-2", tok.AccessToken)
		requireCounts(t, src, 2, 2)
	})

	t.Run("a reader after forget waits for a new flight", func(t *testing.T) {
		_, src, c := cacheUnderTest(time.Hour)
		release := src.holdMints()
		defer release()

		before := goGet(c, context.Background(), "k", src, 0)
		waitFor(t, src.started, "the mint to start")
		c.forget("k") // another node changed the key's source
		after := goGet(c, context.Background(), "k", src, 0)
		release()
		require.Equal(t, "minted-1", waitFor(t, before, "the first reader").tok.AccessToken)
		r := waitFor(t, after, "the reader after the change")
		require.NoError(t, r.err)
		require.Equal(t, "minted-2", r.tok.AccessToken, "a token minted before the change is not handed out after it")
	})

	t.Run("changeKey", func(t *testing.T) {
		_, src, c := cacheUnderTest(time.Hour)
		release := src.holdMints()
		defer release()

		res := goGet(c, context.Background(), "k", src, 0)
		waitFor(t, src.started, "the mint to start")

		mintsSeenByChange := -1
		changed := make(chan error, 1)
		go func() {
			changed <- c.changeKey("k", func() error {
				mintsSeenByChange = src.mintsInProgress()
				return nil
			})
		}()
		// changeKey must block on the key while the mint is held; one that
		// ignored the key's lock returns instead.
		require.True(t, waitParkedIn(t, "(*tokenCache).changeKey", changed), "changeKey ran while a mint of its key was in flight")
		release()
		require.NoError(t, waitFor(t, changed, "changeKey"))
		require.Equal(t, 0, mintsSeenByChange, "the change ran during a mint")
		r := waitFor(t, res, "the reader")
		require.NoError(t, r.err)
		require.Equal(t, "minted-1", r.tok.AccessToken)

		tok := mustGet(t, c, "k", src, 0)
		require.Equal(t, "minted-2", tok.AccessToken)
		requireCounts(t, src, 2, 2)
	})

	t.Run("changeKey returns fn's error and still forgets", func(t *testing.T) {
		_, src, c := cacheUnderTest(time.Hour)
		mustGet(t, c, "k", src, 0)

		errChange := errors.New("write failed")
		require.ErrorIs(t, c.changeKey("k", func() error { return errChange }), errChange)
		require.Equal(t, "minted-2", mustGet(t, c, "k", src, 0).AccessToken)
	})
}

func TestTokenCacheFallback(t *testing.T) {
	transient := &upstreamError{chain: "c", grant: "client_credentials", err: &upstream.Error{Kind: upstream.KindTransient, Detail: "HTTP 503"}}
	cases := []struct {
		name     string
		err      error
		fallback bool
	}{
		{"Resamania unreachable", transient, true},
		{"plain error", errors.New("boom"), true},
		{"refresh token held in memory only", &storageFailedError{key: "k", err: errors.New("disk full")}, true},
		{"storage refused the fence", &fenceError{key: "k", grant: grantRefreshToken, err: errors.New("disk full")}, true},
		{"credential needs sign-in", &credStateError{chain: "c", name: "n", state: credSignInRequired, reason: "invalid_grant"}, false},
		{"answer lost", &answerLostError{msg: "answer lost", err: transient}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock, src, c := cacheUnderTest(time.Minute)
			old := mustGet(t, c, "k", src, 0)

			// 15s of 60s left: past the refresh point (20s), still usable (over 7s).
			clock.Advance(45 * time.Second)
			src.fail(tc.err)
			tok, warning, err := getToken(c, context.Background(), "k", src, 0)
			requireCounts(t, src, 1, 2)
			if !tc.fallback {
				require.ErrorIs(t, err, tc.err)
				require.Nil(t, tok)
				require.Empty(t, warning)
				// No cooldown either: the next reader asks again and learns of it.
				_, _, err = getToken(c, context.Background(), "k", src, 0)
				require.ErrorIs(t, err, tc.err)
				requireCounts(t, src, 1, 3)
				return
			}
			require.NoError(t, err)
			require.Same(t, old, tok)
			require.Contains(t, warning, tc.err.Error())

			// Within the cooldown, readers get the old token at once.
			clock.Advance(failureCooldown - time.Millisecond)
			tok, warning, err = getToken(c, context.Background(), "k", src, 0)
			require.NoError(t, err)
			require.Same(t, old, tok)
			require.NotEmpty(t, warning)
			requireCounts(t, src, 1, 2)

			// Once it is over, the next reader tries again.
			clock.Advance(time.Millisecond)
			tok, warning, err = getToken(c, context.Background(), "k", src, 0)
			require.NoError(t, err)
			require.Same(t, old, tok)
			require.NotEmpty(t, warning)
			requireCounts(t, src, 1, 3)

			// Resamania back: a new token, and no warning.
			src.fail(nil)
			clock.Advance(failureCooldown)
			tok = mustGet(t, c, "k", src, 0)
			require.Equal(t, "minted-4", tok.AccessToken)
		})
	}

	t.Run("stored token is the fallback", func(t *testing.T) {
		clock := testsupport.NewClock()
		src := newFakeTokenSource(clock, time.Minute)
		now := clock.Now()
		stored := &cachedToken{AccessToken: "stored", IssuedAt: now.Add(-45 * time.Second), ExpiresAt: now.Add(15 * time.Second)}
		src.setStored(stored)
		src.fail(transient)
		c := newTokenCache(clock.Now)

		tok, warning, err := getToken(c, context.Background(), "k", src, 0)
		require.NoError(t, err)
		require.Same(t, stored, tok)
		require.NotEmpty(t, warning)
		requireCounts(t, src, 1, 1)
	})

	t.Run("no fallback once the old token is too close to expiry", func(t *testing.T) {
		clock, src, c := cacheUnderTest(time.Minute)
		mustGet(t, c, "k", src, 0)

		clock.Advance(53 * time.Second) // 7s left: not over margin + 1s
		src.fail(transient)
		tok, _, err := getToken(c, context.Background(), "k", src, 0)
		require.ErrorIs(t, err, transient)
		require.Nil(t, tok)
	})
}

func TestTokenCacheBlockedKeyServesNoToken(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		blocked bool
	}{
		{"credential needs sign-in", &credStateError{chain: "c", name: "n", state: credSignInRequired, reason: "invalid_grant"}, true},
		{"answer lost", &answerLostError{msg: "answer lost", err: errors.New("timeout")}, true},
		{"transient", errors.New("boom"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, src, c := cacheUnderTest(time.Hour)
			old := mustGet(t, c, "k", src, 0)

			src.fail(tc.err)
			require.ErrorIs(t, c.refresh(context.Background(), "k", src), tc.err)
			requireCounts(t, src, 1, 2)

			// old has nearly an hour left, so is fresh: only the block may stop it.
			tok, warning, err := getToken(c, context.Background(), "k", src, 0)
			if !tc.blocked {
				require.NoError(t, err)
				require.Empty(t, warning)
				require.Same(t, old, tok)
				requireCounts(t, src, 1, 2)
				return
			}
			require.ErrorIs(t, err, tc.err)
			require.Nil(t, tok)
			require.Empty(t, warning)
		})
	}
}

func TestTokenCacheMinimumSeconds(t *testing.T) {
	clock, src, c := cacheUnderTest(time.Minute)
	first := mustGet(t, c, "k", src, 0)

	clock.Advance(10 * time.Second) // 50s left
	require.Same(t, first, mustGet(t, c, "k", src, 50*time.Second))
	requireCounts(t, src, 1, 1)

	second := mustGet(t, c, "k", src, 51*time.Second)
	require.Equal(t, "minted-2", second.AccessToken)
	requireCounts(t, src, 1, 2)

	// The key's tokens live 60s: no mint can give 90s, so none is asked for.
	tok, _, err := getToken(c, context.Background(), "k", src, 90*time.Second)
	require.Nil(t, tok)
	var tooShort *errTooShort
	require.ErrorAs(t, err, &tooShort)
	require.Equal(t, time.Minute, tooShort.lifetime)
	require.Equal(t, 90*time.Second, tooShort.minLeft)
	require.True(t, tooShort.unasked)
	requireCounts(t, src, 1, 2)
}

func TestTokenCacheRefresh(t *testing.T) {
	t.Run("mints though the cached token is fresh", func(t *testing.T) {
		_, src, c := cacheUnderTest(time.Hour)
		first := mustGet(t, c, "k", src, 0)

		require.NoError(t, c.refresh(context.Background(), "k", src))
		requireCounts(t, src, 1, 2)
		tok := mustGet(t, c, "k", src, 0)
		require.NotSame(t, first, tok)
		require.Equal(t, "minted-2", tok.AccessToken)
		requireCounts(t, src, 1, 2)
	})

	t.Run("mints past a fresh stored token", func(t *testing.T) {
		clock := testsupport.NewClock()
		src := newFakeTokenSource(clock, time.Hour)
		now := clock.Now()
		src.setStored(&cachedToken{AccessToken: "stored", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
		c := newTokenCache(clock.Now)

		require.NoError(t, c.refresh(context.Background(), "k", src))
		requireCounts(t, src, 0, 1)
		require.Equal(t, "minted-1", mustGet(t, c, "k", src, 0).AccessToken)
		requireCounts(t, src, 0, 1)
	})

	t.Run("joins a flight under way", func(t *testing.T) {
		_, src, c := cacheUnderTest(time.Hour)
		release := src.holdMints()
		defer release()

		res := goGet(c, context.Background(), "k", src, 0)
		waitFor(t, src.started, "the mint to start")
		probe := newWaitingCtx(context.Background())
		refreshed := make(chan error, 1)
		go func() { refreshed <- c.refresh(probe, "k", src) }()
		waitFor(t, probe.waiting, "refresh to wait")
		release()

		require.NoError(t, waitFor(t, refreshed, "refresh"))
		r := waitFor(t, res, "the reader")
		require.NoError(t, r.err)
		require.Equal(t, "minted-1", r.tok.AccessToken)
		requireCounts(t, src, 1, 1)
	})
}

func TestTokenCacheReadAhead(t *testing.T) {
	t.Run("read key past half its life", func(t *testing.T) {
		clock, src, c := cacheUnderTest(time.Minute)
		t0 := clock.Now()
		mustGet(t, c, "k", src, 0)

		require.Empty(t, c.readAhead(t0.Add(30*time.Second)), "exactly half its life left")
		due := c.readAhead(t0.Add(31 * time.Second))
		require.Len(t, due, 1)
		require.Same(t, src, due["k"])
	})

	t.Run("key not read since its token was issued", func(t *testing.T) {
		clock, src, c := cacheUnderTest(time.Minute)
		mustGet(t, c, "k", src, 0)

		clock.Advance(10 * time.Second)
		require.NoError(t, c.refresh(context.Background(), "k", src))
		later := clock.Now().Add(31 * time.Second)
		require.Empty(t, c.readAhead(later))

		clock.Advance(time.Second)
		mustGet(t, c, "k", src, 0) // from memory, but a read all the same
		require.Len(t, c.readAhead(later), 1)
	})

	t.Run("key never read", func(t *testing.T) {
		clock, src, c := cacheUnderTest(time.Minute)
		require.NoError(t, c.refresh(context.Background(), "k", src))
		require.Empty(t, c.readAhead(clock.Now().Add(59*time.Second)))
	})

	t.Run("key with a flight in progress", func(t *testing.T) {
		clock, src, c := cacheUnderTest(time.Minute)
		mustGet(t, c, "k", src, 0)
		clock.Advance(31 * time.Second)
		require.Len(t, c.readAhead(clock.Now()), 1, "due but for the flight")

		release := src.holdMints()
		defer release()
		refreshed := make(chan error, 1)
		go func() { refreshed <- c.refresh(context.Background(), "k", src) }()
		waitFor(t, src.started, "the mint to start")
		require.Empty(t, c.readAhead(clock.Now()))
		release()
		require.NoError(t, waitFor(t, refreshed, "refresh"))
	})
}

func TestTokenCacheCancelledReader(t *testing.T) {
	_, src, c := cacheUnderTest(time.Hour)
	release := src.holdMints()
	defer release()

	// The first reader starts the flight, then gives up.
	firstCtx, cancelFirst := context.WithCancel(context.Background())
	defer cancelFirst()
	first := newWaitingCtx(firstCtx)
	firstRes := goGet(c, first, "k", src, 0)
	waitFor(t, first.waiting, "the first reader to wait")
	other := newWaitingCtx(context.Background())
	otherRes := goGet(c, other, "k", src, 0)
	waitFor(t, other.waiting, "the other reader to wait")

	cancelFirst()
	// The mint is still held: returning at all is returning promptly.
	r := waitFor(t, firstRes, "the cancelled reader")
	require.ErrorIs(t, r.err, context.Canceled)
	require.Nil(t, r.tok)

	refreshCtx, cancelRefresh := context.WithCancel(context.Background())
	cancelRefresh()
	require.ErrorIs(t, c.refresh(refreshCtx, "k", src), context.Canceled)

	select {
	case r := <-otherRes:
		require.FailNow(t, "a reader returned before the mint ended", "%+v", r)
	default:
	}
	release()
	r = waitFor(t, otherRes, "the other reader")
	require.NoError(t, r.err)
	require.Equal(t, "minted-1", r.tok.AccessToken)
	require.Same(t, r.tok, mustGet(t, c, "k", src, 0))
	requireCounts(t, src, 1, 1)
}

// abandonedFlight starts a held mint of key for a reader that then gives up,
// leaving the flight running: what unloading the mount must wait for.
func abandonedFlight(t *testing.T, c *tokenCache, src *fakeTokenSource, key string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reader := newWaitingCtx(ctx)
	res := goGet(c, reader, key, src, 0)
	waitFor(t, reader.waiting, "the reader to wait")
	cancel()
	require.ErrorIs(t, waitFor(t, res, "the reader").err, context.Canceled)
}

func TestTokenCacheDrainWaitsForTheFlightUnderWay(t *testing.T) {
	_, src, c := cacheUnderTest(time.Hour)
	release := src.holdMints()
	defer release()
	abandonedFlight(t, c, src, "k")

	drained := make(chan bool, 1)
	go func() { drained <- c.drain(5 * time.Second) }()
	require.True(t, waitParkedIn(t, "(*tokenCache).drain", drained), "drain returned while a mint was under way")
	release()
	require.True(t, waitFor(t, drained, "drain"), "every flight ended")
	require.Zero(t, src.mintsInProgress())

	_, _, err := getToken(c, context.Background(), "other", src, 0)
	require.ErrorIs(t, err, errUnloading, "no flight starts once drained")
	require.ErrorIs(t, c.refresh(context.Background(), "other", src), errUnloading)
	requireCounts(t, src, 1, 1)
}

func TestTokenCacheDrainGivesUpAtItsLimit(t *testing.T) {
	_, src, c := cacheUnderTest(time.Hour)
	release := src.holdMints()
	defer release()
	abandonedFlight(t, c, src, "k")
	require.False(t, c.drain(20*time.Millisecond), "a mint still held")
}

// entryCount is how many keys the cache has an entry for.
func entryCount(c *tokenCache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// TestTokenCacheForgottenEntriesAreRemoved: what a deleted chain or
// credential held leaves memory, at once when idle, else when the flight or
// change using it ends; the memory of the cache does not grow with deletions.
func TestTokenCacheForgottenEntriesAreRemoved(t *testing.T) {
	_, src, c := cacheUnderTest(time.Hour)
	mustGet(t, c, "config/a", src, 0)
	mustGet(t, c, "club/a/1", src, 0)
	mustGet(t, c, "club/a/2", src, 0)
	mustGet(t, c, "club/b/1", src, 0)
	require.Equal(t, 4, entryCount(c))
	c.forget("config/a")
	c.forgetPrefix("club/a/")
	require.Equal(t, 1, entryCount(c), "only club/b/1 is left")

	require.NoError(t, c.changeKey("creds/a/x", func() error { return nil }))
	require.Equal(t, 1, entryCount(c), "a change leaves no entry behind")

	// Forgotten while its flight runs: the entry stays until the flight ends,
	// so no second flight can overlap it on a new entry's lock.
	release := src.holdMints()
	res := goGet(c, context.Background(), "creds/a/y", src, 0)
	waitFor(t, src.started, "the mint to start")
	c.forget("creds/a/y")
	require.Equal(t, 2, entryCount(c))
	release()
	require.NoError(t, waitFor(t, res, "the reader").err)
	require.Equal(t, 1, entryCount(c), "removed once its flight ended")
}

// getToken is c.get with its answer spread out, for tests that look at the
// token and the warning.
func getToken(c *tokenCache, ctx context.Context, key string, src tokenSource, minLeft time.Duration) (*cachedToken, string, error) {
	ans, err := c.get(ctx, key, src, minLeft)
	return ans.token, ans.warning, err
}
