package resamania

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

func pathConfig(b *backend) []*framework.Path {
	return []*framework.Path{pathConfigEntry(b), pathConfigList(b)}
}

func pathConfigEntry(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "config/" + framework.GenericNameRegex("client_token"),
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationSuffix: "chain-configuration",
		},
		Fields: configFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.CreateOperation: &framework.PathOperation{
				Callback: b.pathConfigWrite,
				Summary:  "Store a club chain's OAuth client.",
				DisplayAttrs: &framework.DisplayAttributes{
					OperationVerb: "configure",
				},
				// Verified with a token request, then stored: a standby that
				// ran it would call Resamania once more before forwarding.
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
				Responses:                   map[int][]framework.Response{http.StatusNoContent: {{Description: "stored"}}},
			},
			logical.UpdateOperation: &framework.PathOperation{
				Callback: b.pathConfigWrite,
				Summary:  "Change some fields of a club chain's OAuth client.",
				DisplayAttrs: &framework.DisplayAttributes{
					OperationVerb: "configure",
				},
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
				Responses:                   map[int][]framework.Response{http.StatusNoContent: {{Description: "stored"}}},
			},
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathConfigRead,
				Summary:  "Read a club chain's configuration, without its secrets.",
				DisplayAttrs: &framework.DisplayAttributes{
					OperationVerb: "read",
				},
				Responses: map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: configReadFields()}}},
			},
			logical.DeleteOperation: &framework.PathOperation{
				Callback: b.pathConfigDelete,
				Summary:  "Delete a club chain and everything stored under it: its tokens, members' credentials, contacts and pending sign-ins.",
				DisplayAttrs: &framework.DisplayAttributes{
					OperationVerb: "delete",
				},
				// Waits for the chain's work under way, then writes.
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
				Responses: map[int][]framework.Response{
					http.StatusNoContent: {{Description: "deleted; nothing else was stored under the chain"}},
					http.StatusOK:        {{Description: "deleted, with a warning that counts the member credentials and contacts deleted with it"}},
				},
			},
		},
		ExistenceCheck:  b.pathConfigExists,
		HelpSynopsis:    pathConfigHelpSyn,
		HelpDescription: pathConfigHelpDesc,
	}
}

func pathConfigList(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "config/?$",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefix,
			OperationSuffix: "chain-configurations",
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ListOperation: &framework.PathOperation{
				Callback: b.pathConfigListRead,
				Summary:  "List the configured club chains.",
				DisplayAttrs: &framework.DisplayAttributes{
					OperationVerb: "list",
				},
				Responses: map[int][]framework.Response{http.StatusOK: {{Description: "OK", Fields: map[string]*framework.FieldSchema{
					"keys": {Type: framework.TypeStringSlice, Description: "The client_token of every configured chain."},
				}}}},
			},
		},
		HelpSynopsis:    pathConfigListHelpSyn,
		HelpDescription: pathConfigListHelpDesc,
	}
}

// configFields are a config write's fields: the OAuth client and how to
// reach it here, how reads are served in configBehaviourFields.
func configFields() map[string]*framework.FieldSchema {
	fields := map[string]*framework.FieldSchema{
		"client_token": {
			Type:        framework.TypeString,
			Description: "Resamania's identifier of the club chain; the first path segment of its API URLs.",
			Required:    true,
		},
		"api_base_url": {
			Type:        framework.TypeString,
			Description: "Base URL of the Resamania API, host plus the gateway's environment path if any (for example https://gateway.example/prod). A bare host means https; http is accepted only for a loopback host. The token URL is {api_base_url}/{client_token}/oauth/v2/token. An update that changes it must write client_secret (and api_key, when one is stored) again: secrets follow only the host they were written for. When the plugin is registered with RESAMANIA_ALLOWED_HOSTS, the host must be listed.",
			Required:    true,
		},
		"client_id": {
			Type:        framework.TypeString,
			Description: "The OAuth client's identifier, in Resamania's {id}_{random} form.",
			Required:    true,
		},
		"client_secret": {
			Type:         framework.TypeString,
			Description:  "The OAuth client's secret. Write-only: reads only say whether it is set. It is sent to api_base_url's host: an update that changes api_base_url, ca_pem or login_url must write it again.",
			Required:     true,
			DisplayAttrs: &framework.DisplayAttributes{Sensitive: true},
		},
		"api_key": {
			Type:         framework.TypeString,
			Description:  "Key of Resamania's API gateway, sent as the x-gravitee-api-key header on every token request. Write-only; write an empty value to remove it. An update that changes api_base_url or ca_pem must write it again (or remove it).",
			DisplayAttrs: &framework.DisplayAttributes{Sensitive: true},
		},
		"scope": {
			Type:        framework.TypeString,
			Description: "Space-separated OAuth scopes to ask for with the client_credentials grant and the club and contact grants. Empty asks for the client's default scopes.",
		},
		"ca_pem": {
			Type:        framework.TypeString,
			Description: "PEM bundle of the CA certificates to trust for the token endpoint instead of the system's (for a private integration environment). It decides who may answer for api_base_url's host, so an update that changes it must write client_secret (and api_key, when one is stored) again.",
		},
		"request_timeout": {
			Type:        framework.TypeDurationSecond,
			Description: "How long one HTTP request to the token endpoint may take (1s to 60s). Transient failures are retried, with backoff, for at most three times this long.",
			Default:     int(defaultRequestTimeout.Seconds()),
		},
		"refresh_token_ttl": {
			Type:        framework.TypeDurationSecond,
			Description: "How long Resamania keeps a member's refresh token (its server never says; 14 days by default). Stored credentials are refreshed well before it lapses.",
			Default:     int(defaultRefreshTokenTTL.Seconds()),
		},
	}
	maps.Copy(fields, configBehaviourFields())
	return fields
}

