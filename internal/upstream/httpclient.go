package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"

	"github.com/hashicorp/go-cleanhttp"
)

// maxBodyBytes bounds what is read of any answer: a token response is a few KiB.
const maxBodyBytes = 256 << 10

var errBodyTooLarge = errors.New("answer larger than 256 KiB")

// maxHeaderBytes bounds an answer's headers, which a failed answer's error
// keeps; the gateway's are a few hundred bytes, and net/http's own bound is
// 10 MiB.
const maxHeaderBytes = 64 << 10

// headersTooLarge reports net/http's refusal of headers past
// maxHeaderBytes; it has no error value of its own to match.
func headersTooLarge(err error) bool {
	return err != nil && strings.Contains(err.Error(), "server response headers exceeded")
}

// ParseCAPEM returns a pool holding only the certificates of a PEM bundle.
func ParseCAPEM(pemBundle string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemBundle)) {
		return nil, fmt.Errorf("ca_pem holds no PEM certificate")
	}
	return pool, nil
}

// newTransport builds a pool for token requests: pooled connections, TLS 1.2
// at least, and the operator's CA bundle instead of the system roots when
// given.
func newTransport(caPEM string) (*recordingTransport, error) {
	transport := cleanhttp.DefaultPooledTransport()
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	transport.MaxResponseHeaderBytes = maxHeaderBytes
	if caPEM != "" {
		pool, err := ParseCAPEM(caPEM)
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig.RootCAs = pool
	}
	return &recordingTransport{next: transport}, nil
}

// newHTTPClient builds the client for token requests over pool, following no
// redirects, so credentials in a body are never replayed to another URL.
func newHTTPClient(pool *recordingTransport) *http.Client {
	return &http.Client{
		Transport: pool,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// attempt records what one HTTP exchange did, facts oauth2's errors do not carry.
type attempt struct {
	sent        bool // a connection was obtained: the request may have reached the server
	status      int
	contentType string
	retryAfter  string
	location    string
	header      http.Header // the answer's headers, for the gateway's windows and budgets
	bodyErr     error       // the first error reading the body: oauth2 keeps only its text
	// body is a 2xx answer's body as read (at most maxBodyBytes), kept only
	// to salvage a rotated refresh token from an answer oauth2 refuses.
	body []byte
}

type attemptKey struct{}

func withAttempt(ctx context.Context, a *attempt) context.Context {
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { a.sent = true }}
	return httptrace.WithClientTrace(context.WithValue(ctx, attemptKey{}, a), trace)
}

type recordingTransport struct{ next http.RoundTripper }

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	a, _ := req.Context().Value(attemptKey{}).(*attempt)
	if a != nil {
		a.status = resp.StatusCode
		a.contentType = resp.Header.Get("Content-Type")
		a.retryAfter = resp.Header.Get("Retry-After")
		a.location = resp.Header.Get("Location")
		a.header = resp.Header // read only, once the exchange is over
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxBodyBytes, a: a}
	return resp, nil
}

// idlePerHost sets how many idle connections the pool keeps to one host.
func (t *recordingTransport) idlePerHost(n int) {
	if tr, ok := t.next.(*http.Transport); ok {
		tr.MaxIdleConnsPerHost = n
	}
}

// CloseIdleConnections closes the pool's idle connections.
func (t *recordingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// limitedBody fails a read past the limit instead of silently truncating, so an
// oversized answer is reported as such rather than as malformed JSON.
// The error is also kept in the attempt: oauth2 formats a body read error
// with %v, so errors.Is cannot find it in what oauth2 returns.
type limitedBody struct {
	io.ReadCloser
	left int64
	a    *attempt // nil outside a token request
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.read(p)
	if b.a != nil && b.a.status >= 200 && b.a.status < 300 {
		b.a.body = append(b.a.body, p[:n]...)
	}
	if err != nil && err != io.EOF && b.a != nil && b.a.bodyErr == nil {
		b.a.bodyErr = err
	}
	return n, err
}

func (b *limitedBody) read(p []byte) (int, error) {
	if b.left <= 0 {
		var probe [1]byte
		if n, err := b.ReadCloser.Read(probe[:]); n > 0 {
			return 0, errBodyTooLarge
		} else {
			return 0, err
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
