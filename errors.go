package resamania

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// The plugin's errors, and errorResponse, the one mapping from an error to
// what the reader gets. No message holds a secret: upstream errors are
// described by status and OAuth fields, never by body.

// chainNotFoundError: no config is stored for the chain.
type chainNotFoundError struct {
	chain string
	mount string // the request's mount point, when known, to name the path to write
}

func (e *chainNotFoundError) Error() string {
	return fmt.Sprintf("chain %q is not configured: write its OAuth client to %sconfig/%s first", e.chain, e.mount, e.chain)
}

// hostNotAllowedError: the chain's stored config names a host the plugin's
// allow-list leaves out (it was stored before the list was set or
// narrowed), so nothing is sent.
type hostNotAllowedError struct {
	chain string
	err   error
}

func (e *hostNotAllowedError) Error() string {
	return fmt.Sprintf("chain %q is not served, and nothing was sent: its stored config is refused: %v; then write config/%s again", e.chain, e.err, e.chain)
}

// upstreamError is a failed grant, told with the chain and what Resamania
// answered, with the fix when the operator has one.
type upstreamError struct {
	chain, grant string
	err          error
	then         string // what the caller may do next, when the grant says more than the kind of fault
}

func (e *upstreamError) Unwrap() error { return e.err }

func (e *upstreamError) Error() string {
	msg := fmt.Sprintf("chain %q: %s grant failed: %v", e.chain, e.grant, e.err)
	var ue *upstream.Error
	if errors.As(e.err, &ue) {
		switch {
		case ue.Kind == upstream.KindRejected && ue.Code == "unauthorized_client" && (e.grant == upstream.GrantClub || e.grant == upstream.GrantContact):
			msg += "; ask Resamania to enable the " + e.grant + " grant for this OAuth client"
		case ue.Kind == upstream.KindRejected && (ue.Code == "invalid_client" || ue.Code == "unauthorized_client"):
			msg += "; check client_id and client_secret in this chain's config"
		case ue.Kind == upstream.KindRejected && ue.Code == "invalid_scope":
			msg += "; check scope in this chain's config"
		case ue.Kind == upstream.KindGateway:
			msg += "; set api_key in this chain's config"
		case ue.Kind == upstream.KindNotInPlan:
			msg += "; the gateway key is not wrong: ask Resamania to add this endpoint to the key's plan"
		case ue.Kind == upstream.KindWrongPath:
			msg += "; check api_base_url: after the host it must hold the gateway's environment path, as Resamania gave it (for example https://gateway.example/prod)"
		case ue.Kind == upstream.KindNotFound:
			msg += fmt.Sprintf("; check the chain name: %q must be Resamania's client_token of the chain", e.chain)
		}
	}
	if e.then != "" {
		msg += "; " + e.then
	}
	return msg
}

// unreachable: Resamania could not be reached or asked to wait, as opposed
// to answering wrongly.
func (e *upstreamError) unreachable() bool {
	var ue *upstream.Error
	return errors.As(e.err, &ue) && ue.Kind == upstream.KindTransient
}

// errTooShort: no token of this key can satisfy the reader's minimum.
type errTooShort struct {
	lifetime, minLeft time.Duration
	unasked           bool // refused from the key's last token, without a request
}

func (e *errTooShort) Error() string {
	msg := fmt.Sprintf("Resamania's tokens live %s, so minimum_seconds=%d cannot be met", e.lifetime, int(e.minLeft.Seconds()))
	if e.unasked {
		msg += fmt.Sprintf(" (nothing was asked of Resamania: ask for at most %d)", int(e.lifetime.Seconds()))
	}
	return msg
}

// forcedMintSpacedError: the reader's minimum needs a new token, and the
// key's last forced mint is too recent; a 429, as waiting is the fix.
type forcedMintSpacedError struct {
	minLeft, left, spacing, retryIn time.Duration
}

func (e *forcedMintSpacedError) Error() string {
	return fmt.Sprintf("minimum_seconds=%d needs a new token, and one was minted for a minimum less than %s ago: the gateway's budget is shared by every chain, so each token gets at most one such mint per %s; retry in %d s, or ask for at most %d s (what the current token has left)",
		int(e.minLeft.Seconds()), e.spacing, e.spacing, int(math.Ceil(e.retryIn.Seconds())), int(e.left.Seconds()))
}

type credNotFoundError struct{ chain, name string }

func (e *credNotFoundError) Error() string {
	return fmt.Sprintf("no credential %q for chain %q: sign the member in (auth-code-url/%s with name=%s, then write creds/%s/%s with the code and state) or import a refresh token", e.name, e.chain, e.chain, e.name, e.chain, e.name)
}

// credStateError: the credential cannot be refreshed until someone acts.
type credStateError struct {
	chain, name string
	state       credState
	reason      string
	since       time.Time
}

func (e *credStateError) Error() string {
	what := "Resamania refused its refresh token"
	if e.state == credUncertain {
		what = "the answer to its last refresh was lost after the request reached Resamania, so its refresh token may have been replaced"
	}
	return fmt.Sprintf("credential %q of chain %q needs the member to sign in again: %s (%s, since %s); write creds/%s/%s with a new code or refresh_token",
		e.name, e.chain, what, e.reason, e.since.UTC().Format(time.RFC3339), e.chain, e.name)
}

type contactNotFoundError struct{ chain, name string }

