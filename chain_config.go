package resamania

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

const (
	defaultRequestTimeout = 10 * time.Second
	minRequestTimeout     = time.Second
	maxRequestTimeout     = 60 * time.Second
	maxClientTokenLen     = 128
	maxSecretLen          = 4096
	maxCAPEMLen           = 256 << 10
	// defaultRefreshTokenTTL is FOSOAuthServerBundle's default: 14 days.
	defaultRefreshTokenTTL = 14 * 24 * time.Hour
	minRefreshTokenTTL     = 2 * time.Minute
	maxRefreshTokenTTL     = 366 * 24 * time.Hour
)

// chainConfig is one club chain's OAuth client. JSON tags are the storage
// format: renaming one would lose data.
type chainConfig struct {
	APIBaseURL     string        `json:"api_base_url"`
	ClientID       string        `json:"client_id"`
	ClientSecret   string        `json:"client_secret"`
	APIKey         string        `json:"api_key,omitempty"`
	Scope          string        `json:"scope,omitempty"`
	CAPEM          string        `json:"ca_pem,omitempty"`
	RequestTimeout time.Duration `json:"request_timeout"`
	// NoLease is lease_mode none, kept in step with LeaseMode for configs
	// stored before lease_mode existed.
	NoLease bool `json:"no_lease"`
	// LeaseMode is how token reads are leased: see the leaseMode constants.
	LeaseMode string `json:"lease_mode,omitempty"`
	// ShareAPIKey: reads of the chain's own token return the gateway key
	// too, so an app gets every header it sends from one read.
	ShareAPIKey bool `json:"share_api_key,omitempty"`
	// RefreshTokenTTL is how long the server keeps a refresh token; it never
	// says so itself. Zero in configs stored before the field existed.
	RefreshTokenTTL time.Duration `json:"refresh_token_ttl,omitempty"`
	// LoginURL is the members' sign-in page, {client_token} in it replaced;
	// empty is the documented one under APIBaseURL.
	LoginURL string `json:"login_url,omitempty"`
	// AllowedRedirectURIs are the callbacks a sign-in by code may use
	// (redirect_uris.go); none takes no sign-in by code. Not in the
	// fingerprint: it does not change how tokens are minted.
	AllowedRedirectURIs []string `json:"allowed_redirect_uris,omitempty"`
	// Written holds, by field name, the text a field was written as where a
	// read would otherwise show its normal form (config_as_written.go).
	// Only a read uses it; never a secret.
	Written map[string]string `json:"written,omitempty"`
}

// loginPlaceholder in login_url stands for the chain's client_token.
const loginPlaceholder = "{client_token}"

// loginPage is the page the chain's members sign in on, without its query.
func (c *chainConfig) loginPage(chain string) string {
	if c.LoginURL == "" {
		return upstream.LoginPage(c.APIBaseURL, chain)
	}
	return strings.ReplaceAll(c.LoginURL, loginPlaceholder, url.PathEscape(chain))
}

func getChainConfig(ctx context.Context, s logical.Storage, chain string) (*chainConfig, error) {
	return getJSON[chainConfig](ctx, s, configKey(chain), fmt.Sprintf("the config of chain %q", chain))
}

func putChainConfig(ctx context.Context, s logical.Storage, chain string, cfg *chainConfig) error {
	return putJSON(ctx, s, configKey(chain), fmt.Sprintf("the config of chain %q", chain), cfg)
}

// equal: both absent, or the same config field by field (a list makes ==
// unusable; nil and an empty list are the same).
func (c *chainConfig) equal(o *chainConfig) bool {
	if c == nil || o == nil {
		return c == o
	}
	a, b := *c, *o
	a.AllowedRedirectURIs, b.AllowedRedirectURIs = nil, nil
	return reflect.DeepEqual(a, b) && slices.Equal(c.AllowedRedirectURIs, o.AllowedRedirectURIs)
}

