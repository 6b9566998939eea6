package resamania_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// The actors' actions, one table: each entry draws its parameters from the
// schedule's random source and returns an act, which runs against the
// world. A new action is one entry.

// act is one thing an actor does.
type act struct {
	actor, what string
	chain, name string // what it touches, so an interleaving can aim at it
	run         func(w *world, ctx context.Context) outcome
}

type actionKind struct {
	name   string
	weight int
	make   func(g *gen) act
}

// actions are what a schedule's steps do, by weight.
var actions = []actionKind{
	{"read-chain-token", 8, readChainToken},
	{"read-cred", 8, func(g *gen) act { return readCred(g, 0) }},
	{"read-cred-forced", 10, func(g *gen) act { return readCred(g, simTokenLife-1) }},
	{"read-club-token", 4, readClubToken},
	{"read-contact-token", 4, readContactToken},
	{"write-config", 4, writeConfig},
	{"update-config", 2, updateConfig},
	{"delete-config", 3, deleteConfig},
	{"write-contact", 3, writeContact},
	{"delete-contact", 1, deleteContact},
	{"sign-in", 9, func(g *gen) act { return signIn(g, g.r.IntN(5) != 0) }}, // one in five without a state: refused
	{"import-refresh-token", 4, importRefreshToken},
	{"delete-cred", 2, deleteCred},
	{"tick", 5, tick},
	{"reload", 3, reload},
	{"take-over", 2, takeOver},
	{"clock-jump", 5, clockJump},
	{"clock-skew", 1, clockSkew},
}

// nestedActions are what may run while another actor's request is paused,
// aimed at the paused one's chain and name where it has them.
var nestedActions = []actionKind{
	{"delete-config", 8, deleteConfig},
	{"recreate-and-sign-in", 3, recreateAndSignIn},
	{"sign-in", 3, func(g *gen) act { return signIn(g, true) }},
	{"write-contact", 2, writeContact},
	{"read-club-token", 2, readClubToken},
	{"read-cred-forced", 3, func(g *gen) act { return readCred(g, simTokenLife-1) }},
	{"delete-cred", 2, deleteCred},
	{"write-config", 1, writeConfig},
	{"reload", 3, reload},
	{"take-over", 2, takeOver},
	{"tick", 2, tick},
}

func readChainToken(g *gen) act {
	chain := g.chain()
	return act{actor: "reader", what: "read token/" + chain, chain: chain,
		run: func(w *world, ctx context.Context) outcome {
			return w.request(ctx, logical.ReadOperation, "token/"+chain, nil)
		}}
}

func readCred(g *gen, minimum int) act {
	chain, name := g.chain(), g.member()
	path := fmt.Sprintf("creds/%s/%s", chain, name)
	what := "read " + path
	var data map[string]any
	if minimum > 0 {
		// Two seconds on, no token has that much left: the read refreshes.
		what += fmt.Sprintf(" minimum_seconds=%d, 2s on", minimum)
		data = map[string]any{"minimum_seconds": minimum}
	}
	return act{actor: "reader", what: what, chain: chain, name: name,
		run: func(w *world, ctx context.Context) outcome {
			if minimum > 0 {
				w.clock.advance(2 * time.Second)
			}
			return w.request(ctx, logical.ReadOperation, path, data)
		}}
}

func readClubToken(g *gen) act {
	chain, club := g.chain(), g.pick(simClubs)
	path := fmt.Sprintf("token/%s/clubs/%s", chain, club)
	return act{actor: "reader", what: "read " + path, chain: chain,
		run: func(w *world, ctx context.Context) outcome { return w.request(ctx, logical.ReadOperation, path, nil) }}
}

func readContactToken(g *gen) act {
	chain, name := g.chain(), g.pick(simContacts)
	path := fmt.Sprintf("token/%s/contacts/%s", chain, name)
	return act{actor: "reader", what: "read " + path, chain: chain, name: name,
		run: func(w *world, ctx context.Context) outcome { return w.request(ctx, logical.ReadOperation, path, nil) }}
}

func writeConfig(g *gen) act { return configure(g.chain(), g.r.IntN(2) == 0) }