// configBehaviourFields are what a write says of reads and sign-ins, and of
// the write itself.
func configBehaviourFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"share_api_key": {
			Type:        framework.TypeBool,
			Description: "Return the gateway key (api_key) with reads of token/<client_token>, the chain's own token, so one read gives an app every header it sends. Anyone who may read that path then gets the gateway key, which every chain on it shares; club, contact and members' creds/ reads never return it.",
			Default:     false,
		},
		"lease_mode": {
			Type:          framework.TypeString,
			Description:   "How token reads are leased. non_renewable: a lease that ends a safety margin before the token expires (read again for a new one). renewable: the same end, but renewable up to it, so Vault Proxy's cache holds the token. none: no lease; the data carries ttl, rotation_period and last_vault_rotation, which Vault Agent and the Vault Secrets Operator use to re-read in time.",
			Default:       leaseNonRenewable,
			AllowedValues: []any{leaseNonRenewable, leaseRenewable, leaseNone},
		},
		"no_lease": {
			Type:        framework.TypeBool,
			Description: "Kept for older configs: true is lease_mode=none, false turns none back into non_renewable.",
			Default:     false,
		},
		"login_url": {
			Type:        framework.TypeString,
			Description: "The page members sign in on, for auth-code-url; {client_token} in it is replaced by the chain's. Empty is the documented {api_base_url}/{client_token}/oauth/login. Set it where members sign in on another host than the API's gateway (a browser cannot send the gateway key), for example https://api.resamania.com/oauth/login/{client_token}. An update that changes the page must write client_secret again. When the plugin is registered with RESAMANIA_ALLOWED_HOSTS, its host must be listed.",
		},
		"allowed_redirect_uris": {
			Type:        framework.TypeCommaStringSlice,
			Description: "The redirect_uris a member's sign-in by code may use (auth-code-url, and creds writes with code), matched exactly; empty takes no sign-in by code. Each is https, http only for a loopback host, or a mobile app's reversed-domain scheme (com.example.app:/callback). Write an empty value to clear it.",
		},
		"verify_connection": {
			Type:        framework.TypeBool,
			Description: "Mint one token with the new settings before storing them; on failure nothing is stored and the previous config stays in force. Not stored itself. false stores without any request (bulk tooling). A write that changes nothing tokens are minted with sends no request either way.",
			Default:     true,
		},
	}
}

// configReadFields is the schema of a config read: the config without its
// secrets, and the chain's health as this node saw it.
func configReadFields() map[string]*framework.FieldSchema {
	fields := map[string]*framework.FieldSchema{
		"api_base_url":      {Type: framework.TypeString, Description: "Base URL of the Resamania API, as it was written (token_url shows the endpoint it gives)."},
		"token_url":         {Type: framework.TypeString, Description: "The token endpoint this chain's tokens come from."},
		"client_id":         {Type: framework.TypeString, Description: "The OAuth client's identifier."},
		"client_secret_set": {Type: framework.TypeBool, Description: "Whether a client secret is stored (it is never returned)."},
		"api_key_set":       {Type: framework.TypeBool, Description: "Whether a gateway key is stored (it is never returned)."},
		"scope":             {Type: framework.TypeString, Description: "Scopes asked for."},
		"ca_pem":            {Type: framework.TypeString, Description: "CA bundle trusted for the token endpoint, empty for the system's."},
		"request_timeout":   {Type: framework.TypeDurationSecond, Description: "Timeout of one request, in seconds, or the duration text it was written as (such as 15s)."},
		"lease_mode":        {Type: framework.TypeString, Description: "non_renewable, renewable or none."},
		"no_lease":          {Type: framework.TypeBool, Description: "Whether tokens are returned without a lease (lease_mode none)."},
		"share_api_key":     {Type: framework.TypeBool, Description: "Whether token/<client_token> reads return the gateway key."},
		"refresh_token_ttl": {Type: framework.TypeDurationSecond, Description: "Lifetime of members' refresh tokens, in seconds, or the duration text it was written as (such as 24h)."},
		"login_url":         {Type: framework.TypeString, Description: "The page this chain's members sign in on (auth-code-url adds the query): as it was written, {client_token} included; the documented page when none was written."},
	}
	fields["allowed_redirect_uris"] = &framework.FieldSchema{Type: framework.TypeCommaStringSlice, Description: "The redirect_uris members' sign-ins by code may use."}
	maps.Copy(fields, healthFields())
	maps.Copy(fields, budgetReadFields())
	return fields
}

