package upstream

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// callLog collects what an Observer is told.
type callLog struct {
	mu    sync.Mutex
	calls []Call
}

func (l *callLog) observe(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

func (l *callLog) outcomes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.calls {
		out = append(out, c.Grant+" "+c.Outcome)
	}
	return out
}

// Every request sent is observed, each retry included, with its outcome: the
// observer sees exactly the requests the server received.
func TestObserverSeesEveryRequestSent(t *testing.T) {
	e := newEnv(t, fakeresamania.Options{})
	e.srv.InjectFault(fakeresamania.Fault{Status: 503, Count: 2})
	var log callLog
	c := e.client(func(c *Config) { c.Observe = log.observe; c.MaxAttempts = 3 })

	_, err := c.ClientCredentials(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"client_credentials server_error", "client_credentials server_error", "client_credentials ok"}, log.outcomes())
	require.Equal(t, e.srv.TokenRequests("", ""), len(log.calls), "one observation per request the server received")
	require.Equal(t, 503, log.calls[0].Status)
	require.NotNil(t, log.calls[0].Err)
	require.Equal(t, 200, log.calls[2].Status)
	require.Nil(t, log.calls[2].Err)
	require.Positive(t, log.calls[2].Duration)

	_, err = c.Refresh(context.Background(), "not-a-refresh-token")
	require.True(t, IsRejected(err, "invalid_grant"))
	require.Equal(t, "refresh_token rejected", log.outcomes()[3])
}

// A request held back by a closed gateway window is not sent, so not observed.
func TestObserverSkipsHeldRequests(t *testing.T) {
	g := newLimitedGateway(t, "X-Quota", 2*time.Hour)
	holds := NewGatewayHolds()
	var log callLog
	c := g.client(t, "c1", holds)
	c.cfg.Observe = log.observe

	_, err := c.ClientCredentials(context.Background())
	require.Error(t, err)
	_, err = c.ClubCredentials(context.Background(), "/c1/clubs/1")
	require.ErrorContains(t, err, "was not sent")
	require.Equal(t, []string{"client_credentials rate_limited"}, log.outcomes())
	require.Equal(t, int32(1), g.requests.Load())
}

func TestOutcome(t *testing.T) {
	cases := map[string]*Error{
		"ok":              nil,
		"rejected":        {Kind: KindRejected, Status: 400, Code: "invalid_client"},
		"gateway_refused": {Kind: KindGateway, Status: 401},
		"rate_limited":    {Kind: KindTransient, Status: 429},
		"server_error":    {Kind: KindTransient, Status: 502},
		"unreachable":     {Kind: KindTransient},
		"protocol":        {Kind: KindProtocol, Status: 200},
		"tls":             {Kind: KindTLS},
	}
	for want, e := range cases {
		require.Equal(t, want, Outcome(e))
	}
}
