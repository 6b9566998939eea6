package resamania

import (
	"context"
	"maps"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// maxMinimumSeconds bounds minimum_seconds: a day.
const maxMinimumSeconds = 86400

// tokenResponseFields is the schema of a token read's data, on every token path.
func tokenResponseFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"api_base_url":        {Type: framework.TypeString, Description: "Base URL of the chain's Resamania API, for the calls the token authorises."},
		"api_key":             {Type: framework.TypeString, Description: "The gateway key, for the x-gravitee-api-key header; only on token/<client_token> reads, when the chain's share_api_key is set.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"access_token":        {Type: framework.TypeString, Description: "The access token, for an Authorization: Bearer header.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"token_type":          {Type: framework.TypeString, Description: "Always Bearer."},
		"expires_at":          {Type: framework.TypeString, Description: "When the token expires (RFC 3339, UTC)."},
		"expires_in":          {Type: framework.TypeInt, Description: "Whole seconds the token has left."},
		"scope":               {Type: framework.TypeString, Description: "Scopes granted, space-separated; empty when Resamania said none."},
		"ttl":                 {Type: framework.TypeInt, Description: "Without a lease only: seconds (rounded up) until a read gets a newer token."},
		"rotation_period":     {Type: framework.TypeInt, Description: "Without a lease only: seconds from last_vault_rotation to the next token (rounded up)."},
		"last_vault_rotation": {Type: framework.TypeString, Description: "Without a lease only: when the token was issued (RFC 3339, nanoseconds)."},
	}
}

// minimumSecondsField is the minimum_seconds of every token read.
func minimumSecondsField() *framework.FieldSchema {
	return &framework.FieldSchema{
		Type:        framework.TypeInt,
		Description: "Least life, in seconds (0 to 86400), the returned token must have left; a newer token is minted when the cached one has less, at most once per max(a tenth of the token's life, 30 s) per token: a read that would need a second such mint sooner is a 429 that says when to retry. Above the life of the key's tokens, a 400.",
		Default:     0,
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

// tokenReadRequest is what a token path asks of serveToken.
type tokenReadRequest struct {
	chain    string
	internal map[string]any // kept with the lease
	extra    map[string]any // more data for the reader, such as club_id
	// source names the key and its source, given the chain.
	source func(*chainEntry) (key string, src tokenSource)
	// kind is the read's kind in the metrics: readKindToken, readKindClub...
	kind string
}

// serveToken is the whole of a token read once its path is parsed: the
// chain, a token with at least minimum_seconds left from the key's source,
// and the response.
func (b *backend) serveToken(ctx context.Context, req *logical.Request, d *framework.FieldData, r tokenReadRequest) (*logical.Response, error) {
	minLeft, errResp := minimumSeconds(d)
	if errResp != nil {
		return errResp, nil
	}
	ch, err := b.configuredChain(ctx, req, r.chain)
	if err != nil {
		b.metrics.countTokenRead(r.kind, false, "", err)
		return errorResponse(err)
	}
	key, src := r.source(ch)
	ans, err := b.tokens.get(ctx, key, src, minLeft)
	if err == nil && ch.config.leaseMode() == leaseRenewable {
		ans, err = b.renewableToken(ctx, key, src, ans)
	}
	b.metrics.countTokenRead(r.kind, ans.minted, ans.warning, err)
	if err != nil {
		b.metrics.countBoundedRead(err)
		return errorResponse(err)
	}
	return b.tokenResponse(ans.token, ch, r, ans.warning), nil
}

// renewableToken makes sure a renewable read hands out a token with at least
// renewableMinLeft of it left: see token_lifetime.go. When a newer token
// cannot be had, the one in hand still serves, with a warning.
func (b *backend) renewableToken(ctx context.Context, key string, src tokenSource, ans tokenAnswer) (tokenAnswer, error) {
	need := renewableMinLeft(ans.token)
	if ans.token.ExpiresAt.Sub(b.now()) >= need {
		return ans, nil
	}
	newer, err := b.tokens.getAhead(ctx, key, src, need)
	switch {
	case err == nil:
		newer.minted = newer.minted || ans.minted
		return newer, nil
	case allowsFallback(err):
		return tokenAnswer{token: ans.token, minted: ans.minted, warning: staleWarning(err, ans.token)}, nil
	}
	return tokenAnswer{}, err
}

// tokenResponse shapes a token read by the chain's lease mode: a lease that
// ends a safety margin before the token does (renewable up to that end, or
// not), or no lease and the data that says when to read again.
func (b *backend) tokenResponse(tok *cachedToken, ch *chainEntry, r tokenReadRequest, warning string) *logical.Response {
	now := b.now()
	data := map[string]any{
		"access_token": tok.AccessToken,
		"token_type":   tok.TokenType,
		"expires_at":   tok.ExpiresAt.UTC().Format(time.RFC3339),
		"expires_in":   int64(tok.ExpiresAt.Sub(now) / time.Second),
		"scope":        tok.Scope,
		"api_base_url": ch.config.APIBaseURL,
	}
	// The gateway key is shared by every chain on it: it goes to readers of
	// the chain's own token, never to a member's, a club's or a contact's.
	if ch.config.ShareAPIKey && r.kind == readKindToken {
		data["api_key"] = ch.config.APIKey
	}
	maps.Copy(data, r.extra)
	var resp *logical.Response
	switch mode := ch.config.leaseMode(); mode {
	case leaseNone:
		maps.Copy(data, rotationFields(tok, now))
		resp = &logical.Response{Data: data}
	default:
		internal := map[string]any{}
		maps.Copy(internal, r.internal)
		internal[leaseEndKey] = leaseEnd(tok).Format(time.RFC3339Nano)
		resp = b.Secret(secretAccessTokenType).Response(data, internal)
		ttl := leaseTTL(tok, now)
		resp.Secret.TTL, resp.Secret.MaxTTL = ttl, ttl
		resp.Secret.Renewable = mode == leaseRenewable // the framework's default is true: the secret has Renew
	}
	if warning != "" {
		resp.AddWarning(warning)
	}
	if low := lowQuotaWarning(ch, now); low != "" {
		resp.AddWarning(low)
	}
	return resp
}

// rotationFields tell a reader without a lease when to read again, in the
// shape consul-template (Vault Agent) and the Vault Secrets Operator read for
// rotating secrets, as Vault's static roles mean them: ttl, seconds until a
// read gets a newer token; last_vault_rotation, when this one was issued;
// rotation_period, from then to the next one (less than the token's life:
// the plugin hands out the next token a third of the life early).
func rotationFields(tok *cachedToken, now time.Time) map[string]any {
	return map[string]any{
		"ttl":                 max(ceilSeconds(refreshAt(tok).Sub(now)), 0),
		"rotation_period":     ceilSeconds(refreshAt(tok).Sub(tok.IssuedAt)),
		"last_vault_rotation": tok.IssuedAt.UTC().Format(time.RFC3339Nano),
	}
}

// ceilSeconds rounds up: a reader told to come back after it finds the newer
// token there (the Secrets Operator comes back after ttl plus half a second).
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