// fingerprint identifies what a token is minted with (the endpoint, the
// client, its secrets, the gateway key, the scopes, the trusted CAs) without
// holding any of it. Settings that do not change minting, such as no_lease,
// leave it as it is, so they do not throw tokens away.
func (c *chainConfig) fingerprint() string {
	raw, _ := json.Marshal([]string{c.APIBaseURL, c.ClientID, c.ClientSecret, c.APIKey, c.Scope, c.CAPEM})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

func (c *chainConfig) upstreamConfig(chain string, now func() time.Time, holds *upstream.GatewayHolds) upstream.Config {
	return upstream.Config{
		TokenURL:       upstream.TokenURL(c.APIBaseURL, chain),
		ClientID:       c.ClientID,
		ClientSecret:   c.ClientSecret,
		APIKey:         c.APIKey,
		Scope:          c.Scope,
		CAPEM:          c.CAPEM,
		AttemptTimeout: c.RequestTimeout,
		// The pid tells which plugin process (so which Vault node) called.
		UserAgent: fmt.Sprintf("vault-plugin-secrets-resamania/%s (pid %d)", Version, os.Getpid()),
		Now:       now,
		Holds:     holds,
	}
}

// The lease modes of a chain's token reads.
const (
	// leaseNonRenewable: a lease that ends a safety margin before the token
	// expires; read again for a new one.
	leaseNonRenewable = "non_renewable"
	// leaseRenewable: a renewable lease whose renewals never reach past that
	// end, so Vault Proxy's lease cache holds the token instead of passing
	// every read through.
	leaseRenewable = "renewable"
	// leaseNone: no lease; the data says when to read again (ttl,
	// rotation_period), as Vault Agent and the Secrets Operator expect.
	leaseNone = "none"
)

// leaseMode is the chain's lease mode, for configs stored before it existed too.
func (c *chainConfig) leaseMode() string {
	switch {
	case c.LeaseMode != "":
		return c.LeaseMode
	case c.NoLease:
		return leaseNone
	}
	return leaseNonRenewable
}

// refreshTokenTTL is the refresh tokens' lifetime, defaulted for old configs.
func (c *chainConfig) refreshTokenTTL() time.Duration {
	if c.RefreshTokenTTL <= 0 {
		return defaultRefreshTokenTTL
	}
	return c.RefreshTokenTTL
}

var (
	clientTokenRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$`)
	// clientIDRe is Resamania's {id}_{random} form (FOSOAuthServerBundle).
	clientIDRe = regexp.MustCompile(`^[^_\s]+_[!-~]+$`)
	// scopeTokenRe is RFC 6749 3.3's scope-token.
	scopeTokenRe = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)
)

func validateClientToken(chain string) error { return validateName("client_token", chain) }

// validateName checks a path segment naming a chain or a credential.
func validateName(field, value string) error {
	if len(value) > maxClientTokenLen || !clientTokenRe.MatchString(value) {
		return fmt.Errorf("%s %q is not valid: use 1 to %d letters, digits, '_', '-' or '.', starting and ending with a letter or digit", field, clip(value, 64), maxClientTokenLen)
	}
	return nil
}

// validate checks a whole config; messages name the field and the rule and
// never echo a secret.
func (c *chainConfig) validate() error {
	base, err := upstream.NormalizeBaseURL(c.APIBaseURL)
	if err != nil {
		return err
	}
	c.APIBaseURL = base
	switch {
	case c.ClientID == "":
		return fmt.Errorf("client_id is required")
	case len(c.ClientID) > 256 || !clientIDRe.MatchString(c.ClientID):
		return fmt.Errorf("client_id must have Resamania's form {id}_{random}, such as 123_abc (printable characters, no spaces, at most 256)")
	case c.ClientSecret == "":
		return fmt.Errorf("client_secret is required")
	case len(c.ClientSecret) > maxSecretLen || !printable(c.ClientSecret):
		return fmt.Errorf("client_secret must be at most %d printable characters", maxSecretLen)
	case len(c.APIKey) > maxSecretLen || !printable(c.APIKey):
		return fmt.Errorf("api_key must be at most %d printable characters", maxSecretLen)
	case c.RequestTimeout < minRequestTimeout || c.RequestTimeout > maxRequestTimeout:
		return fmt.Errorf("request_timeout must be between %s and %s", minRequestTimeout, maxRequestTimeout)
	case c.LeaseMode != leaseNonRenewable && c.LeaseMode != leaseRenewable && c.LeaseMode != leaseNone:
		return fmt.Errorf("lease_mode must be %s, %s or %s", leaseNonRenewable, leaseRenewable, leaseNone)
	case c.RefreshTokenTTL < minRefreshTokenTTL || c.RefreshTokenTTL > maxRefreshTokenTTL:
		return fmt.Errorf("refresh_token_ttl must be between %s and %s", minRefreshTokenTTL, maxRefreshTokenTTL)
	case len(c.CAPEM) > maxCAPEMLen:
		return fmt.Errorf("ca_pem is larger than %d KiB", maxCAPEMLen>>10)
	}
	if c.Scope, err = validateScope(c.Scope); err != nil {
		return err
	}
	if c.CAPEM != "" {
		if _, err := upstream.ParseCAPEM(c.CAPEM); err != nil {
			return err
		}
	}
	if err := c.validateAllowedRedirectURIs(); err != nil {
		return err
	}
	return c.validateLoginURL()
}

// validateLoginURL: a sign-in page members' browsers can be sent to, on
// https (http only on a loopback host, as api_base_url), with no query of
// its own: auth-code-url adds the OAuth one.
func (c *chainConfig) validateLoginURL() error {
	if c.LoginURL == "" {
		return nil
	}
	if len(c.LoginURL) > 2048 {
		return fmt.Errorf("login_url is longer than 2048 characters")
	}
	probe := strings.ReplaceAll(c.LoginURL, loginPlaceholder, "chain")
	if _, err := upstream.NormalizeBaseURL(probe); err != nil {
		return errors.New(strings.Replace(err.Error(), "api_base_url", "login_url", 1))
	}
	if u, err := url.Parse(probe); err != nil || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "https" && u.Scheme != "http") || !strings.Contains(probe, "://") {
		return fmt.Errorf("login_url must be an absolute URL without a query or fragment, such as https://api.resamania.com/oauth/login/{client_token}")
	}
	return nil
}

// validateScope checks space-separated scopes (RFC 6749 3.3) and returns them
// with single spaces.
func validateScope(scope string) (string, error) {
	if len(scope) > 1024 {
		return "", fmt.Errorf("scope is longer than 1024 characters")
	}
	for _, s := range strings.Fields(scope) {
		if !scopeTokenRe.MatchString(s) {
			return "", fmt.Errorf("scope holds %q, which is not a valid OAuth scope token", clip(s, 64))
		}
	}
	return strings.Join(strings.Fields(scope), " "), nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// clip is upstream.Clip: one way to shorten what a message quotes.
var clip = upstream.Clip
