package fakeresamania

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

var b64 = base64.RawURLEncoding

// signJWT makes an HS256 JWT. Nothing verifies its signature but this
// server: the point is that access tokens look like Resamania's.
func (s *Server) signJWT(claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic("fakeresamania: JWT claims do not encode: " + err.Error())
	}
	signingInput := b64.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`)) + "." + b64.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.jwtKey)
	mac.Write([]byte(signingInput))
	return signingInput + "." + b64.EncodeToString(mac.Sum(nil))
}

// randomString returns n random bytes, base64url: unguessable tokens and codes.
func randomString(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails
	return b64.EncodeToString(buf)
}
