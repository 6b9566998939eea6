package resamania

import (
	"strings"
	"testing"
	"time"
)

// FuzzChainConfigValidate: validation never panics, an accepted config is
// stable under a second validation, and no error quotes the client secret.
func FuzzChainConfigValidate(f *testing.F) {
	f.Add("https://api.example.test/prod", "123_abc", "s3cr3t-value", "read write", "", 10)
	f.Add("api.example.test", "1_x", "secret", "", "", 1)
	f.Add("http://example.test", "nounderscore", "secret", `"bad"`, "not a pem", 0)
	f.Add("https://h", "1_a b", "x\x00y", "a\tb", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", 61)
	f.Fuzz(func(t *testing.T, baseURL, clientID, secret, scope, caPEM string, timeoutSecs int) {
		cfg := &chainConfig{APIBaseURL: baseURL, ClientID: clientID, ClientSecret: secret, Scope: scope, CAPEM: caPEM,
			RequestTimeout: time.Duration(timeoutSecs) * time.Second, RefreshTokenTTL: defaultRefreshTokenTTL}
		err := cfg.validate()
		if err != nil {
			if len(secret) >= 6 && strings.Contains(err.Error(), secret) && !strings.Contains(baseURL+clientID+scope+caPEM, secret) {
				t.Fatalf("the error quotes the client secret: %v", err)
			}
			return
		}
		before := *cfg
		if err := cfg.validate(); err != nil || *cfg != before {
			t.Fatalf("an accepted config changed or failed on a second validation: %v", err)
		}
		if cfg.ClientSecret == "" || cfg.ClientID == "" || cfg.APIBaseURL == "" {
			t.Fatalf("accepted with a required field empty: %+v", cfg)
		}
	})
}
