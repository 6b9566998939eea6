package upstream

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const fuzzSecret = "fuzz-client-secret-9c2e"

// bodyTransport answers every request with one status, content type and body,
// in memory, so the fuzzer exercises oauth2's parsing and ours at full speed.
type bodyTransport struct {
	status      int
	contentType string
	body        []byte
}

func (b bodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: b.status,
		Header:     http.Header{"Content-Type": {b.contentType}},
		Body:       io.NopCloser(bytes.NewReader(b.body)),
		Request:    req,
	}, nil
}

// FuzzTokenResponse: whatever the token endpoint answers, the client returns
// a usable token or an *Error, never panics, and never quotes the secret.
func FuzzTokenResponse(f *testing.F) {
	for _, seed := range []struct {
		status int
		ct     string
		body   string
	}{
		{200, "application/json", `{"access_token":"a.b.c","expires_in":3600,"token_type":"bearer","scope":null}`},
		{200, "application/json", `{"access_token":"a","expires_in":"3600","token_type":"bearer","scope":["x","y"]}`},
		{200, "application/json", `{"access_token":"a","expires_in":0}`},
		{200, "application/json", `{"access_token":"a","expires_in":-5,"refresh_token":"r"}`},
		{200, "application/json", `{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDB9.sig"}`},
		{200, "application/x-www-form-urlencoded", `access_token=a&expires_in=60&token_type=bearer`},
		{200, "text/html", `<html>maintenance</html>`},
		{200, "application/json", `{"access_token":`},
		{400, "application/json", `{"error":"invalid_client","error_description":null}`},
		{400, "application/json", `{"error":"invalid_request","error_description":"` + fuzzSecret + `"}`},
		{401, "text/plain", `Unauthorized`},
		{429, "application/json", `{}`},
		{503, "text/html", `<h1>down</h1>`},
		{302, "text/html", ``},
	} {
		f.Add(seed.status, seed.ct, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		c := &Client{
			cfg: Config{TokenURL: "https://resamania.test/chain/oauth/v2/token", ClientID: "1_fuzz", ClientSecret: fuzzSecret,
				AttemptTimeout: time.Second, MaxAttempts: 1, Now: time.Now},
			http: &http.Client{Transport: &recordingTransport{next: bodyTransport{status, contentType, body}}},
		}
		tok, err := c.ClientCredentials(context.Background())
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Kind == 0 {
				t.Fatalf("not a classified *Error: %T %v", err, err)
			}
			if strings.Contains(err.Error(), fuzzSecret) {
				t.Fatalf("the error quotes the client secret: %v", err)
			}
			return
		}
		if tok.AccessToken == "" || tok.TokenType != "Bearer" {
			t.Fatalf("unusable token: %+v", tok)
		}
		if life := tok.ExpiresAt.Sub(tok.IssuedAt); life < time.Second {
			t.Fatalf("token accepted with lifetime %s", life)
		}
		if tok.Scope != strings.Join(strings.Fields(tok.Scope), " ") {
			t.Fatalf("scope not normalised: %q", tok.Scope)
		}
	})
}

// FuzzNormalizeBaseURL: accepted URLs are canonical, https unless loopback,
// and give a token URL with the one documented shape.
func FuzzNormalizeBaseURL(f *testing.F) {
	for _, s := range []string{"api.example.test", "https://gw.example/prod/", "http://127.0.0.1:8080", "http://[::1]/x",
		"https://u:p@h", "https://h/?q", "https://h/#f", "ftp://h", "https://h:99999", "https://h/a/../b", "https://h//x//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizeBaseURL(raw)
		if err != nil {
			return
		}
		again, err := NormalizeBaseURL(got)
		if err != nil || again != got {
			t.Fatalf("not canonical: %q -> %q -> %q (%v)", raw, got, again, err)
		}
		if !strings.HasPrefix(got, "https://") && !strings.HasPrefix(got, "http://") {
			t.Fatalf("scheme: %q", got)
		}
		if strings.HasSuffix(got, "/") || strings.ContainsAny(got, "?#") {
			t.Fatalf("not a base: %q", got)
		}
		if !strings.HasSuffix(TokenURL(got, "c"), "/c/oauth/v2/token") {
			t.Fatalf("token URL: %q", TokenURL(got, "c"))
		}
	})
}