func (e *contactNotFoundError) Error() string {
	return fmt.Sprintf("no contact %q for chain %q: write contacts/%s/%s with the member's email first", e.name, e.chain, e.chain, e.name)
}

// scopeRefusedError: Resamania does not know the club or the member a scoped
// token was asked for.
type scopeRefusedError struct {
	msg        string
	remembered bool // answered from refusedScopes, without a request
}

func (e *scopeRefusedError) Error() string { return e.msg }

// answerLostError: a single-use grant (a code or a refresh token) reached
// Resamania and its answer was lost, so the grant may be spent. Resamania's
// fault, not the reader's; what went wrong stays readable through Unwrap.
type answerLostError struct {
	msg string
	err error
}

func (e *answerLostError) Error() string { return e.msg }

func (e *answerLostError) Unwrap() error { return e.err }

// grantRefusedError: Resamania refused a code or an imported refresh token
// for a reason the caller can fix.
type grantRefusedError struct{ msg string }

func (e *grantRefusedError) Error() string { return e.msg }

var errNoRefreshToken = errors.New("Resamania issued no refresh token, so the credential could not be kept alive; check that the OAuth client may use the refresh_token grant")

// storageFailedError: a rotated refresh token is held in memory only.
type storageFailedError struct {
	key string
	err error
}

func (e *storageFailedError) Unwrap() error { return e.err }

func (e *storageFailedError) Error() string {
	return fmt.Sprintf("credential %q was refreshed but could not be stored; the new refresh token is held in memory and will be stored at the next read: %v", e.key, e.err)
}

// fenceError: Vault's storage refused the write that must precede a grant
// spending a single-use secret (credentialStore.fence), so nothing was sent.
type fenceError struct {
	key, grant string
	err        error
}

func (e *fenceError) Unwrap() error { return e.err }

func (e *fenceError) Error() string {
	what := "its refresh token stays unspent in storage, for this node or the next active one"
	if e.grant == grantAuthorizationCode {
		what = "the code is still unspent: write it again once storage commits"
	}
	return fmt.Sprintf("credential %q: Vault's storage cannot commit a write, so nothing was sent to Resamania; %s: %v", e.key, what, e.err)
}

// authStateError: a sign-in's state is not one this mount issued and still accepts.
type authStateError struct{ msg string }

func (e *authStateError) Error() string { return e.msg }

// signInRefusedError: a sign-in by code the chain's config does not allow.
type signInRefusedError struct{ msg string }

func (e *signInRefusedError) Error() string { return e.msg }

// authStatesFullError: the chain has as many pending sign-ins as it keeps;
// a 429, as waiting is the fix.
type authStatesFullError struct{ msg string }

func (e *authStatesFullError) Error() string { return e.msg }

// keyBlocked: after this error the credential gives no token until
// someone acts, so the token cache serves none, however fresh.
func keyBlocked(err error) bool {
	var state *credStateError
	var lost *answerLostError
	return errors.As(err, &state) || errors.As(err, &lost)
}

// sentNothing: the mint failed before any request reached Resamania.
func sentNothing(err error) bool {
	var fenced *fenceError
	return errors.As(err, &fenced) || errors.Is(err, errUnloading)
}

// allowsFallback: after this error a still-valid cached token may be served,
// with a warning that says why no newer one came. Not when the credential is
// blocked.
func allowsFallback(err error) bool {
	return !keyBlocked(err)
}

// errorResponse is what the reader gets for err: a 400 for what the reader
// can fix, a coded 502 or 503 for Resamania's faults, a 503 when Vault's
// storage cannot commit what a grant needs, else an internal error.
func errorResponse(err error) (*logical.Response, error) {
	var (
		notFound    *chainNotFoundError
		notAllowed  *hostNotAllowedError
		tooShort    *errTooShort
		credMissing *credNotFoundError
		credState   *credStateError
		refused     *grantRefusedError
		badState    *authStateError
		refusedIn   *signInRefusedError
		statesFull  *authStatesFullError
		spaced      *forcedMintSpacedError
		noContact   *contactNotFoundError
		unknown     *scopeRefusedError
		lost        *answerLostError
		up          *upstreamError
		fenced      *fenceError
		held        *storageFailedError
	)
	switch {
	case errors.As(err, &lost):
		return nil, logical.CodedError(http.StatusBadGateway, err.Error())
	case errors.As(err, &notFound), errors.As(err, &notAllowed), errors.As(err, &tooShort), errors.As(err, &credMissing),
		errors.As(err, &credState), errors.As(err, &refused), errors.As(err, &badState),
		errors.As(err, &noContact), errors.As(err, &unknown), errors.As(err, &refusedIn):
		return logical.ErrorResponse(err.Error()), nil
	case errors.As(err, &statesFull), errors.As(err, &spaced):
		return nil, logical.CodedError(http.StatusTooManyRequests, err.Error())
	case errors.Is(err, errUnloading), errors.As(err, &fenced), errors.As(err, &held):
		return nil, logical.CodedError(http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, errNoRefreshToken):
		return nil, logical.CodedError(http.StatusBadGateway, err.Error())
	case errors.As(err, &up) && up.unreachable():
		return nil, logical.CodedError(http.StatusServiceUnavailable, up.Error())
	case errors.As(err, &up):
		return nil, logical.CodedError(http.StatusBadGateway, up.Error())
	default:
		return nil, err
	}
}
