package upstream

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// DefaultExpiresIn is the lifetime Resamania's server gives a token when it
// sends no expires_in and the token carries no readable exp claim.
const DefaultExpiresIn = 3600 * time.Second

// Token is what one successful grant returned, with times on the plugin's clock.
type Token struct {
	AccessToken  string
	TokenType    string // always "Bearer"
	RefreshToken string // empty when the server issued none
	Scope        string // space-separated; empty when the server sent null
	IssuedAt     time.Time
	ExpiresAt    time.Time
}

// tokenFromOAuth2 reads the fields oauth2 leaves raw. expires_in may arrive as a
// number, a numeric string, null or not at all; scope as null, a string or a list.
func tokenFromOAuth2(t *oauth2.Token, now time.Time) (*Token, *Error) {
	lifetime, err := expiresIn(t, now)
	if err != nil {
		return nil, err
	}
	scope, err := scopeOf(t.Extra("scope"))
	if err != nil {
		return nil, err
	}
	if tt := t.TokenType; tt != "" && !strings.EqualFold(tt, "bearer") {
		if len(tt) > 32 { // not shown clipped: a clipped secret would escape the scrubber
			return nil, protocolError(fmt.Sprintf("token_type is a %d-byte value, not bearer", len(tt)))
		}
		return nil, protocolError(fmt.Sprintf("token_type is %q, not bearer", tt))
	}
	return &Token{
		AccessToken:  t.AccessToken,
		TokenType:    "Bearer",
		RefreshToken: t.RefreshToken,
		Scope:        scope,
		IssuedAt:     now,
		ExpiresAt:    now.Add(lifetime),
	}, nil
}

func expiresIn(t *oauth2.Token, now time.Time) (time.Duration, *Error) {
	var secs float64
	switch v := t.Extra("expires_in").(type) {
	case nil, string:
		s, _ := v.(string)
		if strings.TrimSpace(s) == "" {
			return lifetimeWithoutExpiresIn(t.AccessToken, now)
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0, protocolError("expires_in is not a number")
		}
		secs = n
	case float64:
		secs = v
	case int64: // a form-encoded answer: oauth2's Extra parses its numbers as int64
		secs = float64(v)
	case json.Number:
		n, err := v.Float64()
		if err != nil {
			return 0, protocolError("expires_in is not a number")
		}
		secs = n
	default:
		return 0, protocolError(fmt.Sprintf("expires_in has type %T, not a number", v))
	}
	if math.IsNaN(secs) || secs < 1 {
		return 0, protocolError(fmt.Sprintf("expires_in is %v: the token is already expired", secs))
	}
	// Ten years is far beyond any OAuth server's setting; cap to stay clear of overflow.
	return time.Duration(math.Min(secs, 10*365*86400)) * time.Second, nil
}

// lifetimeWithoutExpiresIn follows RFC 6749 5.1: with expires_in omitted, the
// lifetime is known by other means. Resamania's access tokens are JWTs whose exp
// claim says it; failing that, the server's documented default applies.
func lifetimeWithoutExpiresIn(accessToken string, now time.Time) (time.Duration, *Error) {
	exp, ok := jwtExpiry(accessToken)
	if !ok {
		return DefaultExpiresIn, nil
	}
	left := exp.Sub(now).Truncate(time.Second)
	if left < time.Second {
		return 0, protocolError("expires_in is missing and the token's exp claim is in the past")
	}
	return left, nil
}

// jwtExpiry reads a JWT's exp claim without verifying it: only a hint of lifetime.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > 16<<10 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}, false
	}
	exp, err := claims.Exp.Int64()
	if err != nil || exp <= 0 {
		return time.Time{}, false
	}
	return time.Unix(exp, 0), true
}

func scopeOf(v any) (string, *Error) {
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.Join(strings.Fields(s), " "), nil
	case []any:
		parts := make([]string, 0, len(s))
		for _, item := range s {
			str, ok := item.(string)
			if !ok {
				return "", protocolError("scope list holds a non-string item")
			}
			parts = append(parts, strings.Fields(str)...)
		}
		return strings.Join(parts, " "), nil
	default:
		return "", protocolError(fmt.Sprintf("scope has type %T", v))
	}
}

// Clip shortens s to n bytes and marks the cut, so a message never quotes
// more of an input than it needs. The plugin's one clip.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// refreshTokenIn reads refresh_token from a token answer that oauth2 refused
// (no access_token, say): when the server rotated, it is the only copy.
func refreshTokenIn(body []byte, contentType string) string {
	if len(body) == 0 {
		return ""
	}
	var fields struct {
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &fields) == nil {
		return fields.RefreshToken
	}
	if vals, err := url.ParseQuery(string(body)); err == nil && strings.Contains(contentType, "urlencoded") {
		return vals.Get("refresh_token")
	}
	return ""
}
