package resamania

import (
	"context"
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
}

func credKey(chain, name string) string { return credsStoragePrefix + chain + "/" + name }

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
