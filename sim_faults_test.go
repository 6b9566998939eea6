package resamania_test

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// The fault catalogue, one table: each entry draws its parameters and
// returns a plannedFault, armed just before its step's action and disarmed
// after it. A new fault is one entry.

type plannedFault struct {
	what string
	arm  func(w *world, s *stepRun)
}

type faultKind struct {
	name   string
	weight int
	make   func(g *gen, main act) plannedFault
}

var faults = []faultKind{
	{"storage-refuses", 10, func(g *gen, _ act) plannedFault { return storageWriteFault(g, refuseWrite, "refused") }},
	{"storage-commits-then-fails", 4, func(g *gen, _ act) plannedFault {
		return storageWriteFault(g, commitThenFail, "committed, reported failed")
	}},
	{"storage-stalls", 2, func(g *gen, _ act) plannedFault { return storageWriteFault(g, stallWrite, "stalls past the deadline") }},
	{"storage-commits-then-stalls", 1, func(g *gen, _ act) plannedFault {
		return storageWriteFault(g, commitThenStall, "committed, then stalls past the deadline")
	}},
	{"answer-lost", 8, answerLost},
	{"answer-late", 2, answerLate},
	{"slow-before-processing", 1, slowBeforeProcessing},
	{"gateway-429", 6, gateway429},
	{"gateway-429-then-late", 2, gateway429ThenLate},
	{"5xx", 5, serverError},
	{"invalid-grant", 3, invalidGrant},
	{"caller-cancels", 6, callerCancels},
	{"clock-jumps-in-flight", 2, clockJumpsInFlight},
	{"interleave-at-resamania", 8, interleaveAtResamania},
	{"interleave-at-storage", 10, interleaveAtStorage},
}

// grantTypes a fault may be aimed at; "" is any.
var grantTypes = []string{"", fakeresamania.GrantRefreshToken, fakeresamania.GrantAuthorizationCode}

func storageWriteFault(g *gen, kind storageFaultKind, what string) plannedFault {
	skip, count := g.r.IntN(3), 1+g.r.IntN(3)
	desc := fmt.Sprintf("storage: %d write(s) %s after %d good one(s)", count, what, skip)
	return plannedFault{what: desc, arm: func(w *world, s *stepRun) {
		w.store.arm(&storageFault{kind: kind, skip: skip, count: count,
			note: func(op, key string) { s.note("storage %s %s: %s", op, key, what) }})
	}}
}

// fakeFault arms f at the fake, its Gate recording what each request it met
// spent and, when lost, the answer it lost; then calling also.
func fakeFault(desc string, f fakeresamania.Fault, lost bool, also func(w *world, s *stepRun, ev fakeresamania.GateEvent)) plannedFault {
	return plannedFault{what: desc, arm: func(w *world, s *stepRun) {
		f := f
		f.Gate = func(ev fakeresamania.GateEvent) {
			w.facts.gate(ev, lost)
			if ev.Point == fakeresamania.BeforeProcessing {
				s.note("resamania: %s met a %s request", desc, grantName(ev.Form.Get("grant_type")))
			}
			if also != nil {
				also(w, s, ev)
			}
		}
		w.fake.InjectFault(f)
	}}
}

func grantName(g string) string {
	switch g {
	case fakeresamania.GrantClubCredentials:
		return "club"
	case fakeresamania.GrantContactCredentials:
		return "contact"
	}
	return g
}

func answerLost(g *gen, _ act) plannedFault {
	gt := g.pick(grantTypes)
	return fakeFault("answer lost after processing ("+orAny(gt)+")",
		fakeresamania.Fault{AfterProcessing: true, Reset: true, Count: 1, GrantType: gt}, true, nil)
}

func answerLate(g *gen, _ act) plannedFault {
	gt := g.pick(grantTypes)
	return fakeFault("answer delayed past the deadline ("+orAny(gt)+")",
		fakeresamania.Fault{AfterProcessing: true, Delay: time.Minute, Count: 1, GrantType: gt}, true, nil)
}

func slowBeforeProcessing(g *gen, _ act) plannedFault {
	return fakeFault("request stalls before processing, past the deadline",
		fakeresamania.Fault{Delay: time.Minute, Count: 1}, false, nil)
}

// gravitee429 is a 429 of one policy as the fake gateway answers it, the
// way Gravitee does: the policy's JSON message, the plan's headers with the
// refusing one at nothing left and its window ending after window, no
// Retry-After.
func gravitee429(policy string, window time.Duration, count int) (fakeresamania.Fault, func(w *world, s *stepRun, ev fakeresamania.GateEvent)) {
	kinds := map[string]fakeresamania.LimitKind{
		"quota":        fakeresamania.LimitQuota,
		"rate limit":   fakeresamania.LimitRate,
		"spike arrest": fakeresamania.LimitSpikeArrest,
	}
	return fakeresamania.Fault{Status: http.StatusTooManyRequests, Limit: kinds[policy], ResetIn: window, Count: count}, nil
}

