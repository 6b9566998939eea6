package fakeresamania

import (
	"net/http"
	"net/url"
	"time"
)

// RecordedRequest is one request that reached the token endpoint.
type RecordedRequest struct {
	Time          time.Time
	ClientToken   string
	GrantType     string
	ContentType   string
	UsedBasicAuth bool      // an Authorization: Basic header was sent
	JSONBody      bool      // the body was read as JSON rather than a form
	GatewayKey    string    // x-gravitee-api-key as received
	Status        int       // status answered; 0 while in flight or when the connection was reset
	Answered      time.Time // when the answer was written (or the connection reset); zero while in flight
	GatewayLimit  LimitKind // the gateway limit that answered 429 in the server's place; "" when it let the request through
	GatewayReset  time.Time // the end of that limit's window, as the 429 said
	RemoteAddr    string
	Header        http.Header
	Form          url.Values // parsed body, secrets included: tests inspect them
	// IssuedRefreshToken is the refresh token the grant issued, when it
	// succeeded; ClientGone says the client had hung up by the time the
	// answer was written (its own timeout, a lost connection): that answer,
	// and its refresh token, never reached it.
	IssuedRefreshToken string
	ClientGone         bool
}

// record appends a request as it arrives; setStatus completes it.
func (s *Server) record(r *http.Request, clientToken string, form url.Values, jsonBody bool) *RecordedRequest {
	_, _, basic := r.BasicAuth()
	rec := &RecordedRequest{
		Time:          s.now(),
		ClientToken:   clientToken,
		GrantType:     form.Get("grant_type"),
		ContentType:   r.Header.Get("Content-Type"),
		UsedBasicAuth: basic,
		JSONBody:      jsonBody,
		GatewayKey:    r.Header.Get(gatewayKeyHeader),
		RemoteAddr:    r.RemoteAddr,
		Header:        r.Header.Clone(),
		Form:          cloneValues(form),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)
	return rec
}

func (s *Server) setStatus(rec *RecordedRequest, status int, clientGone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.Status = status
	rec.Answered = s.now()
	rec.ClientGone = clientGone
}

func (s *Server) setIssued(rec *RecordedRequest, refreshToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.IssuedRefreshToken = refreshToken
}

// TokenRequests counts token requests that reached the OAuth server,
// successful or not; the gateway's 429s are not among them (see
// GatewayRefusals). "" matches any client token or grant type.
func (s *Server) TokenRequests(clientToken, grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, rec := range s.requests {
		if rec.GatewayLimit == "" && (clientToken == "" || rec.ClientToken == clientToken) &&
			(grantType == "" || rec.GrantType == grantType) {
			n++
		}
	}
	return n
}

// Requests returns every token-endpoint request since the last reset, in
// order of arrival.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordedRequest, len(s.requests))
	for i, rec := range s.requests {
		out[i] = *rec
		out[i].Header = rec.Header.Clone()
		out[i].Form = cloneValues(rec.Form)
	}
	return out
}

// ResetCounters forgets recorded requests and the in-flight high-water mark.
// Issued tokens are kept.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.inFlightMax = s.inFlight
}

// enter counts a token request in flight until the returned func is called.
func (s *Server) enter() (leave func()) {
	s.mu.Lock()
	s.inFlight++
	s.inFlightMax = max(s.inFlightMax, s.inFlight)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}
}

// InFlightHighWater is the most token requests the server was answering at
// once since the last reset (a Fault's Delay keeps each one in flight that
// long, as a distant server would).
func (s *Server) InFlightHighWater() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlightMax
}

func cloneValues(v url.Values) url.Values {
	return url.Values(http.Header(v).Clone())
}
