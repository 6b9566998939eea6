package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"
)

// classify turns whatever oauth2 and net/http returned into an Error that says
// what Resamania answered and whether the request may have reached it.
func classify(err error, a *attempt, attemptCtx, parentCtx context.Context, attemptTimeout time.Duration) *Error {
	e := &Error{Sent: a.sent, Status: a.status, RetryAfter: parseRetryAfter(a.retryAfter, time.Now()), header: a.header}
	if a.bodyErr != nil {
		// oauth2 flattened the body read error into text: put it back in the chain.
		err = errors.Join(err, a.bodyErr)
	}
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		return classifyStatus(e, re, a)
	case errors.Is(err, errBodyTooLarge):
		e.Kind, e.Detail = KindProtocol, fmt.Sprintf("HTTP %d with an %s", a.status, errBodyTooLarge)
	case headersTooLarge(err):
		// Nothing of the answer was read or kept; asking again would get the same.
		e.Kind, e.Detail = KindProtocol, fmt.Sprintf("answer headers too large (over %d KiB), so the answer was not read", maxHeaderBytes>>10)
	case parentCtx.Err() != nil:
		e.Kind, e.Detail = KindTransient, "the request's deadline passed before Resamania answered"
	case attemptCtx.Err() != nil:
		e.Kind, e.Detail = KindTransient, fmt.Sprintf("no answer within %s", attemptTimeout)
	case isUntrustedCert(err):
		e.Kind, e.Detail = KindTLS, "its TLS certificate is not trusted (for a private CA, set ca_pem)"
	case a.status != 0:
		// The server answered 2xx but oauth2 could not read a token from it.
		e.Kind, e.Detail = KindProtocol, describeBadAnswer(err, a)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			e.Kind = KindTransient
		}
	default:
		e.Kind, e.Detail = KindTransient, describeNetError(err)
	}
	return e
}

func classifyStatus(e *Error, re *oauth2.RetrieveError, a *attempt) *Error {
	status := re.Response.StatusCode
	e.Status = status
	if status == 403 || status == 404 || status == 429 {
		e.text = gatewayText(re.Body)
	}
	switch {
	case status == 403:
		// The token endpoint's own errors are 400s: a 403 is the gateway's.
		e.Kind = KindNotInPlan
	case status == 404 && strings.Contains(e.text, noContextPathText):
		e.Kind = KindWrongPath
	case re.ErrorCode != "" && status < 500:
		e.Kind, e.Code, e.Description = KindRejected, re.ErrorCode, re.ErrorDescription
	case status == 401:
		e.Kind = KindGateway
	case status == 404:
		e.Kind = KindNotFound
	case status == 429 || status >= 500:
		e.Kind, e.Detail = KindTransient, fmt.Sprintf("HTTP %d%s", status, bodyKind(a.contentType))
	case status >= 300 && status < 400:
		e.Kind, e.Detail = KindProtocol, fmt.Sprintf("HTTP %d redirect%s, which is refused so that credentials go nowhere else", status, redirectTarget(a.location))
	default:
		e.Kind, e.Detail = KindProtocol, fmt.Sprintf("unexpected HTTP %d%s", status, bodyKind(a.contentType))
	}
	return e
}

func describeBadAnswer(err error, a *attempt) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "missing access_token"):
		return fmt.Sprintf("HTTP %d without an access_token", a.status)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("HTTP %d whose body was cut short", a.status)
	default:
		return fmt.Sprintf("HTTP %d whose body could not be read as a token%s", a.status, bodyKind(a.contentType))
	}
}

func bodyKind(contentType string) string {
	media, _, _ := mime.ParseMediaType(contentType)
	if media == "" || media == "application/json" {
		return ""
	}
	// Not clipped here: Detail is clipped once scrubbed, so that no clipped
	// secret escapes the scrubber.
	return fmt.Sprintf(" (a %s body)", media)
}

func redirectTarget(location string) string {
	u, err := url.Parse(location)
	if err != nil || u.Host == "" {
		return ""
	}
	return " to host " + Clip(u.Host, 80)
}

func isUntrustedCert(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verify)
}

func describeNetError(err error) string {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset before an answer"
	case errors.As(err, &dnsErr):
		return "host name not found: " + Clip(dnsErr.Name, 80)
	case errors.As(err, &opErr):
		return "network error: " + Clip(opErr.Err.Error(), 120)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return "network error: " + Clip(uerr.Err.Error(), 120)
	}
	return "network error"
}
