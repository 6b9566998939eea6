package resamania

import (
	"context"
	"errors"
	"fmt"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// memberGrant is what starts a member's credential: a one-time authorization
// code with its redirect_uri and its sign-in's state, or a refresh token the
// app already holds.
type memberGrant struct {
	code, redirectURI, state string
	refreshToken             string
	// spendState forgets the code's state once the fence has committed and
	// before the code is sent: a fence that fails spends neither (bindCode).
	spendState func(context.Context) error
	// restoreState gives the state back when Resamania did not process the
	// code (a 429, the gateway's refusal, a request never sent): the member
	// may write the same code and state again.
	restoreState func(context.Context) error
}

func (g memberGrant) fromCode() bool { return g.code != "" }

func (g memberGrant) send(ctx context.Context, client *upstream.Client) (*upstream.Token, error) {
	if g.fromCode() {
		return client.ExchangeCode(ctx, g.code, g.redirectURI)
	}
	return client.Refresh(ctx, g.refreshToken)
}

// signInMember trades g for the member's first tokens and stores the new
// credential under key, replacing any before it, once a write has fenced the
// grant (credentialStore.fenceSignIn). The caller holds the key's lock and
// the chain's guard. warning is set when the answer had no usable access
// token but a refresh token: the grant is kept, and the next read refreshes it.
//
// Once the fence has committed, the caller's request no longer bounds the
// sign-in: a client that disconnects, or a deadline, must not cut a grant
// Resamania may already have processed, nor the write of its answer.
func signInMember(ctx context.Context, d mintDeps, creds *credentialStore, ch *chainEntry, key string, g memberGrant) (cred *credential, warning string, err error) {
	undo, err := creds.fenceSignIn(ctx, d.storage, key, g, d.now())
	if err != nil {
		return nil, "", err // nothing sent: the code or refresh token is unspent
	}
	if g.spendState != nil {
		if err := g.spendState(ctx); err != nil {
			if uerr := undo(); uerr != nil {
				d.log.Warn("could not remove the placeholder of a sign-in that was not sent; it says the member must sign in", "credential", key, "error", uerr)
			}
			return nil, "", &fenceError{key: key, grant: grantAuthorizationCode, err: err}
		}
	}
	ctx = context.WithoutCancel(ctx)
	gctx, cancel := context.WithTimeout(ctx, mintBudget(ch.config.RequestTimeout))
	defer cancel()
	t, err := g.send(gctx, ch.client)
	d.noteHealth(key, err)
	if err != nil && t != nil {
		warning = fmt.Sprintf("Resamania's answer had no usable access token (%v); the credential was stored and the next read refreshes it", err)
		err = nil
	}
	if err == nil && t.RefreshToken == "" {
		err = errNoRefreshToken
	}
	if err != nil {
		if uerr := undo(); uerr != nil {
			d.log.Warn("could not remove the placeholder of a failed sign-in; it says the member must sign in", "credential", key, "error", uerr)
		}
		if errors.Is(err, errNoRefreshToken) {
			return nil, "", err
		}
		if g.restoreState != nil && !upstream.MaySpendGrant(err) {
			rctx, cancelRestore := answerContext(ctx)
			defer cancelRestore()
			if rerr := g.restoreState(rctx); rerr != nil {
				d.log.Warn("could not give back the state of a sign-in Resamania did not process; the member must start it again", "credential", key, "error", rerr)
			}
		}
		return nil, "", signInFailed(ch.name, g, err)
	}
	now := d.now()
	cred = &credential{CreatedAt: now}
	sctx, cancelStore := answerContext(ctx)
	defer cancelStore()
	if err := creds.storeGrant(sctx, d.storage, key, cred, t, now); err != nil {
		return nil, "", err
	}
	return cred, warning, nil
}

// signInFailed tells what a failed code exchange or import means, and the fix.
func signInFailed(chain string, g memberGrant, err error) error {
	what, fix, grant := "refresh token", "get a new refresh token (sign the member in again)", "refresh_token"
	if g.fromCode() {
		what, fix, grant = "authorization code", "the member must sign in again (auth-code-url/"+chain+")", "authorization_code"
	}
	var ue *upstream.Error
	switch {
	case upstream.IsRejected(err, "invalid_grant"):
		return &grantRefusedError{msg: fmt.Sprintf("the %s is invalid, expired or already used: %s", what, fix)}
	case upstream.IsRejected(err, "redirect_uri_mismatch"):
		return &grantRefusedError{msg: "redirect_uri differs from the one the sign-in used (Resamania answered redirect_uri_mismatch)"}
	case upstream.MaySpendGrant(err):
		return &answerLostError{msg: fmt.Sprintf("chain %q: the %s reached Resamania but its answer was lost (%v), so the %s may be spent: %s", chain, grant, err, what, fix), err: err}
	case errors.As(err, &ue) && g.restoreState != nil:
		return &upstreamError{chain: chain, grant: grant, err: err, then: "Resamania did not process the code, so it and its state are unspent: write them again once it answers"}
	case errors.As(err, &ue):
		return &upstreamError{chain: chain, grant: grant, err: err}
	}
	return err
}
