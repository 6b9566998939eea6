package resamania

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// credState says whether a credential can be refreshed.
type credState string

const (
	// credActive: the stored refresh token is believed good.
	credActive credState = "active"
	// credSignInRequired: Resamania refused the refresh token (invalid_grant);
	// only a new sign-in (or an imported refresh token) brings it back.
	credSignInRequired credState = "sign_in_required"
	// credUncertain: a refresh reached the server but its answer was lost; the
	// server may have rotated the token, so the old one is never sent again.
	credUncertain credState = "uncertain"
)

// credential is a member's grant. JSON tags are the storage format.
type credential struct {
	RefreshToken string `json:"refresh_token"`
	// RefreshTokenIssuedAt: the current refresh token lapses refresh_token_ttl after it.
	RefreshTokenIssuedAt time.Time    `json:"refresh_token_issued_at"`
	AccessToken          *cachedToken `json:"access_token,omitempty"`
	Scope                string       `json:"scope,omitempty"`
	State                credState    `json:"state"`
	StateReason          string       `json:"state_reason,omitempty"`
	StateSince           time.Time    `json:"state_since"`
	CreatedAt            time.Time    `json:"created_at"`
	LastRefreshedAt      time.Time    `json:"last_refreshed_at,omitempty"`
	Refreshes            int          `json:"refreshes"`
	// GrantSent is the fence: written before a grant that spends a
	// single-use secret is sent, cleared by the write that stores its
	// answer. Optional (omitempty) and added without a format step: an entry
	// of any earlier format reads with none, and an older plugin version
	// ignores it.
	GrantSent *grantSent `json:"grant_sent,omitempty"`
}

// The grants a grantSent records.
const (
	grantRefreshToken      = "refresh_token"
	grantAuthorizationCode = "authorization_code"
)

// grantSent records a grant under way: which secret it spends, when and
// where it was sent. Still stored after its sender is gone, it means the
// grant's answer was never stored (a failover, a crash).
type grantSent struct {
	// Grant is refresh_token or authorization_code.
	Grant string `json:"grant"`
	// Secret is the first 16 hex digits of the sha256 of the code or refresh
	// token sent, to tell whether the stored refresh token is the one sent.
	Secret string    `json:"secret_sha256"`
	At     time.Time `json:"at"`
	// Instance is the plugin instance (one mount in one plugin process) that
	// sent it, random per instance.
	Instance string `json:"instance"`
	// Node is the sender's host name and plugin process id, for people.
	Node string `json:"node,omitempty"`
}

// secretFingerprint identifies a code or token in a grantSent, without it.
func secretFingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8])
}

// sentBy says whether g recorded the grant that spent the refresh token c
// holds now.
func (c *credential) sentBy(g *grantSent) bool {
	return g != nil && g.Grant == grantRefreshToken && c.RefreshToken != "" && g.Secret == secretFingerprint(c.RefreshToken)
}

// copy is a credential that shares nothing a caller changes with c: its
// access token and grantSent record are replaced on change, never edited.
func (c *credential) copy() *credential {
	if c == nil {
		return nil
	}
	d := *c
	return &d
}

func getCredential(ctx context.Context, s logical.Storage, key string) (*credential, error) {
	return getJSON[credential](ctx, s, key, fmt.Sprintf("credential %q", key))
}

func putCredential(ctx context.Context, s logical.Storage, key string, c *credential) error {
	return putJSON(ctx, s, key, fmt.Sprintf("credential %q", key), c)
}

func (c *credential) setState(state credState, reason string, now time.Time) {
	c.State, c.StateReason, c.StateSince = state, reason, now
}

// applyGrant puts a successful grant's tokens on c: a new refresh token, and
// the access token when the answer had a usable one. Without a new refresh
// token the old one stays valid (RFC 6749 6), and oauth2 hands it back.
// rotated: a refresh token c held was replaced (a first sign-in is not).
func (c *credential) applyGrant(t *upstream.Token, now time.Time) (rotated bool) {
	if t.RefreshToken != "" && t.RefreshToken != c.RefreshToken {
		rotated = c.RefreshToken != ""
		c.RefreshToken, c.RefreshTokenIssuedAt = t.RefreshToken, now
	}
	c.AccessToken = nil
	if t.AccessToken != "" {
		c.AccessToken = newCachedToken(t)
		c.Scope = t.Scope
	}
	c.setState(credActive, "", now)
	return rotated
}
