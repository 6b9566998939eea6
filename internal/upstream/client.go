// Package upstream is the plugin's whole conversation with Resamania's OAuth
// server: the three grants, the gateway header, error classes and retries. It
// is the only code that knows the token endpoint's shape, and it needs no Vault.
package upstream

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// GatewayKeyHeader carries the API gateway's key on every call.
const GatewayKeyHeader = "x-gravitee-api-key"

// Config is one chain's OAuth client.
type Config struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	APIKey       string // sent as GatewayKeyHeader when set
	Scope        string // space-separated, sent with client_credentials and the extension grants when set
	CAPEM        string // trust only these CAs when set
	// AttemptTimeout bounds one HTTP exchange; retries get their own.
	AttemptTimeout time.Duration
	// MaxAttempts bounds retries of transient failures (1 = no retry).
	MaxAttempts int
	UserAgent   string
	Now         func() time.Time
	// Holds, shared by the clients of a mount, keeps every request that uses
	// a gateway key back while a 429 has closed one of the key's windows.
	Holds *GatewayHolds
	// Budgets, shared by the clients of a mount, keeps what the gateway's
	// latest answer said was left of each key's rate limit and quota.
	Budgets *GatewayBudgets
	// Observe, when set, is told of every request sent: metrics and logs.
	Observe Observer
	// InFlight, shared by the clients of a mount, bounds the requests they
	// have in flight at once. Nil bounds nothing.
	InFlight *InFlightLimit
	// InFlightShare names the share of InFlight this client's requests
	// count against: its chain.
	InFlightShare string
	// Transports, shared by the clients of a mount, pools their connections.
	// Nil gives the client a pool of its own.
	Transports *Transports
}

// Client sends token requests for one chain. It is safe for concurrent use.
type Client struct {
	cfg  Config
	key  GatewayKeyID // names the gateway key in Holds
	http *http.Client
	pool *recordingTransport // nil when shared through Config.Transports
}

// New validates nothing the caller has not already: it builds the HTTP client.
func New(cfg Config) (*Client, error) {
	var pool, own *recordingTransport
	var err error
	if cfg.Transports != nil {
		pool, err = cfg.Transports.pool(cfg.CAPEM)
	} else {
		pool, err = newTransport(cfg.CAPEM)
		own = pool
	}
	if err != nil {
		return nil, err
	}
	httpClient := newHTTPClient(pool)
	inner := httpClient.Transport
	httpClient.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		if cfg.APIKey != "" {
			req.Header.Set(GatewayKeyHeader, cfg.APIKey)
		}
		if cfg.UserAgent != "" {
			req.Header.Set("User-Agent", cfg.UserAgent)
		}
		return inner.RoundTrip(req)
	})
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{cfg: cfg, key: gatewayKeyID(cfg.TokenURL, cfg.APIKey), http: httpClient, pool: own}, nil
}

// CloseIdleConnections closes the kept-alive connections of the client's own
// pool that no request is using, as http.Client's method does. Call it when a
// Client is dropped (its chain reconfigured or deleted); the Client stays
// usable. A shared pool is left alone: other chains use its connections.
func (c *Client) CloseIdleConnections() {
	if c.pool != nil {
		c.pool.CloseIdleConnections()
	}
}

