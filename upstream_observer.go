package resamania

import (
	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// upstreamObserver is told of every request the chain's client sends to
// Resamania, retries included: it counts it, and logs one line, at debug when
// it succeeded and at warn when it failed. Neither holds a secret: a Call
// carries the grant, status, outcome and duration, and an error's text.
func (b *backend) upstreamObserver(chain string) upstream.Observer {
	return func(c upstream.Call) {
		b.metrics.upstreamCall(c)
		log := b.Logger()
		if c.Err != nil {
			log.Warn("token request failed", "chain", chain, "grant", c.Grant, "outcome", c.Outcome, "status", c.Status, "duration", c.Duration, "error", c.Err)
			return
		}
		if log.IsDebug() {
			log.Debug("token request", "chain", chain, "grant", c.Grant, "status", c.Status, "duration", c.Duration)
		}
	}
}
