package resamania

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

const maxMinimumSeconds = 86400

func pathToken(b *backend) []*framework.Path {
	return []*framework.Path{{
		Pattern: "token/" + framework.GenericNameRegex("client_token"),
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationSuffix: "access-token",
		},
		Fields: map[string]*framework.FieldSchema{
			"client_token": {
				Type:        framework.TypeString,
				Description: "Resamania's identifier of the club chain, as configured under config/.",
				Required:    true,
			},
			"minimum_seconds": {
				Type:        framework.TypeInt,
				Description: "Least life, in seconds, the returned token must have left; a newer token is minted when the cached one has less.",
				Default:     0,
			},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathTokenRead,
				Summary:  "Get an access token for the chain, minted with the client_credentials grant.",
				DisplayAttrs: &framework.DisplayAttributes{
					OperationVerb: "generate",
				},
				// A miss mints and persists a token: only the active node can write.
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
				Responses:                   map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: tokenResponseFields()}}},
			},
		},
		HelpSynopsis:    pathTokenHelpSyn,
		HelpDescription: pathTokenHelpDesc,
	}}
}

func tokenResponseFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"access_token": {Type: framework.TypeString, Description: "The access token, for an Authorization: Bearer header.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"token_type":   {Type: framework.TypeString, Description: "Always Bearer."},
		"expires_at":   {Type: framework.TypeString, Description: "When the token expires (RFC 3339, UTC)."},
		"expires_in":   {Type: framework.TypeInt, Description: "Whole seconds the token has left."},
		"scope":        {Type: framework.TypeString, Description: "Scopes granted, space-separated; empty when Resamania said none."},
	}
}

func (b *backend) pathTokenRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain := d.Get("client_token").(string)
	if err := validateClientToken(chain); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	minLeft, errResp := minimumSeconds(d)
	if errResp != nil {
		return errResp, nil
	}
	cfg, errResp, err := configuredChain(ctx, req, chain)
	if cfg == nil {
		return errResp, err
	}
	src := &clientCredentialsSource{b: b, chain: chain, storage: req.Storage, timeout: cfg.RequestTimeout}
	tok, warning, err := b.tokens.get(ctx, src.key(), src, minLeft)
	if err != nil {
		return tokenErrorResponse(err)
	}
	resp := b.tokenResponse(tok, cfg.NoLease, map[string]any{"client_token": chain})
	if warning != "" {
		resp.AddWarning(warning)
	}
	return resp, nil
}

// minimumSeconds reads the optional minimum_seconds of a token read.
func minimumSeconds(d *framework.FieldData) (time.Duration, *logical.Response) {
	n := d.Get("minimum_seconds").(int)
	if n < 0 || n > maxMinimumSeconds {
		return 0, logical.ErrorResponse("minimum_seconds must be between 0 and %d", maxMinimumSeconds)
	}
	return time.Duration(n) * time.Second, nil
}

// tokenResponse shapes a token read: with a lease that ends before the token
// does, or, for no_lease, the same data alone.
func (b *backend) tokenResponse(tok *cachedToken, noLease bool, internal map[string]any) *logical.Response {
	now := b.now()
	data := map[string]any{
		"access_token": tok.AccessToken,
		"token_type":   tok.TokenType,
		"expires_at":   tok.ExpiresAt.UTC().Format(time.RFC3339),
		"expires_in":   int64(tok.ExpiresAt.Sub(now) / time.Second),
		"scope":        tok.Scope,
	}
	if noLease {
		return &logical.Response{Data: data}
	}
	resp := b.Secret(secretAccessTokenType).Response(data, internal)
	ttl := leaseTTL(tok, now)
	resp.Secret.TTL = ttl
	resp.Secret.MaxTTL = ttl
	resp.Secret.Renewable = false
	return resp
}

// tokenErrorResponse maps a failed token read to what the reader gets:
// a 400 for what the reader can fix, a coded 502/503 for Resamania's faults.
func tokenErrorResponse(err error) (*logical.Response, error) {
	var tooShort *errTooShort
	var notFound *chainNotFoundError
	var credMissing *credNotFoundError
	var credState *credStateError
	var up *upstreamError
	switch {
	case errors.As(err, &credState) && credState.justLost:
		// The refresh that just failed was Resamania's fault, not the reader's.
		return nil, logical.CodedError(http.StatusBadGateway, err.Error())
	case errors.As(err, &tooShort), errors.As(err, &notFound), errors.As(err, &credMissing), errors.As(err, &credState):
		return logical.ErrorResponse(err.Error()), nil
	case errors.As(err, &up):
		return nil, logical.CodedError(up.httpStatus(), up.Error())
	default:
		return nil, err
	}
}

const pathTokenHelpSyn = `Get an access token for a club chain.`

const pathTokenHelpDesc = `
Returns an access token for the chain configured at config/<client_token>,
minted with the client_credentials grant and shared by every reader until a
third of its life is left. The lease ends a safety margin (a tenth of the
token's life, 1 to 60 seconds) before the token expires, so a reader that
renews at its lease's end always gets a valid token; the lease is not
renewable: read again for a new one.

minimum_seconds asks for a token with at least that much life left.

While Resamania is unreachable, reads keep returning the cached token, with a
warning, for as long as it is valid.
`
