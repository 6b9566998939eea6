package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Kind says who can fix a failed token request.
type Kind int

const (
	// KindRejected: the OAuth server answered with an OAuth error (HTTP 400
	// and an "error" code). Retrying the same request gives the same answer.
	KindRejected Kind = iota + 1
	// KindGateway: the API gateway refused the call (401 without an OAuth
	// error body): the gateway key (api_key) is missing or wrong.
	KindGateway
	// KindTransient: a timeout, a connection failure, 429 or 5xx. Worth
	// retrying later, when a retry cannot spend a single-use token twice.
	KindTransient
	// KindProtocol: an answer that is not a token response (garbage, a
	// redirect, an unexpected status, a missing or expired access token).
	KindProtocol
	// KindTLS: the server's certificate is not trusted; ca_pem may fix it.
	KindTLS
	// KindNotInPlan: the gateway refused the call with a 403: the key was
	// accepted, but the endpoint is not in its plan. Only Resamania can fix it.
	KindNotInPlan
	// KindWrongPath: the gateway serves no API at the path (a 404 "No
	// context-path matches the request URI."): the environment path in
	// api_base_url is wrong.
	KindWrongPath
	// KindNotFound: a 404 from behind the gateway: Resamania knows no chain
	// by the client_token in the path.
	KindNotFound
)

// Texts the gateway and Resamania are known to send with a refusal
// (docs/resamania.md); only these are ever quoted from a body.
const (
	noContextPathText        = "No context-path matches the request URI."
	unauthorizedEndpointText = "api.error.scope.unauthorized-endpoint"
)

// Error is a failed token request, described without any secret: it names the
// HTTP status and OAuth error fields, never the request or response body.
type Error struct {
	Kind        Kind
	Status      int    // HTTP status; 0 when no response arrived
	Code        string // OAuth "error", for KindRejected
	Description string // OAuth "error_description", may be empty
	Detail      string // what went wrong, for the other kinds
	// Sent is true when the request may have reached the server. A refresh or
	// code exchange with Sent set must never be repeated blindly.
	Sent       bool
	RetryAfter time.Duration // from a Retry-After header, or the end of a gateway window
	Attempts   int
	// Window is the gateway limit a 429 reached and when it ends; with Sent
	// false, the request was held back because that window was still closed.
	Window *LimitWindow
	header http.Header // the answer's headers, read for Window
	text   string      // a refusal's body text, matched against known texts, never shown
}

func (e *Error) Error() string {
	var msg string
	switch e.Kind {
	case KindRejected:
		msg = fmt.Sprintf("Resamania rejected the request: %s", e.Code)
		if e.Description != "" {
			msg += fmt.Sprintf(" (%s)", e.Description)
		}
	case KindGateway:
		msg = fmt.Sprintf("Resamania's API gateway refused the request (HTTP %d): the gateway key (api_key) is missing or wrong", e.Status)
	case KindNotInPlan:
		msg = fmt.Sprintf("Resamania's API gateway refused the request (HTTP %d): the gateway key was accepted, but this endpoint is not in its plan", e.Status)
		if strings.Contains(e.text, unauthorizedEndpointText) {
			msg += " (" + unauthorizedEndpointText + ")"
		}
	case KindWrongPath:
		msg = fmt.Sprintf("Resamania's API gateway serves no API at this path (HTTP %d: %q)", e.Status, noContextPathText)
	case KindNotFound:
		msg = fmt.Sprintf("the token endpoint answered HTTP %d (not found): Resamania knows no club chain by this client_token", e.Status)
	case KindTransient:
		if e.Window != nil {
			msg = e.windowMessage()
			break
		}
		msg = "Resamania is unavailable: " + e.Detail
		if e.RetryAfter > 0 {
			msg += fmt.Sprintf(", Retry-After %s", e.RetryAfter)
		}
	case KindTLS:
		msg = "could not reach Resamania securely: " + e.Detail
	default:
		msg = "Resamania's answer is not a valid token response: " + e.Detail
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return msg
}

// windowMessage says which gateway limit holds the key, until when (UTC), and
// whether this request was sent at all.
func (e *Error) windowMessage() string {
	msg := fmt.Sprintf("Resamania's API gateway limits this gateway key: its %s is reached until %s", e.Window.Limit, e.Window.Until.UTC().Format(time.RFC3339))
	if !e.Sent {
		return msg + "; the request was not sent, so as not to prolong it"
	}
	return msg + " (" + e.Detail + ")"
}

// IsRejected reports whether err is an OAuth error with one of the codes.
func IsRejected(err error, codes ...string) bool {
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRejected {
		return false
	}
	for _, c := range codes {
		if e.Code == c {
			return true
		}
	}
	return len(codes) == 0
}

// MaySpendGrant reports whether a failed refresh or code exchange may have been
// processed by the server, so that the single-use value could be gone.
func MaySpendGrant(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	// A 429 was refused before processing (RFC 6585); the gateway's own
	// refusals, and a 404, never reached a grant.
	return e.Sent && !e.Kind.refusedUnprocessed() && e.Status != 429
}

// refusedUnprocessed: an answer of this kind says the grant was not processed.
func (k Kind) refusedUnprocessed() bool {
	switch k {
	case KindRejected, KindGateway, KindNotInPlan, KindWrongPath, KindNotFound:
		return true
	}
	return false
}

func protocolError(detail string) *Error {
	return &Error{Kind: KindProtocol, Detail: detail, Sent: true}
}