func configure(chain string, verify bool) act {
	return act{actor: "operator", what: fmt.Sprintf("write config/%s verify_connection=%t", chain, verify), chain: chain,
		run: func(w *world, ctx context.Context) outcome { return w.writeConfig(ctx, chain, verify) }}
}

// writeConfig writes a whole config; a chain that had none must start empty,
// unless another write configured it meanwhile (a write re-merges onto a
// config stored while it was verified).
func (w *world) writeConfig(ctx context.Context, chain string, verify bool) outcome {
	existed := w.store.has("config/" + chain)
	writes := w.configWritesOf(chain)
	before := writes.Load()
	o := w.request(ctx, logical.CreateOperation, "config/"+chain, map[string]any{
		"api_base_url": w.fake.URL(), "client_id": clientID(chain), "client_secret": clientSecret(w.seed, chain), "allowed_redirect_uris": simRedirect,
		"api_key": apiKey(w.seed, chain), "request_timeout": 1, "verify_connection": verify,
	})
	if o.ok && !existed && !nested(ctx) && writes.Load() == before {
		w.checkStartsEmpty(chain)
	}
	if o.ok {
		writes.Add(1)
	}
	return o
}

func updateConfig(g *gen) act {
	chain, scope := g.chain(), g.pick([]string{"", "read", "read write"})
	return act{actor: "operator", what: fmt.Sprintf("update config/%s scope=%q", chain, scope), chain: chain,
		run: func(w *world, ctx context.Context) outcome {
			return w.request(ctx, logical.UpdateOperation, "config/"+chain, map[string]any{"scope": scope, "verify_connection": false})
		}}
}

func deleteConfig(g *gen) act {
	chain := g.chain()
	return act{actor: "operator", what: "delete config/" + chain, chain: chain,
		run: func(w *world, ctx context.Context) outcome {
			o := w.request(ctx, logical.DeleteOperation, "config/"+chain, nil)
			w.facts.chainDeleted(chain, o.ok)
			if !o.ok {
				// The cascade deletes the config last: one that storage cut
				// short may have deleted members, as the operator asked,
				// and left the chain configured.
				w.facts.forgot(chain, "")
			}
			return o
		}}
}

func writeContact(g *gen) act {
	chain, name := g.chain(), g.pick(simContacts)
	path := fmt.Sprintf("contacts/%s/%s", chain, name)
	return act{actor: "operator", what: "write " + path, chain: chain, name: name,
		run: func(w *world, ctx context.Context) outcome {
			return w.request(ctx, logical.UpdateOperation, path, map[string]any{"email": contactEmail(name)})
		}}
}

func deleteContact(g *gen) act {
	chain, name := g.chain(), g.pick(simContacts)
	path := fmt.Sprintf("contacts/%s/%s", chain, name)
	return act{actor: "operator", what: "delete " + path, chain: chain, name: name,
		run: func(w *world, ctx context.Context) outcome { return w.request(ctx, logical.DeleteOperation, path, nil) }}
}

// signIn is a member signing in: a code from Resamania's login page written
// to creds/, after auth-code-url when withState. Each sign-in is a member of
// its own at Resamania, so the invariants can tell whose refresh token is whose.
func signIn(g *gen, withState bool) act {
	chain, name, subject := g.chain(), g.member(), g.subject()
	path := fmt.Sprintf("creds/%s/%s", chain, name)
	what := "sign in " + path + " with a code"
	if withState {
		what += " and an auth-code-url state"
	}
	return act{actor: "member", what: what, chain: chain, name: name,
		run: func(w *world, ctx context.Context) outcome {
			data := map[string]any{"redirect_uri": simRedirect}
			if withState {
				o := w.request(ctx, logical.UpdateOperation, "auth-code-url/"+chain, map[string]any{"redirect_uri": simRedirect, "name": name})
				if !o.ok {
					return o.prefixed("auth-code-url: ")
				}
				data["state"] = o.resp.Data["state"]
			}
			data["code"] = w.fake.IssueCode(chain, clientID(chain), simRedirect, subject)
			return w.signIn(ctx, chain, name, subject, path, data)
		}}
}

