// Package fakeresamania is an in-process imitation of Resamania's OAuth
// server (FOSOAuthServerBundle on friendsofsymfony/oauth2-php, behind a
// Gravitee gateway), quirks included, so the plugin is tested against the
// real thing's behaviour rather than a friendly mock. Tests start it with
// Start; the demo binary serves Handler on a listener of its own.
package fakeresamania

import (
	"crypto/subtle"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// gatewayKeyHeader carries the Gravitee API key on every call.
const gatewayKeyHeader = "x-gravitee-api-key"

// Options configure a Server.
type Options struct {
	PathPrefix string                           // per-environment gateway path, e.g. "/integration"
	GatewayKey string                           // when set, token requests without it get a plain-text 401
	Now        func() time.Time                 // injectable clock; nil = time.Now
	TLS        bool                             // serve https; CACertPEM returns the certificate
	Logf       func(format string, args ...any) // optional; never given a secret
}

// Server is the fake Resamania OAuth server.
type Server struct {
	opts      Options
	prefix    string           // PathPrefix with a leading slash and no trailing one ("" for none)
	jwtKey    []byte           // HS256 key signing access tokens, random per server
	ts        *httptest.Server // nil when built with New
	done      chan struct{}    // closed by Close so fault delays stop waiting
	closeOnce sync.Once

	mu            sync.Mutex                   // guards every field below
	clients       map[string]map[string]Client // client_token -> client_id -> client
	members       map[string]map[string]string // client_token -> username -> password
	clubs         map[string]map[string]bool   // client_token -> club number -> known
	access        map[string]accessToken       // access token -> what it was issued for
	refresh       map[string]*grantRecord      // live refresh tokens
	codes         map[string]*grantRecord      // unused authorization codes
	issuedAccess  []string                     // every access token issued, in order
	issuedRefresh []string                     // every refresh token issued, in order
	issuedCodes   []string                     // every authorization code issued, in order
	faults        []*Fault                     // pending faults, first match wins
	requests      []*RecordedRequest           // token-endpoint requests since the last reset
	gateway       gatewayState                 // the gateway's rate limits, counts and closed windows
	outsidePlan   map[string]bool              // client_tokens whose token endpoint the gateway key's plan does not cover
	inFlight      int                          // token requests being answered now
	inFlightMax   int                          // the most token requests answered at once since the last reset
}

// New builds a server without a listener: serve Handler yourself.
// URL, TokenURL and CACertPEM only know the address when built by Start.
func New(opts Options) *Server {
	prefix := strings.TrimRight(opts.PathPrefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	return &Server{
		opts:    opts,
		prefix:  prefix,
		jwtKey:  []byte(randomString(32)),
		done:    make(chan struct{}),
		clients: map[string]map[string]Client{},
		members: map[string]map[string]string{},
		clubs:   map[string]map[string]bool{},
		access:  map[string]accessToken{},
		refresh: map[string]*grantRecord{},
		codes:   map[string]*grantRecord{},
		gateway: gatewayState{limits: DefaultGatewayLimits},
	}
}

// Start builds a server and serves it on 127.0.0.1 with httptest.
func Start(opts Options) *Server {
	s := New(opts)
	s.ts = httptest.NewUnstartedServer(s.Handler())
	if opts.TLS {
		s.ts.StartTLS()
	} else {
		s.ts.Start()
	}
	return s
}

// URL is the api_base_url: scheme://host:port plus the path prefix.
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL + s.prefix
}

// PathPrefix is Options.PathPrefix normalised: "" or "/x", no trailing slash.
func (s *Server) PathPrefix() string { return s.prefix }

// TokenURL is the token endpoint of one chain.
func (s *Server) TokenURL(clientToken string) string {
	return s.URL() + "/" + clientToken + "/oauth/v2/token"
}

// CACertPEM is the PEM of the self-signed TLS certificate, "" without TLS.
func (s *Server) CACertPEM() string {
	if s.ts == nil || s.ts.TLS == nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw}))
}

// Close ends pending fault delays, then stops the listener.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	if s.ts != nil {
		s.ts.Close()
	}
}

// Handler serves the gateway, the token endpoint and the login page.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	clientToken, route, served := s.route(r.URL.Path)
	if !served {
		// Gravitee matches the environment's context path before anything else.
		writeText(w, http.StatusNotFound, noContextPathText)
		return
	}
	// The gateway answers before the OAuth server sees anything, with a
	// body that is not an OAuth error. The login page is a member's browser
	// destination, which cannot carry the key, so it is not guarded.
	if s.opts.GatewayKey != "" && route != "oauth/login" &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(gatewayKeyHeader)), []byte(s.opts.GatewayKey)) != 1 {
		s.logf("fakeresamania: gateway rejected %s %s: API key missing or wrong", r.Method, r.URL.Path)
		writeText(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	switch route {
	case "oauth/v2/token":
		s.serveToken(w, r, clientToken)
	case "oauth/login":
		s.serveLogin(w, r, clientToken)
	default:
		writeText(w, http.StatusNotFound, "Not Found")
	}
}

// noContextPathText is Gravitee's answer for a path no API is deployed on.
const noContextPathText = "No context-path matches the request URI."

// route splits "{prefix}/{client_token}/{route}"; served is false for a
// path outside the environment's prefix, which the gateway serves no API on.
func (s *Server) route(path string) (clientToken, route string, served bool) {
	rest, ok := strings.CutPrefix(path, s.prefix+"/")
	if !ok {
		return "", "", false
	}
	clientToken, route, _ = strings.Cut(rest, "/")
	if clientToken == "" {
		return "", "", true
	}
	return clientToken, route, true
}

// LeaveOutOfPlan makes the token endpoint of clientToken one the gateway
// key's plan does not cover: Resamania answers 403
// api.error.scope.unauthorized-endpoint.
func (s *Server) LeaveOutOfPlan(clientToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outsidePlan == nil {
		s.outsidePlan = map[string]bool{}
	}
	s.outsidePlan[clientToken] = true
}

// endpointRefusal is Resamania's answer, behind the gateway, to a token
// request it serves no OAuth server for: 403 for a chain outside the key's
// plan, 404 for a client_token it does not know. 0 when it serves one.
func (s *Server) endpointRefusal(clientToken string) (status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.outsidePlan[clientToken]:
		return http.StatusForbidden, `{"code":403,"message":"api.error.scope.unauthorized-endpoint"}`
	case len(s.clients[clientToken]) == 0:
		return http.StatusNotFound, `{"code":404,"message":"Item not found"}`
	}
	return 0, ""
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text))
}
