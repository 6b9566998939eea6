package e2e

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// readAtOnce has n readers read path at the same moment, reader r through
// clients[r%len(clients)], and returns the access token they all got: every
// read must succeed, and all must get the same token.
func readAtOnce(t *testing.T, clients []*api.Client, n int, path string) string {
	t.Helper()
	return requireOneToken(t, clients, startReads(clients, n, path)())
}

// readWithFirstMintHeld is readAtOnce on a cold path whose first upstream
// request (of grant, to chain) the fake holds open, so that the readers
// find a mint in flight, not a cached token. The fake lets it go only once
// the audit log records every reader's request (Vault audits a request
// before it routes it to the plugin) while the fake still has that one
// request; it returns the token all readers got.
func readWithFirstMintHeld(t *testing.T, fake *fakeresamania.Server, auditLog string, clients []*api.Client, n int, path, grant string) string {
	t.Helper()
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release) // a failed test does not leave the request held
	fake.InjectFault(fakeresamania.Fault{Hold: hold, GrantType: grant, Count: 1})
	before, auditedBefore := fake.TokenRequests(chain, grant), auditedRequests(t, auditLog, path)

	wait := startReads(clients, n, path)
	deadline := time.Now().Add(2 * time.Minute) // a hang guard only; the fake's own bound is the same
	for {
		sent := fake.TokenRequests(chain, grant) - before
		require.LessOrEqual(t, sent, 1, "a second upstream request while the first was held: the readers did not wait for it")
		audited := auditedRequests(t, auditLog, path) - auditedBefore
		if sent == 1 && audited >= n {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d upstream request(s) and %d of %d reads audited, still", sent, audited, n)
		time.Sleep(20 * time.Millisecond)
	}
	release()
	return requireOneToken(t, clients, wait())
}

// readResult is what one reader of startReads got.
type readResult struct {
	token string
	err   error
}

// startReads starts n readers of path at the same moment, reader r through
// clients[r%len(clients)]; wait returns what each got, once all are done.
func startReads(clients []*api.Client, n int, path string) (wait func() []readResult) {
	results := make([]readResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for r := range n {
		wg.Go(func() {
			<-start
			sec, err := clients[r%len(clients)].Logical().Read(path)
			results[r].err = err
			if err == nil && sec != nil {
				results[r].token, _ = sec.Data["access_token"].(string)
			}
		})
	}
	close(start)
	return func() []readResult {
		wg.Wait()
		return results
	}
}

// requireOneToken: every read succeeded, and all got the same token.
func requireOneToken(t *testing.T, clients []*api.Client, results []readResult) string {
	t.Helper()
	for r, res := range results {
		through := clients[r%len(clients)].Address()
		require.NoError(t, res.err, "reader %d through %s", r, through)
		require.Equal(t, results[0].token, res.token, "reader %d through %s", r, through)
	}
	require.NotEmpty(t, results[0].token)
	return results[0].token
}

// auditedRequests counts the audit log's requests to read path: Vault writes
// each before routing it to the plugin.
func auditedRequests(t *testing.T, auditLog, path string) int {
	t.Helper()
	return auditedOperations(t, auditLog, "read", path)
}

// auditedOperations counts the audit log's requests of operation on path.
func auditedOperations(t *testing.T, auditLog, operation, path string) int {
	t.Helper()
	n := 0
	for line := range strings.Lines(vaultharness.ReadLog(auditLog)) {
		var entry struct {
			Type    string `json:"type"`
			Request struct {
				Operation string `json:"operation"`
				Path      string `json:"path"`
			} `json:"request"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue // the last line, being written
		}
		if entry.Type == "request" && entry.Request.Operation == operation && entry.Request.Path == path {
			n++
		}
	}
	return n
}

// readAccessToken reads path with c (one server's client) and returns the
// access token.
func readAccessToken(t *testing.T, c *api.Client, path string) string {
	t.Helper()
	sec, err := c.Logical().Read(path)
	require.NoError(t, err, "read %s through %s", path, c.Address())
	require.NotNil(t, sec, "read %s through %s", path, c.Address())
	tok, _ := sec.Data["access_token"].(string)
	require.NotEmpty(t, tok, "read %s through %s", path, c.Address())
	return tok
}
