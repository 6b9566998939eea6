package resamania

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The token cache holds an entry only for a key with a live token, a flight
// under way or a user: a reader cannot grow its memory with made-up keys.

func TestTokenCacheRefusedKeysLeaveNoEntry(t *testing.T) {
	_, src, c := cacheUnderTest(time.Hour)
	refused := &scopeRefusedError{msg: "Resamania does not know this club"}
	src.fail(refused)
	for i := range 1000 {
		_, _, err := getToken(c, context.Background(), fmt.Sprintf("club/c/%d", i+1), src, 0)
		require.ErrorIs(t, err, refused)
	}
	require.Equal(t, 0, c.entryCount(), "1000 refused keys")
	require.Equal(t, 0, c.cachedCount())
}

func TestTokenCacheFailedRefreshKeepsTheLiveToken(t *testing.T) {
	clock, src, c := cacheUnderTest(time.Minute)
	old := mustGet(t, c, "k", src, 0)
	clock.Advance(45 * time.Second) // past its refresh point, still usable
	src.fail(fmt.Errorf("Resamania unreachable"))

	tok, warning, err := getToken(c, context.Background(), "k", src, 0)
	require.NoError(t, err)
	require.Same(t, old, tok)
	require.NotEmpty(t, warning)
	require.Equal(t, 1, c.entryCount(), "the entry serves its token during the cooldown")

	tok, _, err = getToken(c, context.Background(), "k", src, 0)
	require.NoError(t, err)
	require.Same(t, old, tok)
	requireCounts(t, src, 1, 2) // the cooldown held: no second mint
}

func TestTokenCacheExpiredTokensAreSwept(t *testing.T) {
	clock, short, c := cacheUnderTest(time.Minute)
	long := newFakeTokenSource(clock, time.Hour)
	held := newFakeTokenSource(clock, time.Minute)
	mustGet(t, c, "short", short, 0)
	mustGet(t, c, "long", long, 0)
	release := held.holdMints()
	defer release()
	res := goGet(c, context.Background(), "flying", held, 0)
	waitFor(t, held.started, "the mint to start")

	clock.Advance(time.Minute) // short's token expires now
	require.Empty(t, c.readAhead(clock.Now()), "an expired token is not refreshed ahead")
	require.Equal(t, 2, c.entryCount(), "long's live token and flying's flight stay")
	require.Equal(t, 1, c.cachedCount())

	release()
	require.NoError(t, waitFor(t, res, "the reader").err)
	require.Equal(t, 2, c.entryCount(), "flying now holds a live token")
	require.Equal(t, 2, c.cachedCount())

	// An expired key read again starts afresh.
	tok := mustGet(t, c, "short", short, 0)
	require.Equal(t, "minted-2", tok.AccessToken)
	requireCounts(t, short, 2, 2)
}

func TestTokenCacheUnloadingLeavesNoEntry(t *testing.T) {
	_, src, c := cacheUnderTest(time.Hour)
	mustGet(t, c, "k", src, 0)
	require.True(t, c.drain(time.Second))

	_, _, err := getToken(c, context.Background(), "other", src, 0)
	require.ErrorIs(t, err, errUnloading)
	require.Equal(t, 1, c.entryCount(), "no entry for a read refused while unloading")
}

func TestTokenCacheResetLeavesNoEntry(t *testing.T) {
	_, src, c := cacheUnderTest(time.Hour)
	mustGet(t, c, "a", src, 0)
	mustGet(t, c, "b", src, 0)
	require.True(t, c.drain(time.Second))

	c.reset()
	require.Equal(t, 0, c.entryCount(), "reset leaves nothing")
	require.Equal(t, 0, c.cachedCount())
}

func TestTokenCacheBlockedKeyKeepsItsEntryUntilItsSourceChanges(t *testing.T) {
	_, src, c := cacheUnderTest(time.Hour)
	mustGet(t, c, "k", src, 0)
	blocked := &credStateError{chain: "c", name: "n", state: credSignInRequired, reason: "invalid_grant"}
	src.fail(blocked)
	require.ErrorIs(t, c.refresh(context.Background(), "k", src), blocked)
	require.Equal(t, 1, c.entryCount(), "the entry bars the stored token")
	require.Equal(t, 0, c.cachedCount())

	require.NoError(t, c.changeKey("k", func() error { return nil }))
	require.Equal(t, 0, c.entryCount())
}