// Budget is what the gateway's latest answer said was left of the rate limit
// and the quota of this client's gateway key (answers to other chains on the
// key included); ok is false before any answer told it.
func (c *Client) Budget() (GatewayBudget, bool) { return c.cfg.Budgets.Of(c.key) }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *Client) endpoint() oauth2.Endpoint {
	// AuthStyleInParams, stated: auto-detection would try Basic first and could
	// send a one-time code or refresh token twice.
	return oauth2.Endpoint{TokenURL: c.cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
}

// ClientCredentials mints a token with the client_credentials grant. Nothing
// single-use is spent, so transient failures are retried.
func (c *Client) ClientCredentials(ctx context.Context) (*Token, error) {
	conf := clientcredentials.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		TokenURL:     c.cfg.TokenURL,
		Scopes:       strings.Fields(c.cfg.Scope),
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	return c.do(ctx, LabelClientCredentials, true, func(ctx context.Context) (*oauth2.Token, error) {
		return conf.Token(ctx)
	})
}

// Resamania's two extension grants, server to server like client_credentials.
const (
	// GrantClub mints a token scoped to one club, named by its IRI in clubId.
	GrantClub = "http://clubclientcredentials"
	// GrantContact mints a token scoped to one member, named by email.
	GrantContact = "http://contactclientcredentials"
)

// ClubCredentials mints a token scoped to one club; clubIRI is
// /{client_token}/clubs/{id}. Nothing single-use is spent, so transient
// failures are retried. Any refresh token in the answer is dropped: the
// caller mints again with the grant.
func (c *Client) ClubCredentials(ctx context.Context, clubIRI string) (*Token, error) {
	return c.extensionGrant(ctx, GrantClub, LabelClubCredentials, url.Values{"clubId": {clubIRI}})
}

// ContactCredentials mints a token scoped to one member, named by email. The
// email is personal data: it is scrubbed from anything the server says back.
func (c *Client) ContactCredentials(ctx context.Context, email string) (*Token, error) {
	return c.extensionGrant(ctx, GrantContact, LabelContactCredentials, url.Values{"email": {email}}, email)
}

func (c *Client) extensionGrant(ctx context.Context, grantType, label string, params url.Values, private ...string) (*Token, error) {
	params.Set("grant_type", grantType)
	conf := clientcredentials.Config{
		ClientID:       c.cfg.ClientID,
		ClientSecret:   c.cfg.ClientSecret,
		TokenURL:       c.cfg.TokenURL,
		Scopes:         strings.Fields(c.cfg.Scope),
		EndpointParams: params,
		AuthStyle:      oauth2.AuthStyleInParams,
	}
	tok, err := c.do(ctx, label, true, func(ctx context.Context) (*oauth2.Token, error) {
		return conf.Token(ctx)
	}, private...)
	if err != nil {
		return nil, err
	}
	tok.RefreshToken = "" // never kept: the plugin mints again with the grant
	return tok, nil
}

// ExchangeCode trades a one-time authorization code for tokens. Retried only
// when the request provably never left this process. Like Refresh, it may
// return a Token beside an error: see Refresh.
func (c *Client) ExchangeCode(ctx context.Context, code, redirectURI string) (*Token, error) {
	conf := oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, Endpoint: c.endpoint(), RedirectURL: redirectURI}
	return c.do(ctx, LabelAuthorizationCode, false, func(ctx context.Context) (*oauth2.Token, error) {
		return conf.Exchange(ctx, code)
	}, code)
}

// Refresh spends a single-use refresh token. Retried only when the request
// provably never left this process. When the server issues no new refresh
// token, the returned one is the same (RFC 6749 6: the old one stays valid).
//
// When the answer's access token is unusable but it carries a refresh token,
// the error comes with a Token that holds only that refresh token: the server
// has rotated, and it is the only copy.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	conf := oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, Endpoint: c.endpoint()}
	return c.do(ctx, LabelRefreshToken, false, func(ctx context.Context) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	}, refreshToken)
}

