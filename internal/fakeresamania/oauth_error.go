package fakeresamania

import (
	"encoding/json"
	"net/http"
)

// oauthError is a token-endpoint error: always HTTP 400 with a JSON body.
type oauthError struct {
	code        string
	description string // "" is sent as null
}

func errorf(code, description string) *oauthError {
	return &oauthError{code: code, description: description}
}

// body is the library's JSON: {"error": ..., "error_description": ... or null}.
func (e *oauthError) body() []byte {
	var desc *string
	if e.description != "" {
		desc = &e.description
	}
	b, _ := json.Marshal(struct {
		Error       string  `json:"error"`
		Description *string `json:"error_description"`
	}{e.code, desc})
	return b
}

// writeJSON answers with the library's JSON headers.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	setJSONHeaders(w.Header())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func setJSONHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
