package resamania

import (
	"context"
	"strings"
	"time"

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
// refresh tokens Resamania rotated, and the rotated refresh tokens that
// storage refused so far must be written, or those are lost.
func (b *backend) clean(ctx context.Context) {
	if !b.tokens.drain(mintBudget(maxRequestTimeout)) {
		b.Logger().Error("unloading with token requests still under way: a refresh token rotated by one of them may be lost")
	}
	b.saveHeldOnUnload(ctx)
	b.chains.reset()
	b.tokens.reset()
	b.health.reset()
}

// unloadSaveAttempts: how many times unloading tries to write the
// credentials held in memory, a moment apart, before they are lost.
const unloadSaveAttempts = 3

// saveHeldOnUnload writes the credentials held in memory, each with time of
// its own (Vault may unload with a context near its end), and says which are
// lost with this process when storage still refuses them.
func (b *backend) saveHeldOnUnload(ctx context.Context) {
	if b.storage == nil {
		return
	}
	for attempt := 1; attempt <= unloadSaveAttempts && len(b.creds.heldKeys()) > 0; attempt++ {
		if attempt > 1 {
			time.Sleep(100 * time.Millisecond)
		}
		actx, cancel := answerContext(ctx)
		b.saveHeldCredentials(actx, b.storage)
		cancel()
	}
	b.creds.unloaded.Store(true)
	for _, key := range b.creds.heldKeys() {
		b.logLostOnUnload(key)
	}
}

// logLostOnUnload says that key's rotated refresh token, held in memory,
// goes with the unloaded instance.
func (b *backend) logLostOnUnload(key string) {
	b.Logger().Error("unloading: a rotated refresh token that storage refused is lost with this process; the member must sign in again", "credential", key)
}

func (b *backend) ownsStorage() bool {
	sys := b.System()
	if sys == nil {
		return true
	}
	return !sys.ReplicationState().HasState(consts.ReplicationPerformanceSecondary | consts.ReplicationPerformanceStandby | consts.ReplicationDRSecondary)
}
