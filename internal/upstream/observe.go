package upstream

import (
	"net/http"
	"time"
)

// Call is one HTTP request sent to the token endpoint, as an Observer sees it:
// which grant, how it ended and how long it took. It holds no secret.
type Call struct {
	Grant    string // a GrantLabel value
	Outcome  string // an Outcome value
	Status   int    // the HTTP status; 0 when no answer arrived
	Duration time.Duration
	Err      *Error // nil on success; its text is free of secrets
}

// Observer is told of every request sent to Resamania, each retry included.
// A request held back by a closed gateway window was never sent and is not
// told. It runs on the caller's goroutine: keep it quick.
type Observer func(Call)

// The grants as metric labels and log fields: short, fixed words, not URIs.
const (
	LabelClientCredentials  = "client_credentials"
	LabelClubCredentials    = "club_credentials"
	LabelContactCredentials = "contact_credentials"
	LabelRefreshToken       = "refresh_token"
	LabelAuthorizationCode  = "authorization_code"
)

// Outcome names how a request ended, in one of a few fixed words fit for a
// metric label: ok, rejected (an OAuth error), gateway_refused (401/403 from
// or 404 from the gateway), rate_limited (429), server_error (5xx), unreachable (no
// answer: refused, reset, timed out), protocol (not a token answer), tls.
func Outcome(e *Error) string {
	switch {
	case e == nil:
		return "ok"
	case e.Kind == KindRejected:
		return "rejected"
	case e.Kind == KindGateway, e.Kind == KindNotInPlan, e.Kind == KindWrongPath:
		return "gateway_refused"
	case e.Kind == KindTLS:
		return "tls"
	case e.Kind == KindProtocol, e.Kind == KindNotFound:
		return "protocol"
	case e.Status == http.StatusTooManyRequests:
		return "rate_limited"
	case e.Status >= 500:
		return "server_error"
	default:
		return "unreachable"
	}
}

// observe tells the Config's Observer, if any, of one request sent.
func (c *Client) observe(grant string, err *Error, took time.Duration) {
	if c.cfg.Observe == nil {
		return
	}
	call := Call{Grant: grant, Outcome: Outcome(err), Duration: took, Err: err}
	if err != nil {
		call.Status = err.Status
	} else {
		call.Status = http.StatusOK
	}
	c.cfg.Observe(call)
}
