package resamania

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// Where a sign-in may send a member back with a code. Resamania checks the
// redirect_uri against the OAuth client's registered return URLs, but one
// client may serve several apps, and a code sent to the wrong app is a
// member's account in the wrong hands: so each chain names its apps'
// callbacks in allowed_redirect_uris, and a sign-in by code uses one of them.

// maxAllowedRedirectURIs bounds the list: a handful of apps per chain.
const maxAllowedRedirectURIs = 64

// validateRedirectURI: an absolute URI without a fragment (RFC 6749 3.1.2);
// custom schemes are allowed for mobile apps.
func validateRedirectURI(raw string) error {
	if raw == "" {
		return fmt.Errorf("redirect_uri is required")
	}
	u, err := url.Parse(raw)
	switch {
	case len(raw) > 2048:
		return fmt.Errorf("redirect_uri is longer than 2048 characters")
	case err != nil || u.Scheme == "" || !printable(raw) || strings.ContainsAny(raw, " "):
		return fmt.Errorf("redirect_uri must be an absolute URI, such as https://app.example/callback")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("redirect_uri must not carry a fragment")
	}
	return nil
}

// validateAllowedRedirectURI: a callback a member's code may be sent to.
// https to any host; http only to a loopback host (a desktop app's local
// listener, RFC 8252 7.3), as nothing else on the way can read it; or a
// mobile app's private-use scheme, which RFC 8252 7.1 has be a reversed
// domain name the app owns (com.example.app:/callback), so it always has a
// dot: that keeps out javascript:, data:, file: and the like.
func validateAllowedRedirectURI(raw string) error {
	if err := validateRedirectURI(raw); err != nil {
		return fmt.Errorf("allowed_redirect_uris: %w", err)
	}
	u, _ := url.Parse(raw)
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https" && u.Host != "":
		return nil
	case scheme == "http" && u.Host != "" && upstream.IsLoopbackHost(u.Hostname()):
		return nil
	case scheme != "https" && scheme != "http" && strings.Contains(scheme, "."):
		return nil
	}
	return fmt.Errorf("allowed_redirect_uris holds %q: use https://host/path, http only for a loopback host (http://127.0.0.1:port/path), or a mobile app's reversed-domain scheme (com.example.app:/callback)", clip(raw, 128))
}

// validateAllowedRedirectURIs checks the whole list.
func (c *chainConfig) validateAllowedRedirectURIs() error {
	if len(c.AllowedRedirectURIs) > maxAllowedRedirectURIs {
		return fmt.Errorf("allowed_redirect_uris holds more than %d URIs", maxAllowedRedirectURIs)
	}
	for _, uri := range c.AllowedRedirectURIs {
		if err := validateAllowedRedirectURI(uri); err != nil {
			return err
		}
	}
	return nil
}

// applyAllowedRedirectURIs sets the list from a config write that names it:
// trimmed, without empty entries, so that an empty value clears it.
func applyAllowedRedirectURIs(cfg *chainConfig, d *framework.FieldData) {
	v, ok := d.GetOk("allowed_redirect_uris")
	if !ok {
		return
	}
	var uris []string
	for _, uri := range v.([]string) {
		if uri = strings.TrimSpace(uri); uri != "" && !slices.Contains(uris, uri) {
			uris = append(uris, uri)
		}
	}
	cfg.AllowedRedirectURIs = uris
}

// checkRedirectAllowed refuses a sign-in by code whose redirect_uri is not,
// exactly, on the chain's list.
func (c *chainConfig) checkRedirectAllowed(chain, redirectURI string) error {
	if slices.Contains(c.AllowedRedirectURIs, redirectURI) {
		return nil
	}
	uri := clip(redirectURI, 128)
	if len(c.AllowedRedirectURIs) == 0 {
		return &signInRefusedError{msg: fmt.Sprintf("chain %q has no allowed_redirect_uris, so it takes no sign-in by code: to use redirect_uri %q, add it to allowed_redirect_uris in config/%s", chain, uri, chain)}
	}
	return &signInRefusedError{msg: fmt.Sprintf("redirect_uri %q is not one of chain %q's allowed_redirect_uris: add it to allowed_redirect_uris in config/%s (matched exactly)", uri, chain, chain)}
}

// allowedRedirectURIs is the list for a config read: never nil, so an empty
// list reads as [] rather than null.
func (c *chainConfig) allowedRedirectURIs() []string {
	return append([]string{}, c.AllowedRedirectURIs...)
}
