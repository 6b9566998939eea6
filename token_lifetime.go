package resamania

import (
	"time"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// cachedToken is an access token as the cache, storage and responses see it.
// JSON tags are the storage format.
type cachedToken struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	Scope       string    `json:"scope,omitempty"`
	IssuedAt    time.Time `json:"issued_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// ConfigFingerprint: of the chain config the token was minted with. A
	// token of another is stale, whatever its scope (staleForConfig).
	// Empty in chain tokens stored before it was set on them: a config change
	// deleted those, so the ones left are current.
	ConfigFingerprint string `json:"config_fingerprint,omitempty"`
}

// staleForConfig: the one rule for tokens after a config change, for every
// scope: a token minted with another config than the chain's now is not
// served, and the next read mints with the new one.
func (t *cachedToken) staleForConfig(fingerprint string) bool {
	return t != nil && t.ConfigFingerprint != "" && t.ConfigFingerprint != fingerprint
}

func newCachedToken(t *upstream.Token) *cachedToken {
	return &cachedToken{AccessToken: t.AccessToken, TokenType: t.TokenType, Scope: t.Scope, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt}
}

// The lease and refresh maths, in one place. For a token that lives T:
//   - its lease ends a safety margin before it expires: T/10, 1s to 60s,
//     so clock skew and the time a reader takes to use it never reach expiry;
//   - the cache serves it only while more than T/3 is left. A reader who
//     comes back at 95% of its lease (Vault Agent re-reads non-renewable
//     secrets at 85-95%) finds at most 0.05T + 0.95*T/10 < T/3 left, so it
//     always gets a new token, never the old one near its end.

const (
	minLeaseMargin = time.Second
	maxLeaseMargin = 60 * time.Second
)

func lifetimeOf(t *cachedToken) time.Duration {
	return t.ExpiresAt.Sub(t.IssuedAt)
}

func leaseMargin(t *cachedToken) time.Duration {
	m := lifetimeOf(t) / 10
	if m < minLeaseMargin {
		m = minLeaseMargin
	}
	if m > maxLeaseMargin {
		m = maxLeaseMargin
	}
	return m
}

// refreshAhead is how much life a token must have left to be served from the cache.
func refreshAhead(t *cachedToken) time.Duration {
	return lifetimeOf(t) / 3
}

// renewableMinLeft is the least life a token handed out under a renewable
// lease has left. Vault Proxy renews such a lease at once and lets it go at
// about 2/3 of what was left (its lifetime watcher: 2/3 of the lease plus a
// jitter of 1/30 to 1/15): for a token read at issue, at 63 to 66% of its
// life. A token handed out later than 55% of its life would be let go before
// the plugin's refresh point and take a second lease; so renewable reads
// take a token with at least 45% of its life left.
func renewableMinLeft(t *cachedToken) time.Duration { return lifetimeOf(t) * 45 / 100 }

// leaseEnd is when every lease of t ends: the margin before it expires.
// Renewals never reach past it.
func leaseEnd(t *cachedToken) time.Time { return t.ExpiresAt.Add(-leaseMargin(t)) }

// refreshAt is when the cache stops serving t: isFresh turns false.
func refreshAt(t *cachedToken) time.Time {
	return t.ExpiresAt.Add(-max(refreshAhead(t), leaseMargin(t)+time.Second))
}

// isFresh: the cache may serve t without minting, to a reader who asks for at
// least minLeft of life.
func isFresh(t *cachedToken, now time.Time, minLeft time.Duration) bool {
	return now.Before(refreshAt(t)) && t.ExpiresAt.Sub(now) >= minLeft
}

// forcesMint: t is within its refresh point, so only the reader's minimum
// asks for a new token.
func forcesMint(t *cachedToken, now time.Time, minLeft time.Duration) bool {
	return now.Before(refreshAt(t)) && t.ExpiresAt.Sub(now) < minLeft
}

// minForcedMintSpacing is the least time between two forced mints of a key.
const minForcedMintSpacing = 30 * time.Second

// forcedMintSpacing is the time between two forced mints of t's key: a
// tenth of its life, and at least minForcedMintSpacing.
func forcedMintSpacing(t *cachedToken) time.Duration {
	return max(lifetimeOf(t)/10, minForcedMintSpacing)
}

// isUsable: t can still be handed out (with a lease of at least a second),
// though it is past its refresh point: the fallback while Resamania is down.
func isUsable(t *cachedToken, now time.Time, minLeft time.Duration) bool {
	left := t.ExpiresAt.Sub(now)
	return left >= minLeft && left > leaseMargin(t)+time.Second
}

// leaseTTL is the lease of a read of t at now: it ends the margin before expiry.
func leaseTTL(t *cachedToken, now time.Time) time.Duration {
	ttl := (t.ExpiresAt.Sub(now) - leaseMargin(t)).Truncate(time.Second)
	if ttl < time.Second {
		ttl = time.Second
	}
	return ttl
}
