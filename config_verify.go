package resamania

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/vault/sdk/logical"
)

// A config write proves itself before it is stored (verify_connection, as
// Vault's database engine names it): it mints one token with the new
// settings. A failure changes nothing, so a mistyped secret never replaces a
// working config; a success hands its token to the first read.

// verifyConnection mints a token of chain with cfg, not yet stored.
func (b *backend) verifyConnection(ctx context.Context, chain string, cfg *chainConfig) (*cachedToken, error) {
	client, err := b.chains.newClient(chain, cfg)
	if err != nil {
		return nil, err
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, mintBudget(cfg.RequestTimeout))
	defer cancel()
	t, err := client.ClientCredentials(ctx)
	if err != nil {
		return nil, &upstreamError{chain: chain, grant: "client_credentials", err: err}
	}
	tok := newCachedToken(t)
	tok.ConfigFingerprint = cfg.fingerprint()
	return tok, nil
}

// verifyFailure is what a config write answers when its verification
// failed: a 400 when the settings are at fault, a 503 or 502 when
// Resamania could not answer; each says that nothing was stored.
func verifyFailure(err error) (*logical.Response, error) {
	var up *upstreamError
	if !errors.As(err, &up) {
		return nil, err
	}
	msg := fmt.Sprintf("verify_connection: %s. Nothing was stored: the previous config, if any, stays in force", up.Error())
	if up.unreachable() {
		return nil, logical.CodedError(http.StatusServiceUnavailable, msg+"; to store this config without a token request, write it again with verify_connection=false")
	}
	return logical.ErrorResponse(msg), nil
}
