package resamania

import (
	"context"
	"strings"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
)

// The mount's life, as Vault drives it: initialize once set up on the node
// that owns storage, invalidate on the others when storage changes, clean
// when unloaded; ownsStorage tells which node may write in the background.

// initialize runs once the mount is set up on the active node.
func (b *backend) initialize(ctx context.Context, req *logical.InitializationRequest) error {
	if err := b.restoreGatewayHolds(ctx, req.Storage); err != nil {
		// Not fatal: the gateway will say again, with one 429.
		b.Logger().Warn("could not restore the stored gateway holds", "error", err)
	}
	if err := b.removeOrphans(ctx, req.Storage); err != nil {
		// Not fatal: the next start tries again.
		b.Logger().Warn("could not remove what earlier versions left of deleted chains", "error", err)
	}
	return nil
}

// invalidate runs on nodes that did not make a storage change (standbys,
// performance secondaries): forget what was cached from the changed key.
func (b *backend) invalidate(ctx context.Context, key string) {
	switch {
	case strings.HasPrefix(key, configStoragePrefix):
		chain := strings.TrimPrefix(key, configStoragePrefix)
		b.chains.invalidate(chain)
		b.forgetChainTokens(chain)
	case strings.HasPrefix(key, contactsStoragePrefix):
		b.tokens.forget(contactTokenStoragePrefix + strings.TrimPrefix(key, contactsStoragePrefix))
	case strings.HasPrefix(key, gatewayHoldStoragePrefix):
		if b.storage != nil {
			b.restoreGatewayHold(ctx, b.storage, key)
		}
	case strings.HasPrefix(key, credsStoragePrefix):
		b.tokens.forget(key)
		b.creds.index.invalidate()
	case strings.HasPrefix(key, tokenStoragePrefix), strings.HasPrefix(key, clubTokenStoragePrefix),
		strings.HasPrefix(key, contactTokenStoragePrefix):
		b.tokens.forget(key)
	}
}

// clean runs when the mount is unloaded (a plugin reload, an unmount, a
// seal): before the process goes, the refreshes under way must store the
// refresh tokens Resamania rotated, or those are lost.
func (b *backend) clean(context.Context) {
	if !b.tokens.drain(mintBudget(maxRequestTimeout)) {
		b.Logger().Error("unloading with token requests still under way: a refresh token rotated by one of them may be lost")
	}
	b.chains.reset()
	b.tokens.reset()
	b.health.reset()
}

func (b *backend) ownsStorage() bool {
	sys := b.System()
	if sys == nil {
		return true
	}
	return !sys.ReplicationState().HasState(consts.ReplicationPerformanceSecondary | consts.ReplicationPerformanceStandby | consts.ReplicationDRSecondary)
}
