package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// Sentinels with the characters escaping changes: '+', '/', '@', a space
// and a non-ASCII letter.
const (
	scrubSecret = "Sk+y/é @42"
	scrubEmail  = "Bob+1@Club.example"
)

// echoForms are the shapes in which a server may echo v: as sent, in
// another case, URL-encoded (query and path forms), JSON-escaped (as
// encoding/json does, with PHP's \/, and with \uXXXX for every
// non-alphanumeric or every character).
func echoForms(v string) map[string]string {
	jsonText, _ := json.Marshal(v)
	jsonEscaped := strings.Trim(string(jsonText), `"`)
	return map[string]string{
		"plain":                          v,
		"upper case":                     strings.ToUpper(v),
		"lower case":                     strings.ToLower(v),
		"query-escaped":                  url.QueryEscape(v),
		"query-escaped, lower hex":       strings.ToLower(url.QueryEscape(v)),
		"path-escaped":                   url.PathEscape(v),
		"upper case, query-escaped":      url.QueryEscape(strings.ToUpper(v)),
		"json-escaped":                   jsonEscaped,
		"json-escaped with \\/":          strings.ReplaceAll(jsonEscaped, "/", `\/`),
		"json \\u for non-alphanumerics": unicodeEscaped(v, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }),
		"json \\u for every char":        unicodeEscaped(v, func(rune) bool { return true }),
	}
}

// unicodeEscaped writes the runes of v that escape says as \uXXXX (UTF-16,
// as JSON has it).
func unicodeEscaped(v string, escape func(rune) bool) string {
	var b strings.Builder
	for _, r := range v {
		if !escape(r) {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, r) // every sentinel rune is in the BMP
	}
	return b.String()
}

// echoBodies are the answers in which a server can echo a value: each one
// reaches a different part of the error.
var echoBodies = map[string]func(echo string) fakeresamania.Fault{
	"error_description": func(echo string) fakeresamania.Fault {
		body, _ := json.Marshal(map[string]string{"error": "invalid_request", "error_description": "no client " + echo + " here"})
		return fakeresamania.Fault{Status: 400, ContentType: "application/json", Body: string(body)}
	},
	"error code": func(echo string) fakeresamania.Fault {
		body, _ := json.Marshal(map[string]string{"error": echo})
		return fakeresamania.Fault{Status: 400, ContentType: "application/json", Body: string(body)}
	},
	"form-encoded error_description": func(echo string) fakeresamania.Fault {
		body := url.Values{"error": {"invalid_request"}, "error_description": {"no client " + echo}}.Encode()
		return fakeresamania.Fault{Status: 400, ContentType: "application/x-www-form-urlencoded", Body: body}
	},
	"non-JSON 5xx's media type": func(echo string) fakeresamania.Fault {
		return fakeresamania.Fault{Status: 502, ContentType: "text/" + echo, Body: "<html>bad gateway</html>"}
	},
	"non-JSON 200's media type": func(echo string) fakeresamania.Fault {
		return fakeresamania.Fault{Garbage: true, ContentType: "text/" + echo}
	},
	"token_type": func(echo string) fakeresamania.Fault {
		return fakeresamania.Fault{Override: map[string]any{"token_type": echo}}
	},
}

// TestScrubbingFindsEveryForm: a secret or an email echoed in another case or
// escaped is scrubbed as surely as one echoed as sent, from every part of an
// answer that reaches the error's text.
func TestScrubbingFindsEveryForm(t *testing.T) {
	sentinels := map[string]struct {
		value string
		call  func(context.Context, *Client) (*Token, error)
	}{
		"client secret": {scrubSecret, func(ctx context.Context, c *Client) (*Token, error) { return c.ClientCredentials(ctx) }},
		"email":         {scrubEmail, func(ctx context.Context, c *Client) (*Token, error) { return c.ContactCredentials(ctx, scrubEmail) }},
	}
	for sentinelName, sentinel := range sentinels {
		e := newEnv(t, fakeresamania.Options{}, func(c *fakeresamania.Client) {
			c.ClientSecret = scrubSecret
			c.AllowedGrants = []string{fakeresamania.GrantClientCredentials, fakeresamania.GrantContactCredentials}
		})
		e.srv.AddMember(testChain, scrubEmail, "pw")
		e.cfg.ClientSecret = scrubSecret
		client := e.client(func(c *Config) { c.MaxAttempts = 1 })
		for bodyName, body := range echoBodies {
			for formName, echo := range echoForms(sentinel.value) {
				t.Run(sentinelName+"/"+bodyName+"/"+formName, func(t *testing.T) {
					fault := body(echo)
					fault.Count = 1
					e.srv.InjectFault(fault)
					_, err := sentinel.call(context.Background(), client)
					require.Error(t, err)
					ue := asError(t, err)
					for _, text := range []string{err.Error(), ue.Code, ue.Description, ue.Detail} {
						for _, v := range []string{scrubSecret, scrubEmail} {
							for shape, form := range echoForms(v) {
								assert.NotContains(t, strings.ToLower(text), strings.ToLower(form), "%s in the error (%s)", shape, text)
							}
						}
					}
				})
			}
		}
	}
}

// TestScrubberRedactsOnlySecrets: what is not a secret stays as it was, a
// secret beyond the BMP is found as a JSON surrogate pair, and escapes mixed
// within one echo are decoded together.
func TestScrubberRedactsOnlySecrets(t *testing.T) {
	s := newScrubber("pass🔑word", "abc", "Sk+y/é @42")
	cases := map[string]string{
		`invalid_client: Bad%20Request \u0041 for abc`:    `invalid_client: Bad%20Request \u0041 for abc`,
		`key pass\ud83d\udd11WORD given`:                  `key [redacted] given`,
		`echo sK%2By\/\u00E9+%4042 and Sk+y/é @42, twice`: `echo [redacted] and [redacted], twice`,
		`overlapping PASS🔑WORDpass%F0%9F%94%91word end`:   `overlapping [redacted] end`,
	}
	for in, want := range cases {
		require.Equal(t, want, s.clean(in), in)
	}
}