// policyWindows: how long each policy's 429 closes the key; mostly short, so
// a schedule goes on.
var policyWindows = map[string][]time.Duration{
	"spike arrest": {60 * time.Millisecond},
	"rate limit":   {300 * time.Millisecond, 1500 * time.Millisecond, 2200 * time.Millisecond, 40 * time.Second},
	"quota":        {800 * time.Millisecond, 2200 * time.Millisecond, 5 * time.Hour},
}

func gateway429(g *gen, _ act) plannedFault {
	policy := g.pick([]string{"spike arrest", "rate limit", "quota"})
	window := policyWindows[policy][g.r.IntN(len(policyWindows[policy]))]
	count := 1 + g.r.IntN(2)
	f, headers := gravitee429(policy, window, count)
	return fakeFault(fmt.Sprintf("gateway 429 x%d from the %s, window %s", count, policy, window), f, false, headers)
}

// gateway429ThenLate: the gateway refuses, the retry reaches Resamania,
// which processes it and answers after the grant's overall deadline.
func gateway429ThenLate(g *gen, _ act) plannedFault {
	window := []time.Duration{1500 * time.Millisecond, 2200 * time.Millisecond}[g.r.IntN(2)]
	f, headers := gravitee429("rate limit", window, 1)
	refused := fakeFault(fmt.Sprintf("gateway 429 from the rate limit, window %s", window), f, false, headers)
	late := fakeFault("then the answer delayed past the deadline",
		fakeresamania.Fault{AfterProcessing: true, Delay: time.Minute, Count: 1}, true, nil)
	return plannedFault{what: refused.what + ", " + late.what, arm: func(w *world, s *stepRun) {
		refused.arm(w, s)
		late.arm(w, s)
	}}
}

func serverError(g *gen, _ act) plannedFault {
	status := g.pick([]string{"500", "502", "503", "504"})
	code, _ := strconv.Atoi(status)
	count := 1 + g.r.IntN(3)
	return fakeFault(fmt.Sprintf("HTTP %d x%d before processing", code, count),
		fakeresamania.Fault{Status: code, Count: count}, false, nil)
}

func invalidGrant(*gen, act) plannedFault {
	return fakeFault("invalid_grant for a refresh",
		fakeresamania.Fault{Status: http.StatusBadRequest, ContentType: "application/json", Count: 1,
			GrantType: fakeresamania.GrantRefreshToken, Body: `{"error":"invalid_grant","error_description":"Invalid refresh token"}`}, false, nil)
}

// callerCancels: the client hangs up just after Resamania processed the
// grant (or just before it is sent): its context is cancelled.
func callerCancels(g *gen, _ act) plannedFault {
	point := fakeresamania.GatePoint(g.r.IntN(2))
	return fakeFault("the caller hangs up "+point.String(), fakeresamania.Fault{Count: 1}, false,
		func(_ *world, s *stepRun, ev fakeresamania.GateEvent) {
			if ev.Point == point {
				s.cancel()
				time.Sleep(30 * time.Millisecond) // the client sees it before the answer
			}
		})
}

func clockJumpsInFlight(g *gen, _ act) plannedFault {
	d := clockJumps[g.r.IntN(len(clockJumps))]
	return fakeFault("the clock jumps "+d.String()+" while a grant is processed", fakeresamania.Fault{Count: 1}, false,
		func(w *world, _ *stepRun, ev fakeresamania.GateEvent) {
			if ev.Point == fakeresamania.AfterProcessing {
				w.clock.advance(d)
			}
		})
}

// interleaveAtResamania pauses the step's first grant before or after
// processing, and runs another actor meanwhile.
func interleaveAtResamania(g *gen, main act) plannedFault {
	point := fakeresamania.GatePoint(g.r.IntN(2))
	other := g.nested(main)
	where := "paused at Resamania " + point.String()
	return fakeFault(where+": "+other.actor+" "+other.what, fakeresamania.Fault{Count: 1}, false,
		func(w *world, _ *stepRun, ev fakeresamania.GateEvent) {
			if ev.Point == point {
				w.interleave(where, other)
			}
		})
}

// interleaveAtStorage pauses the step's n-th storage operation (any: get,
// list, put, delete) and runs another actor meanwhile.
func interleaveAtStorage(g *gen, main act) plannedFault {
	n := g.r.IntN(10)
	other := g.nested(main)
	where := fmt.Sprintf("paused at storage operation %d", n+1)
	return plannedFault{what: where + ": " + other.actor + " " + other.what, arm: func(w *world, s *stepRun) {
		var at string
		w.store.arm(&storageFault{kind: gateOperation, skip: n, count: 1,
			note: func(op, key string) { at = op + " " + key },
			gate: func() { w.interleave(where+" ("+at+")", other) }})
	}}
}

func orAny(grantType string) string {
	if grantType == "" {
		return "any grant"
	}
	return grantType
}
