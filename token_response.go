package resamania

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// maxMinimumSeconds bounds minimum_seconds: a day.
const maxMinimumSeconds = 86400

func tokenResponseFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"access_token": {Type: framework.TypeString, Description: "The access token, for an Authorization: Bearer header.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"token_type":   {Type: framework.TypeString, Description: "Always Bearer."},
		"expires_at":   {Type: framework.TypeString, Description: "When the token expires (RFC 3339, UTC)."},
		"expires_in":   {Type: framework.TypeInt, Description: "Whole seconds the token has left."},
		"scope":        {Type: framework.TypeString, Description: "Scopes granted, space-separated; empty when Resamania said none."},
	}
}

// minimumSeconds reads the optional minimum_seconds of a token read.
func minimumSeconds(d *framework.FieldData) (time.Duration, *logical.Response) {
	n := d.Get("minimum_seconds").(int)
	if n < 0 || n > maxMinimumSeconds {
		return 0, logical.ErrorResponse("minimum_seconds must be between 0 and %d", maxMinimumSeconds)
	}
	return time.Duration(n) * time.Second, nil
}

// serveToken is the whole of a token read once its path is parsed: the
// chain, a token with at least minimum_seconds left from the key's source,
// and the response. internal is kept with the lease.
func (b *backend) serveToken(ctx context.Context, req *logical.Request, d *framework.FieldData, chain string, internal map[string]any, source func(*chainEntry) (key string, src tokenSource)) (*logical.Response, error) {
	minLeft, errResp := minimumSeconds(d)
	if errResp != nil {
		return errResp, nil
	}
	ch, err := b.configuredChain(ctx, req, chain)
	if err != nil {
		return errorResponse(err)
	}
	key, src := source(ch)
	tok, warning, err := b.tokens.get(ctx, key, src, minLeft)
	if err != nil {
		return errorResponse(err)
	}
	return b.tokenResponse(tok, ch.config.NoLease, warning, internal), nil
}

// tokenResponse shapes a token read: with a lease that ends before the token
// does, or, for no_lease, the same data alone.
func (b *backend) tokenResponse(tok *cachedToken, noLease bool, warning string, internal map[string]any) *logical.Response {
	now := b.now()
	data := map[string]any{
		"access_token": tok.AccessToken,
		"token_type":   tok.TokenType,
		"expires_at":   tok.ExpiresAt.UTC().Format(time.RFC3339),
		"expires_in":   int64(tok.ExpiresAt.Sub(now) / time.Second),
		"scope":        tok.Scope,
	}
	resp := &logical.Response{Data: data}
	if !noLease {
		resp = b.Secret(secretAccessTokenType).Response(data, internal)
		ttl := leaseTTL(tok, now)
		resp.Secret.TTL = ttl
		resp.Secret.MaxTTL = ttl
		resp.Secret.Renewable = false
	}
	if warning != "" {
		resp.AddWarning(warning)
	}
	return resp
}
