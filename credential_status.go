package resamania

import (
	"maps"

	"github.com/hashicorp/vault/sdk/framework"
)

// credStatusFields is the schema of what a credential's status tells, on a
// write and on creds/<client_token>/<name>/status: its stored state and
// history, and its health as this node saw it.
func credStatusFields() map[string]*framework.FieldSchema {
	fields := map[string]*framework.FieldSchema{
		"state":                    {Type: framework.TypeString, Description: "active, sign_in_required or uncertain."},
		"state_reason":             {Type: framework.TypeString, Description: "Why the state is what it is, when not active."},
		"state_since":              {Type: framework.TypeString, Description: "When the state was set (RFC 3339)."},
		"created_at":               {Type: framework.TypeString, Description: "When the credential was stored."},
		"last_refreshed_at":        {Type: framework.TypeString, Description: "When its tokens were last refreshed, empty if never."},
		"refreshes":                {Type: framework.TypeInt, Description: "How many refreshes it has had."},
		"refresh_token_expires_at": {Type: framework.TypeString, Description: "When its refresh token lapses, by the chain's refresh_token_ttl."},
		"access_token_expires_at":  {Type: framework.TypeString, Description: "When its current access token expires."},
		"scope":                    {Type: framework.TypeString, Description: "Scopes granted."},
		"unsaved":                  {Type: framework.TypeBool, Description: "True when its newest refresh token is held in memory because storage refused it."},
	}
	maps.Copy(fields, healthFields())
	return fields
}

// credStatusData is what a read or write tells of the credential stored at key.
func (b *backend) credStatusData(key string, c *credential, cfg *chainConfig, unsaved bool) map[string]any {
	data := credStatus(c, cfg, unsaved)
	maps.Copy(data, b.health.fields(key, c.State != credActive))
	return data
}

// credStatus is what may be told of a credential: no token in it.
func credStatus(c *credential, cfg *chainConfig, unsaved bool) map[string]any {
	ts := rfc3339OrEmpty
	ttl := defaultRefreshTokenTTL
	if cfg != nil {
		ttl = cfg.refreshTokenTTL()
	}
	data := map[string]any{
		"state":                    string(c.State),
		"state_reason":             c.StateReason,
		"state_since":              ts(c.StateSince),
		"created_at":               ts(c.CreatedAt),
		"last_refreshed_at":        ts(c.LastRefreshedAt),
		"refreshes":                c.Refreshes,
		"refresh_token_expires_at": ts(c.RefreshTokenIssuedAt.Add(ttl)),
		"access_token_expires_at":  "",
		"scope":                    c.Scope,
		"unsaved":                  unsaved,
	}
	if c.AccessToken != nil {
		data["access_token_expires_at"] = ts(c.AccessToken.ExpiresAt)
	}
	return data
}