func importRefreshToken(g *gen) act {
	chain, name, subject := g.chain(), g.member(), g.subject()
	path := fmt.Sprintf("creds/%s/%s", chain, name)
	return act{actor: "member", what: "import a refresh token to " + path, chain: chain, name: name,
		run: func(w *world, ctx context.Context) outcome {
			rt := w.fake.IssueRefreshToken(chain, clientID(chain), subject)
			w.facts.imported(rt)
			return w.signIn(ctx, chain, name, subject, path, map[string]any{"refresh_token": rt})
		}}
}

// signIn writes the grant and records the member's lineage.
func (w *world) signIn(ctx context.Context, chain, name, subject, path string, data map[string]any) outcome {
	l := w.facts.startLineage(subject, chain, name)
	w.mu.Lock()
	w.secrets = append(w.secrets, subject)
	w.mu.Unlock()
	o := w.request(ctx, logical.UpdateOperation, path, data)
	if o.ok || strings.Contains(o.text, "held in memory") {
		w.facts.signedIn(l)
	}
	if strings.Contains(o.text, "reached Resamania but its answer was lost") {
		w.facts.signInLost(l)
	}
	return o
}

func recreateAndSignIn(g *gen) act {
	chain, name, subject := g.chain(), g.member(), g.subject()
	path := fmt.Sprintf("creds/%s/%s", chain, name)
	return act{actor: "operator+member", what: fmt.Sprintf("write config/%s, then sign in %s", chain, path), chain: chain, name: name,
		run: func(w *world, ctx context.Context) outcome {
			if o := w.writeConfig(ctx, chain, false); !o.ok {
				return o.prefixed("config: ")
			}
			o := w.request(ctx, logical.UpdateOperation, "auth-code-url/"+chain, map[string]any{"redirect_uri": simRedirect, "name": name})
			if !o.ok {
				return o.prefixed("auth-code-url: ")
			}
			code := w.fake.IssueCode(chain, clientID(chain), simRedirect, subject)
			return w.signIn(ctx, chain, name, subject, path, map[string]any{"code": code, "redirect_uri": simRedirect, "state": o.resp.Data["state"]})
		}}
}

func deleteCred(g *gen) act {
	chain, name := g.chain(), g.member()
	path := fmt.Sprintf("creds/%s/%s", chain, name)
	return act{actor: "operator", what: "delete " + path, chain: chain, name: name,
		run: func(w *world, ctx context.Context) outcome {
			o := w.request(ctx, logical.DeleteOperation, path, nil)
			w.facts.forgot(chain, name) // once done: a sign-in meanwhile may come before it
			return o
		}}
}

func tick(*gen) act {
	return act{actor: "vault", what: "periodic tick",
		run: func(w *world, ctx context.Context) outcome { return w.tick(ctx) }}
}

func reload(*gen) act {
	return act{actor: "vault", what: "reload the plugin (Cleanup, then a new instance over the same storage)",
		run: func(w *world, _ context.Context) outcome { return w.reload() }}
}

func takeOver(*gen) act {
	return act{actor: "vault", what: "the standby takes over",
		run: func(w *world, _ context.Context) outcome { return w.takeOver() }}
}

// clockJumps are how far the clock jumps: past a token's refresh point, its
// expiry, a sign-in state's life, half a refresh token's life.
var clockJumps = []time.Duration{5 * time.Second, 2 * time.Minute, 4 * time.Minute, 10 * time.Minute, time.Hour, 8 * 24 * time.Hour}

func clockJump(g *gen) act {
	d := clockJumps[g.r.IntN(len(clockJumps))]
	return act{actor: "clock", what: "jumps " + d.String(),
		run: func(w *world, _ context.Context) outcome {
			w.clock.advance(d)
			return outcome{ok: true, text: "now " + w.clock.Now().UTC().Format(time.RFC3339)}
		}}
}

// clockSkews are the nodes' clock minus the gateway's.
var clockSkews = []time.Duration{0, -3 * time.Second, 3 * time.Second, 90 * time.Second}

func clockSkew(g *gen) act {
	d := clockSkews[g.r.IntN(len(clockSkews))]
	return act{actor: "clock", what: "the nodes' clock is skewed " + d.String() + " from the gateway's",
		run: func(w *world, _ context.Context) outcome {
			w.skew.Store(int64(d))
			return outcome{ok: true, text: "skewed"}
		}}
}
