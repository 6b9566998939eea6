package resamania

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzChainConfigValidate: validation never panics; what it accepts keeps
// every documented rule (so dropping a check is caught) and is stable under
// a second validation; no error quotes the client secret. The configs carry
// a lease mode, as every write gives them, so the checks are reached.
func FuzzChainConfigValidate(f *testing.F) {
	f.Add("https://api.example.test/prod", "123_abc", "s3cr3t-value", "read write", "", 10, "")
	f.Add("https://api.example.test/prod", "123_abc", "s3cr3t-value", "read write", "", 61, "") // a timeout out of bounds only
	f.Add("https://api.example.test/prod", "123_abc", "s3cr3t-value", "read", "", 0, "")
	f.Add("https://api.example.test/prod", "123abc", "s3cr3t-value", "read", "", 10, "") // no underscore only
	f.Add("https://api.example.test/prod", "123_abc", "s3cr3t\x01value", "read", "", 10, "")
	f.Add("https://api.example.test/prod", "123_abc", "s3cr3t-value", `a"b`, "", 10, "")
	f.Add("https://api.example.test/prod", "123_abc", "s3cr3t-value", "", "", 10, "https://members.example/login/{client_token}")
	f.Add("https://api.example.test/prod", "123_abc", "s3cr3t-value", "", "", 10, "http://members.example/login")
	f.Add("https://api.example.test/prod", "123_abc", "s3cr3t-value", "", "", 10, "https://members.example/login?x=1")
	f.Add("api.example.test", "1_x", "secret", "", "", 1, "")
	f.Add("http://example.test", "nounderscore", "secret", `"bad"`, "not a pem", 0, "")
	f.Add("https://h", "1_a b", "x\x00y", "a\tb", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", 61, "")
	f.Fuzz(func(t *testing.T, baseURL, clientID, secret, scope, caPEM string, timeoutSecs int, loginURL string) {
		cfg := &chainConfig{APIBaseURL: baseURL, ClientID: clientID, ClientSecret: secret, Scope: scope, CAPEM: caPEM, LoginURL: loginURL,
			RequestTimeout: time.Duration(timeoutSecs) * time.Second, RefreshTokenTTL: defaultRefreshTokenTTL, LeaseMode: leaseNonRenewable}
		err := cfg.validate()
		if err != nil {
			if len(secret) >= 6 && strings.Contains(err.Error(), secret) && !strings.Contains(baseURL+clientID+scope+caPEM+loginURL, secret) {
				t.Fatalf("the error quotes the client secret: %v", err)
			}
			return
		}
		requireDocumentedRules(t, cfg)
		before := *cfg
		if err := cfg.validate(); err != nil || !cfg.equal(&before) {
			t.Fatalf("an accepted config changed or failed on a second validation: %v", err)
		}
	})
}

// requireDocumentedRules fails when an accepted config breaks a rule that
// path-help and docs/reference.md state for its fields.
func requireDocumentedRules(t *testing.T, cfg *chainConfig) {
	t.Helper()
	base, err := url.Parse(cfg.APIBaseURL)
	switch {
	case err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" || base.Fragment != "":
		t.Fatalf("accepted api_base_url %q", cfg.APIBaseURL)
	case base.Scheme == "http" && base.Hostname() != "localhost" && !strings.HasPrefix(base.Hostname(), "127.") && base.Hostname() != "::1":
		t.Fatalf("accepted http for a host that is not loopback: %q", cfg.APIBaseURL)
	case !clientIDRe.MatchString(cfg.ClientID) || len(cfg.ClientID) > 256:
		t.Fatalf("accepted client_id %q", cfg.ClientID)
	case cfg.ClientSecret == "" || !printable(cfg.ClientSecret) || len(cfg.ClientSecret) > maxSecretLen:
		t.Fatalf("accepted a client_secret that is empty, too long or not printable")
	case cfg.RequestTimeout < minRequestTimeout || cfg.RequestTimeout > maxRequestTimeout:
		t.Fatalf("accepted request_timeout %s", cfg.RequestTimeout)
	case cfg.LoginURL != "" && !strings.HasPrefix(cfg.LoginURL, "https://") && !strings.HasPrefix(cfg.LoginURL, "http://127.") && !strings.HasPrefix(cfg.LoginURL, "http://localhost"):
		t.Fatalf("accepted login_url %q", cfg.LoginURL)
	case strings.ContainsAny(cfg.LoginURL, "?#"):
		t.Fatalf("accepted a login_url with a query or fragment: %q", cfg.LoginURL)
	}
	for _, s := range strings.Fields(cfg.Scope) {
		if !scopeTokenRe.MatchString(s) {
			t.Fatalf("accepted scope token %q", s)
		}
	}
}
