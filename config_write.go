package resamania

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// A config write merges the fields it names onto the stored config,
// validates the result (the hosts it may reach: allowed_hosts.go; the
// secrets an update must write again: config_reentry.go), proves it with a token request (config_verify.go)
// and stores it. The proof, up to three request timeouts, runs under no
// lock: reads of the chain and of every other chain go on meanwhile. The
// store then commits only if the config is still the one the write was
// merged onto; else the write is merged and proved again, once.

// configWriteRounds bounds how often a write is merged and proved again
// because another write changed the config meanwhile.
const configWriteRounds = 2

// configWrite is how a config write ended, besides a storage failure.
type configWrite struct {
	resp     *logical.Response // a 400 when the write was refused
	respErr  error             // a coded 503 or 502 when verification could not reach Resamania
	cfg      *chainConfig      // what the write stores
	verified *cachedToken      // the token that proved cfg
}

func (w configWrite) refused() bool { return w.resp != nil || w.respErr != nil }

// writeConfig validates, proves and stores a config write; a refused write
// changes nothing, in storage or in memory.
func (b *backend) writeConfig(ctx context.Context, s logical.Storage, chain string, d *framework.FieldData) (configWrite, error) {
	for range configWriteRounds {
		stored, err := getChainConfig(ctx, s, chain)
		if err != nil {
			return configWrite{}, err
		}
		w, err := b.prepareConfigWrite(ctx, chain, stored, d)
		if err != nil || w.refused() {
			return w, err
		}
		if stored.equal(w.cfg) {
			return w, nil // nothing changes: nothing to store or forget
		}
		committed, err := b.commitConfigWrite(ctx, s, chain, stored, w)
		if err != nil || committed {
			return w, err
		}
	}
	return configWrite{respErr: logical.CodedError(http.StatusConflict, fmt.Sprintf(
		"config/%s was changed by other writes while this one was verified; nothing was stored: write again", chain))}, nil
}

// prepareConfigWrite merges d onto stored, validates the result and, when
// what tokens are minted with changed, proves it with a token request.
func (b *backend) prepareConfigWrite(ctx context.Context, chain string, stored *chainConfig, d *framework.FieldData) (configWrite, error) {
	cfg := &chainConfig{RequestTimeout: defaultRequestTimeout, RefreshTokenTTL: defaultRefreshTokenTTL}
	if stored != nil {
		*cfg = *stored
	}
	applyConfigFields(cfg, d)
	if err := cfg.validate(); err != nil {
		return configWrite{resp: logical.ErrorResponse(err.Error())}, nil
	}
	cfg.keepWrittenForms(chain, d)
	// Checked before any request: nothing is sent where it may not go.
	if err := b.chains.allowed.check(cfg, chain); err != nil {
		return configWrite{resp: logical.ErrorResponse(err.Error())}, nil
	}
	if err := secretsMoved(chain, stored, cfg, d); err != nil {
		return configWrite{resp: logical.ErrorResponse(err.Error())}, nil
	}
	w := configWrite{cfg: cfg}
	// A token is minted with what the fingerprint holds: when that is
	// unchanged, so is the cached token, and there is nothing to prove.
	mintingChanged := stored == nil || stored.fingerprint() != cfg.fingerprint()
	if !mintingChanged || !d.Get("verify_connection").(bool) {
		return w, nil
	}
	var err error
	if w.verified, err = b.verifyConnection(ctx, chain, cfg); err != nil {
		w.resp, w.respErr = verifyFailure(err)
		if w.resp == nil && w.respErr == nil {
			return w, fmt.Errorf("verifying the config of chain %q: %w", chain, err)
		}
	}
	return w, nil
}

// commitConfigWrite stores w under the chain's locks if the stored config is
// still was; committed is false when another write changed it meanwhile.
func (b *backend) commitConfigWrite(ctx context.Context, s logical.Storage, chain string, was *chainConfig, w configWrite) (committed bool, err error) {
	err = b.changeChain(chain, func() error {
		now, err := getChainConfig(ctx, s, chain)
		if err != nil || !now.equal(was) {
			return err
		}
		if err := putChainConfig(ctx, s, chain, w.cfg); err != nil {
			return err
		}
		committed = true
		if w.verified != nil {
			// The verified token serves the first read: no second request.
			// Only a cache: the config is stored, so the write stands.
			if err := putJSON(ctx, s, chainTokenKey(chain), "the verified token", w.verified); err != nil {
				b.Logger().Warn("could not keep the token that verified the config; the first read mints another", "chain", chain, "error", err)
			}
		}
		// A token minted with the old client is stale by its fingerprint
		// (staleForConfig), whatever its scope.
		return nil
	})
	if committed && w.verified != nil {
		// What the change made health forget, the verification just saw.
		b.health.record(chainHealthSubject(chain), nil, b.now())
	}
	return committed, err
}