func (b *backend) pathConfigExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	cfg, err := getChainConfig(ctx, req.Storage, d.Get("client_token").(string))
	return cfg != nil, err
}

func (b *backend) pathConfigRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain := d.Get("client_token").(string)
	if err := validateClientToken(chain); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	cfg, err := getChainConfig(ctx, req.Storage, chain)
	if err != nil || cfg == nil {
		return nil, err
	}
	data := cfg.readFields(chain)
	cfg.readAsWritten(data)
	maps.Copy(data, b.health.fields(chainHealthSubject(chain), false))
	ch, err := b.chains.get(ctx, req.Storage, chain)
	var notAllowed *hostNotAllowedError
	if errors.As(err, &notAllowed) {
		// The operator reads the config to fix it: show it, and why it is not served.
		return &logical.Response{Data: data, Warnings: []string{notAllowed.Error()}}, nil
	}
	if err != nil {
		return nil, err
	}
	maps.Copy(data, budgetFields(ch, b.now()))
	return &logical.Response{Data: data}, nil
}

// readFields are a config read's fields in their normal form, the one the
// plugin uses: never a secret.
func (c *chainConfig) readFields(chain string) map[string]any {
	return map[string]any{
		"api_base_url":          c.APIBaseURL,
		"token_url":             upstream.TokenURL(c.APIBaseURL, chain),
		"client_id":             c.ClientID,
		"client_secret_set":     c.ClientSecret != "",
		"api_key_set":           c.APIKey != "",
		"scope":                 c.Scope,
		"ca_pem":                c.CAPEM,
		"request_timeout":       int64(c.RequestTimeout.Seconds()),
		"lease_mode":            c.leaseMode(),
		"no_lease":              c.leaseMode() == leaseNone,
		"share_api_key":         c.ShareAPIKey,
		"refresh_token_ttl":     int64(c.refreshTokenTTL().Seconds()),
		"login_url":             c.loginPage(chain),
		"allowed_redirect_uris": c.allowedRedirectURIs(),
	}
}

