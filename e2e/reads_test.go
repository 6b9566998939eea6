package e2e

import (
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"
)

// readAtOnce has n readers read path at the same moment, reader r through
// clients[r%len(clients)], and returns the access token they all got: every
// read must succeed, and all must get the same token.
func readAtOnce(t *testing.T, clients []*api.Client, n int, path string) string {
	t.Helper()
	tokens := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sec, err := clients[r%len(clients)].Logical().Read(path)
			if err != nil {
				errs[r] = err
				return
			}
			if sec != nil {
				tokens[r], _ = sec.Data["access_token"].(string)
			}
		}()
	}
	close(start)
	wg.Wait()
	for r := range n {
		through := clients[r%len(clients)].Address()
		require.NoError(t, errs[r], "reader %d through %s", r, through)
		require.Equal(t, tokens[0], tokens[r], "reader %d through %s", r, through)
	}
	require.NotEmpty(t, tokens[0])
	return tokens[0]
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
