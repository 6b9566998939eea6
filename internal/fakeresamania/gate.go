package fakeresamania

import (
	"net/http"
	"net/url"
)

// A Fault's Gate lets a test stop a request at a chosen point and run
// something else meanwhile (a chain deleted while a sign-in's grant is in
// flight, a reload while a refresh is answered): the request goes on when
// Gate returns. A simulation also learns from it which secret a fault met
// and what the server answered, so it can tell a lost answer from a dropped one.

// GatePoint is where a request with a fault calls its Gate.
type GatePoint int

const (
	// BeforeProcessing: the fault was taken, nothing is consumed yet.
	BeforeProcessing GatePoint = iota
	// AfterProcessing: the grant ran (a code or refresh token may be
	// consumed) and its answer is not written yet. Not reached when the
	// fault answered in the server's place, or the client gave up first.
	AfterProcessing
)

func (p GatePoint) String() string {
	if p == AfterProcessing {
		return "after processing"
	}
	return "before processing"
}

// GateEvent is what a Gate is told.
type GateEvent struct {
	Point GatePoint
	// Form is the request's parameters, secrets included.
	Form url.Values
	// Answer is the server's own answer, AfterProcessing only: the one the
	// fault may lose.
	Answer []byte
	// Header is the answer's header: a Gate may add to it (the policy
	// headers of a gateway's 429).
	Header http.Header
}

// gate calls f's Gate, if any; f may be nil.
func (f *Fault) gate(p GatePoint, form url.Values, answer []byte, h http.Header) {
	if f == nil || f.Gate == nil {
		return
	}
	f.Gate(GateEvent{Point: p, Form: form, Answer: answer, Header: h})
}
