package resamania

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// A 429 closes a gateway key's window for every chain that uses the key
// (internal/upstream/gateway_limits.go). The window is also stored, so that a
// process started before it ends (a plugin reload, a Vault restart, a
// failover) sends nothing into it either.

// storeHoldsLongerThan: a shorter window (the spike arrest's 100 ms) is over
// before a new process could send anything; storing it would only cost writes.
const storeHoldsLongerThan = time.Second

// storeHoldTimeout bounds the write made on the request that met the 429.
const storeHoldTimeout = 5 * time.Second

// storedHold is a closed window of a gateway key, at gateway-holds/<key id>.
type storedHold struct {
	Limit string    `json:"limit"`
	Until time.Time `json:"until"`
}

// storeGatewayHold is told of each window a 429 closed.
func (b *backend) storeGatewayHold(id upstream.GatewayKeyID, w upstream.LimitWindow) {
	if b.storage == nil || w.Until.Sub(b.now()) <= storeHoldsLongerThan {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeHoldTimeout)
	defer cancel()
	err := putJSON(ctx, b.storage, gatewayHoldKey(id), "a gateway hold", storedHold{Limit: w.Limit, Until: w.Until})
	if err != nil {
		b.Logger().Warn("could not store a gateway hold: a plugin reload before it ends would send one request into it",
			"limit", w.Limit, "until", w.Until.UTC(), "error", err)
	}
}

// restoreGatewayHolds holds back every key whose stored window is still
// closed, and deletes the windows that have ended. It runs when the mount
// starts, and on every periodic tick to delete the ended ones.
func (b *backend) restoreGatewayHolds(ctx context.Context, s logical.Storage) error {
	keys, err := s.List(ctx, gatewayHoldStoragePrefix)
	if err != nil {
		return err
	}
	for _, name := range keys {
		b.restoreGatewayHold(ctx, s, gatewayHoldStoragePrefix+name)
	}
	return nil
}

// restoreGatewayHold restores one stored window, or deletes it once ended.
func (b *backend) restoreGatewayHold(ctx context.Context, s logical.Storage, key string) {
	id, ok := upstream.ParseGatewayKeyID(strings.TrimPrefix(key, gatewayHoldStoragePrefix))
	h, err := getJSON[storedHold](ctx, s, key, "a gateway hold")
	switch {
	case err != nil || h == nil:
		if err != nil {
			b.Logger().Warn("could not read a stored gateway hold", "key", key, "error", err)
		}
	case !ok || !h.Until.After(b.now()):
		if b.ownsStorage() {
			if err := deleteKey(ctx, s, key); err != nil {
				b.Logger().Warn("could not delete an ended gateway hold", "key", key, "error", err)
			}
		}
	default:
		b.chains.holds.Restore(id, upstream.LimitWindow{Limit: h.Limit, Until: h.Until})
	}
}