func (b *backend) pathConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain := d.Get("client_token").(string)
	if err := validateClientToken(chain); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := rejectUnknownFields(req, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := leaseModeConflict(d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	w, err := b.writeConfig(ctx, req.Storage, chain, d)
	if err != nil {
		return nil, err
	}
	return w.resp, w.respErr
}

// changeChain runs fn, a change of the chain's config, while neither a mint of
// its token nor a lookup of its config runs, then drops what memory held of
// it. Club and member tokens minted meanwhile are stale by their fingerprint.
func (b *backend) changeChain(chain string, fn func() error) error {
	defer b.forgetChainTokens(chain)
	return b.tokens.changeKey(chainTokenKey(chain), func() error {
		defer b.guards.use(chain)()
		return b.chains.change(chain, fn)
	})
}

// forgetChainTokens drops from memory every token minted with the chain's
// client, and its health: what a new config does is yet to be seen.
func (b *backend) forgetChainTokens(chain string) {
	b.health.forget(chainHealthSubject(chain))
	b.tokens.forget(chainTokenKey(chain))
	for _, prefix := range []string{chainDir(clubTokenStoragePrefix, chain), chainDir(contactTokenStoragePrefix, chain)} {
		b.tokens.forgetPrefix(prefix)
		b.refusals.forgetPrefix(prefix)
	}
}

// applyConfigFields copies the fields present in the request onto cfg, so an
// update changes only what it names.
func applyConfigFields(cfg *chainConfig, d *framework.FieldData) {
	for name, dst := range map[string]*string{
		"login_url":     &cfg.LoginURL,
		"api_base_url":  &cfg.APIBaseURL,
		"client_id":     &cfg.ClientID,
		"client_secret": &cfg.ClientSecret,
		"api_key":       &cfg.APIKey,
		"scope":         &cfg.Scope,
		"ca_pem":        &cfg.CAPEM,
	} {
		if v, ok := d.GetOk(name); ok {
			*dst = strings.TrimSpace(v.(string))
		}
	}
	if v, ok := d.GetOk("request_timeout"); ok {
		cfg.RequestTimeout = time.Duration(v.(int)) * time.Second
	}
	if v, ok := d.GetOk("refresh_token_ttl"); ok {
		cfg.RefreshTokenTTL = time.Duration(v.(int)) * time.Second
	} else if cfg.RefreshTokenTTL == 0 {
		cfg.RefreshTokenTTL = defaultRefreshTokenTTL // a config stored before the field existed
	}
	applyLeaseMode(cfg, d)
	applyAllowedRedirectURIs(cfg, d)
	if v, ok := d.GetOk("share_api_key"); ok {
		cfg.ShareAPIKey = v.(bool)
	}
}

// applyLeaseMode sets lease_mode, or its old form no_lease, and keeps the two
// in step. A conflict between them is refused before: see leaseModeConflict.
func applyLeaseMode(cfg *chainConfig, d *framework.FieldData) {
	mode := cfg.leaseMode()
	if v, ok := d.GetOk("no_lease"); ok {
		switch {
		case v.(bool):
			mode = leaseNone
		case mode == leaseNone:
			mode = leaseNonRenewable
		}
	}
	if v, ok := d.GetOk("lease_mode"); ok {
		mode = strings.TrimSpace(v.(string))
	}
	cfg.LeaseMode, cfg.NoLease = mode, mode == leaseNone
}

// leaseModeConflict: a write that names both fields must not contradict itself.
func leaseModeConflict(d *framework.FieldData) error {
	mode, modeSet := d.GetOk("lease_mode")
	noLease, noLeaseSet := d.GetOk("no_lease")
	if modeSet && noLeaseSet && (mode.(string) == leaseNone) != noLease.(bool) {
		return fmt.Errorf("lease_mode=%q contradicts no_lease=%t: give lease_mode alone", clip(mode.(string), 32), noLease)
	}
	return nil
}

func (b *backend) pathConfigDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	chain := d.Get("client_token").(string)
	if err := validateClientToken(chain); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	done, err := b.deleteChain(ctx, req.Storage, chain)
	if err != nil {
		return nil, fmt.Errorf("the deletion of chain %q stopped before its end (%w): its config is deleted last, so the chain may still be configured; delete it again", chain, err)
	}
	if warnings := done.warnings(chain); len(warnings) > 0 {
		return &logical.Response{Warnings: warnings}, nil
	}
	return nil, nil
}

func (b *backend) pathConfigListRead(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	chains, err := req.Storage.List(ctx, configStoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", err)
	}
	return logical.ListResponse(chains), nil
}

const pathConfigHelpSyn = `Configure a club chain's Resamania OAuth client.`

const pathConfigHelpDesc = `
Stores the OAuth client that mints tokens for one club chain, keyed by the
chain's client_token (Resamania's identifier of the chain):

  vault write resamania/config/mychain \
      api_base_url=https://api.example.test client_id=123_abc client_secret=...

A write first mints one token with the new settings (verify_connection,
true by default): if Resamania refuses, nothing is stored and the previous
config stays in force; the error says what Resamania answered and what to
fix. The verified token then serves the first read. verify_connection=false
stores without any request.

An update changes only the fields it names. client_secret and api_key are
write-only: a read says only whether they are set. They follow only the host
they were written for: an update that changes api_base_url or ca_pem must
write client_secret (and api_key, when one is stored) again, and one that
changes login_url must write client_secret again; else it is refused and
nothing is sent or stored. When the plugin is registered with
RESAMANIA_ALLOWED_HOSTS, api_base_url and login_url must be on listed hosts.
See docs/security.md. Changing what tokens are minted with (the URL, the
client, its secret, the gateway key, the scopes, the CAs) replaces the
chain's cached token.

Deleting a chain deletes everything stored under it: its config, its tokens
of every scope, its members' credentials (their refresh tokens: members must
sign in again if the chain is configured again), its contacts (members'
emails) and its pending sign-ins. The response warns how many credentials
and contacts went with it.

A read returns each field as it was last written (a trailing slash, a
duration such as 24h, spaces in scope), so that tools which compare what
they wrote with what they read, such as Terraform's vault_generic_endpoint,
see no change: the plugin itself uses the normal form, which token_url shows
for api_base_url.

The read also shows what the gateway's latest answer said is left of the
gateway key's rate limit and quota (gateway_rate_remaining,
gateway_quota_remaining and their resets).
`

const pathConfigListHelpSyn = `List the configured club chains.`

const pathConfigListHelpDesc = `Lists the client_token of every chain with a stored config.`