// do runs fetch, a request of the grant labelled grant, with bounded retries. retrySent says whether a request that may
// have reached the server can be repeated; secrets are scrubbed from any text
// the server sent back. A failed answer's rotated refresh token comes back as
// a Token beside the error.
func (c *Client) do(ctx context.Context, grant string, retrySent bool, fetch func(context.Context) (*oauth2.Token, error), secrets ...string) (*Token, error) {
	scrub := newScrubber(append(secrets, c.cfg.ClientSecret, c.cfg.APIKey)...)
	var prev *Error
	for n := 1; ; n++ {
		tok, err := c.attemptUnlessHeld(ctx, grant, fetch, scrub)
		if err == nil {
			return tok, nil
		}
		if tok != nil {
			// The server answered and rotated: never retried, the new
			// refresh token goes to the caller.
			err.Attempts = n
			return tok, err
		}
		if prev != nil && err.Kind == KindTransient && ctx.Err() != nil && (retrySent || !err.Sent) {
			// The overall deadline cut this attempt short: the previous
			// attempt's failure says more about Resamania. Sent stays true
			// if either attempt may have reached it. But a single-use grant
			// that was sent keeps its own error, whatever came before: it may
			// have been spent, and a 429 before it would say it was not.
			prev.Sent = prev.Sent || err.Sent
			err = prev
		}
		err.Attempts = n
		prev = err
		// A 429 was refused unprocessed (RFC 6585), so even a single-use
		// grant may be sent again.
		if n >= c.cfg.MaxAttempts || err.Kind != KindTransient || (err.Sent && !retrySent && err.Status != http.StatusTooManyRequests) {
			return nil, err
		}
		wait, ok := retryWait(ctx, n, err.RetryAfter)
		if !ok {
			return nil, err
		}
		if sleepCtx(ctx, wait) != nil {
			return nil, err
		}
	}
}

// attemptUnlessHeld sends one request, unless a window of the gateway key is
// closed: then it fails at once, unsent, saying until when, and is not
// observed. A 429 that names its window closes it for every client sharing
// the key.
func (c *Client) attemptUnlessHeld(ctx context.Context, grant string, fetch func(context.Context) (*oauth2.Token, error), scrub scrubber) (*Token, *Error) {
	release, waitErr := c.cfg.InFlight.acquire(ctx, c.cfg.InFlightShare)
	if waitErr != nil {
		return nil, &Error{Kind: KindTransient, Detail: "not sent: the mount's requests in flight (or this chain's share of them) stayed at their limit until the read's time ran out"}
	}
	defer release()
	now := c.cfg.Now()
	if w, closed := c.cfg.Holds.closed(c.key, now); closed {
		return nil, &Error{Kind: KindTransient, Status: http.StatusTooManyRequests, Window: &w, RetryAfter: w.Until.Sub(now)}
	}
	start := time.Now() // the wall clock, not cfg.Now: a duration, not a token time
	tok, err := c.attemptOnce(ctx, fetch, scrub)
	took := time.Since(start)
	if err != nil && err.Status == http.StatusTooManyRequests {
		if w, ok := closedWindow(err.header, err.text, now); ok {
			err.Window = &w
			err.RetryAfter = max(err.RetryAfter, w.Until.Sub(now))
			c.cfg.Holds.closeAndTell(c.key, w)
		}
	}
	c.observe(grant, err, took)
	return tok, err
}

// attemptOnce sends one request. On a failure it returns a Token only to carry
// the refresh token of an answer that was otherwise unusable.
func (c *Client) attemptOnce(ctx context.Context, fetch func(context.Context) (*oauth2.Token, error), scrub scrubber) (*Token, *Error) {
	a := &attempt{}
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	actx = context.WithValue(withAttempt(actx, a), oauth2.HTTPClient, c.http)
	tok, err := fetch(actx)
	c.cfg.Budgets.note(c.key, a.header, c.cfg.Now())
	if err == nil {
		t, perr := tokenFromOAuth2(tok, c.cfg.Now())
		if perr != nil {
			perr.Status = a.status
			perr.Detail = scrub.clean(perr.Detail) // it may quote the server's token_type
			// The server has answered, so it may have rotated: the new
			// refresh token must reach the caller even though the access
			// token is unusable.
			return rotated(tok.RefreshToken), perr
		}
		return t, nil
	}
	e := classify(err, a, actx, ctx, c.cfg.AttemptTimeout)
	// The code is clipped only once scrubbed: a clipped secret would escape.
	e.Code, e.Description, e.Detail = Clip(scrub.clean(e.Code), 64), scrub.clean(e.Description), scrub.clean(e.Detail)
	if e.Kind == KindProtocol {
		return rotated(refreshTokenIn(a.body, a.contentType)), e
	}
	return nil, e
}

// rotated is the Token that carries a failed answer's refresh token, or nil.
func rotated(refreshToken string) *Token {
	if refreshToken == "" {
		return nil
	}
	return &Token{RefreshToken: refreshToken}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
