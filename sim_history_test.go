package resamania_test

import (
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/vault/sdk/logical"
)

// A schedule's history, as a reader replays it: step, actor, action, the
// faults armed and what they met, and the outcome.

type outcome struct {
	ok   bool
	text string
	resp *logical.Response
}

// outcomeOf reads a response as Vault would hand it to the client.
func outcomeOf(n *node, resp *logical.Response, err error) outcome {
	switch {
	case err != nil:
		return outcome{text: fmt.Sprintf("%s: error: %s", n.name, clipText(err.Error()))}
	case resp == nil:
		return outcome{ok: true, text: n.name + ": ok (no content)"}
	case resp.IsError():
		return outcome{text: fmt.Sprintf("%s: 400: %s", n.name, clipText(resp.Error().Error()))}
	}
	text := n.name + ": ok"
	for _, warning := range resp.Warnings {
		text += "; warning: " + clipText(warning)
	}
	return outcome{ok: true, text: text, resp: resp}
}

func (o outcome) prefixed(p string) outcome {
	o.text = p + o.text
	return o
}

func clipText(s string) string {
	if len(s) > 220 {
		return s[:220] + "..."
	}
	return s
}

type history struct {
	mu    sync.Mutex
	lines []string // guarded by mu
}

func (h *history) add(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, fmt.Sprintf(format, args...))
}

// step records one step once it has run.
func (h *history) step(s step, run *stepRun, o outcome) {
	var b strings.Builder
	n := fmt.Sprintf("step %2d", s.n)
	if s.n == 0 {
		n = "the end"
	}
	fmt.Fprintf(&b, "%s  %-15s %s", n, s.act.actor, s.act.what)
	for _, f := range s.faults {
		fmt.Fprintf(&b, "\n           fault: %s", f.what)
	}
	run.mu.Lock()
	for _, n := range run.notes {
		fmt.Fprintf(&b, "\n           - %s", n)
	}
	run.mu.Unlock()
	fmt.Fprintf(&b, "\n           => %s", o.text)
	h.add("%s", b.String())
}

func (h *history) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.lines, "\n")
}
