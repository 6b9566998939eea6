package e2e

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

const (
	hostileFor   = time.Minute
	hostileLife  = 60 // seconds: the chains' tokens, so forced mints are 30 s apart
	otherChain   = "otherchain"
	madeUpClubs  = 3
	hostilePause = 20 * time.Millisecond // between two of the hostile app's reads
)

// TestHostileReaderCostsAHandfulOfRequests: an app whose policy reads only
// its chain's token and clubs loops, for a minute, forced reads (a
// minimum_seconds just below the token's life) and reads of clubs
// Resamania does not know. It costs Resamania a handful of requests, and
// another chain on the same gateway key is served all along.
func TestHostileReaderCostsAHandfulOfRequests(t *testing.T) {
	t.Parallel() // it mostly waits
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}, expiresIn: hostileLife})
	st.fake.AddClient(fakeresamania.Client{ClientToken: otherChain, ClientID: clientID, ClientSecret: clientSecret, ExpiresIn: hostileLife})
	st.configure(t)
	_, err := st.vault.Client.Logical().Write(mount+"/config/"+otherChain, map[string]any{
		"api_base_url": st.fake.URL(), "client_id": clientID, "client_secret": clientSecret, "api_key": gatewayKey, "verify_connection": false,
	})
	require.NoError(t, err)

	hostile := st.clientAs(t, st.tokenWithPolicy(t, "hostile", fmt.Sprintf(`
path "%s" { capabilities = ["read"] }
path "%s*" { capabilities = ["read"] }`, tokenPath, clubsPrefix)))
	hostile.SetMaxRetries(0) // each read is the app's, not a retry of the client's
	readTokenOnce(t, hostile, tokenPath)

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		statuses  = map[string]int{} // "kind status" -> count
		otherErrs []string
		otherOK   int
	)
	deadline := time.Now().Add(hostileFor)
	wg.Go(func() {
		for i := 0; time.Now().Before(deadline); i++ {
			path, data := tokenPath, map[string][]string{"minimum_seconds": {fmt.Sprint(hostileLife - 1)}}
			kind := "forced"
			if i%2 == 1 {
				path, data, kind = clubsPrefix+fmt.Sprint(900+i%(2*madeUpClubs)/2), nil, "made-up club"
			}
			_, err := hostile.Logical().ReadWithData(path, data)
			mu.Lock()
			statuses[fmt.Sprintf("%s %d", kind, statusOf(err))]++
			mu.Unlock()
			time.Sleep(hostilePause)
		}
	})
	wg.Go(func() {
		for time.Now().Before(deadline) {
			sec, err := st.vault.Client.Logical().Read(mount + "/token/" + otherChain)
			mu.Lock()
			if err != nil || sec == nil || !st.fake.AccessTokenValid(fmt.Sprint(sec.Data["access_token"])) {
				otherErrs = append(otherErrs, fmt.Sprintf("%s: %v", time.Now().Format(time.TimeOnly), err))
			} else {
				otherOK++
			}
			mu.Unlock()
			time.Sleep(250 * time.Millisecond)
		}
	})
	wg.Wait()

	var lines []string
	for _, k := range slices.Sorted(maps.Keys(statuses)) {
		lines = append(lines, fmt.Sprintf("%s: %d", k, statuses[k]))
	}
	mints := st.fake.TokenRequests(chain, fakeresamania.GrantClientCredentials)
	clubs := st.fake.TokenRequests(chain, fakeresamania.GrantClubCredentials)
	others := st.fake.TokenRequests(otherChain, "")
	t.Logf("HOSTILE READER over %s: %s; it cost Resamania %d client_credentials and %d club requests; the other chain: %d reads served, %d failed, %d requests",
		hostileFor, strings.Join(lines, ", "), mints, clubs, otherOK, len(otherErrs), others)

	require.Positive(t, statuses["forced 429"], "forced reads are spaced")
	require.Positive(t, statuses["made-up club 400"], "made-up clubs are refused")
	// The first read, then one forced mint per 30 s: 3 in a minute, 4 if
	// the loop's last read falls just past the second spacing.
	require.LessOrEqual(t, mints, 1+3)
	require.LessOrEqual(t, clubs, madeUpClubs, "each made-up club asked once")
	require.Empty(t, otherErrs, "the other chain is served all along")
	require.LessOrEqual(t, others, 3, "the other chain's own refreshes only")
}

// readTokenOnce reads path with c and wants a token.
func readTokenOnce(t *testing.T, c *api.Client, path string) {
	t.Helper()
	sec, err := c.Logical().Read(path)
	require.NoError(t, err)
	require.NotNil(t, sec)
}

// statusOf is the HTTP status of a read's error, 200 without one.
func statusOf(err error) int {
	var re *api.ResponseError
	switch {
	case err == nil:
		return 200
	case errors.As(err, &re):
		return re.StatusCode
	}
	return 0
}
