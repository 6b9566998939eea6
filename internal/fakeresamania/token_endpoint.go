package fakeresamania

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
)

// maxTokenBody bounds what the token endpoint reads.
const maxTokenBody = 1 << 20

// serveToken is {prefix}/{client_token}/oauth/v2/token, POST or GET.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, clientToken string) {
	defer s.enter()()
	form, jsonBody := readTokenBody(w, r)
	rec := s.record(r, clientToken, form, jsonBody)
	var status int
	if refusal := s.passGateway(rec, w.Header()); refusal != nil {
		status = refusal.write(w) // the OAuth server never sees it
	} else if refused, body := s.endpointRefusal(clientToken); refused != 0 {
		status = refused
		writeRaw(w, status, "application/json", body)
	} else {
		status = s.answerToken(w, r, rec, form)
	}
	s.setStatus(rec, status, r.Context().Err() != nil)
	// client_token and grant_type only: the form holds secrets.
	s.logf("fakeresamania: token request client_token=%q grant_type=%q status=%d", clientToken, rec.GrantType, status)
}

// answerToken writes the answer, faults included, and returns its status.
func (s *Server) answerToken(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, form url.Values) int {
	clientToken := rec.ClientToken
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		// FOSOAuthServerBundle's token route takes GET and POST.
		w.Header().Set("Allow", "GET, POST")
		writeText(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return http.StatusMethodNotAllowed
	}
	f := s.takeFault(form.Get("grant_type"))
	f.gate(BeforeProcessing, form, nil, w.Header())
	if f != nil && !f.AfterProcessing {
		if !s.pause(r, f) {
			resetConnection(w)
			return 0
		}
		if f.Status == http.StatusTooManyRequests {
			return s.faultRefusal(rec, w.Header(), f).write(w)
		}
		if f.answersInstead() {
			return writeFaultAnswer(w, f)
		}
	}

	user, pass, _ := r.BasicAuth()
	status, body := http.StatusOK, []byte(nil)
	resp, oerr := s.grant(tokenRequest{clientToken: clientToken, form: form, basicUser: user, basicPass: pass})
	if oerr != nil {
		status, body = http.StatusBadRequest, oerr.body()
	} else {
		body, _ = json.Marshal(resp)
		if rt, _ := resp["refresh_token"].(string); rt != "" {
			s.setIssued(rec, rt)
		}
	}
	f.gate(AfterProcessing, form, body, w.Header())
	if f == nil {
		writeJSON(w, status, body)
		return status
	}

	if f.AfterProcessing {
		// The grant has happened: whatever goes wrong now loses its answer.
		if !s.pause(r, f) {
			resetConnection(w)
			return 0
		}
		if f.answersInstead() {
			return writeFaultAnswer(w, f)
		}
	}
	if f.Override != nil {
		body = overrideJSON(body, f.Override)
	}
	if f.Truncate {
		return writeTruncated(w, status, body)
	}
	writeJSON(w, status, body)
	return status
}

// readTokenBody reads what the library reads (oauth2-php's
// grantAccessToken): a GET's query parameters; a POST's body, urlencoded,
// multipart or JSON, and not its query parameters.
func readTokenBody(w http.ResponseWriter, r *http.Request) (form url.Values, jsonBody bool) {
	if r.Method == http.MethodGet {
		return r.URL.Query(), false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "application/json":
		return readJSONForm(r), true
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxTokenBody); err != nil || r.MultipartForm == nil {
			return url.Values{}, false
		}
		return url.Values(r.MultipartForm.Value), false
	}
	if err := r.ParseForm(); err != nil || r.PostForm == nil {
		return url.Values{}, false
	}
	return r.PostForm, false
}

// readJSONForm keeps a JSON object's scalar members, as PHP's filters do;
// a malformed body reads as empty.
func readJSONForm(r *http.Request) url.Values {
	form := url.Values{}
	var obj map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if dec.Decode(&obj) != nil {
		return form
	}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			form.Set(k, v)
		case json.Number, bool:
			form.Set(k, fmt.Sprint(v))
		}
	}
	return form
}
