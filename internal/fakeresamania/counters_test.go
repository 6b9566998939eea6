package fakeresamania_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/testsupport"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

func TestCountersAndRecordedRequests(t *testing.T) {
	clock := testsupport.NewClock()
	srv := newServer(t, fakeresamania.Options{Now: clock.Now})
	requireToken(t, postForm(t, srv, ccForm()))
	requireOAuthError(t, postForm(t, srv, refreshForm("nope")), "invalid_grant")
	requireOAuthError(t, postForm(t, srv, refreshForm("nope")), "invalid_grant")
	send(t, formRequest(t, srv.TokenURL("other"), ccForm()))

	require.Equal(t, 3, srv.TokenRequests(chain, ""))
	require.Equal(t, 1, srv.TokenRequests(chain, "client_credentials"))
	require.Equal(t, 2, srv.TokenRequests(chain, "refresh_token"))
	require.Equal(t, 2, srv.TokenRequests("", "client_credentials"))
	require.Equal(t, 4, srv.TokenRequests("", ""))

	reqs := srv.Requests()
	require.Len(t, reqs, 4)
	first := reqs[0]
	require.Equal(t, chain, first.ClientToken)
	require.Equal(t, "client_credentials", first.GrantType)
	require.Equal(t, "application/x-www-form-urlencoded", first.ContentType)
	require.False(t, first.UsedBasicAuth)
	require.False(t, first.JSONBody)
	require.Equal(t, http.StatusOK, first.Status)
	require.Equal(t, secret, first.Form.Get("client_secret"))
	require.NotEmpty(t, first.RemoteAddr)
	require.NotEmpty(t, first.Header.Get("User-Agent"))
	require.Equal(t, clock.Now(), first.Time)
	require.Equal(t, http.StatusBadRequest, reqs[1].Status)

	// Returned records are copies.
	reqs[0].Form.Set("client_secret", "changed")
	require.Equal(t, secret, srv.Requests()[0].Form.Get("client_secret"))

	srv.ResetCounters()
	require.Zero(t, srv.TokenRequests("", ""))
	require.Empty(t, srv.Requests())
	require.Len(t, srv.IssuedAccessTokens(), 1, "issued tokens survive a reset")
}

func TestConcurrentClientCredentials(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	const n = 200
	tokens := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := postForm(t, srv, ccForm())
			if a.status == http.StatusOK {
				tokens <- a.json["access_token"].(string)
			}
		}()
	}
	wg.Wait()
	close(tokens)
	unique := map[string]bool{}
	for tok := range tokens {
		unique[tok] = true
	}
	require.Len(t, unique, n, "every request got its own token")
	require.Equal(t, n, srv.TokenRequests(chain, "client_credentials"))
	require.Len(t, srv.IssuedAccessTokens(), n)
}

func TestInFlightHighWater(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	postForm(t, srv, ccForm())
	require.Equal(t, 1, srv.InFlightHighWater())

	srv.InjectFault(fakeresamania.Fault{Delay: 300 * time.Millisecond})
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			postForm(t, srv, ccForm())
		}()
	}
	wg.Wait()
	require.Equal(t, 5, srv.InFlightHighWater(), "five requests held 300 ms each overlap")

	srv.ResetCounters()
	require.Zero(t, srv.InFlightHighWater(), "a reset starts from what is in flight now")
}

func TestIssueRefreshToken(t *testing.T) {
	srv := newServer(t, fakeresamania.Options{})
	rt := srv.IssueRefreshToken(chain, clientID, member)
	access, next := requireToken(t, postForm(t, srv, refreshForm(rt)))
	require.Equal(t, member, claims(t, access)["sub"])
	require.NotEqual(t, rt, next, "rotated as any refresh token")
	requireOAuthError(t, postForm(t, srv, refreshForm(rt)), "invalid_grant")
}
