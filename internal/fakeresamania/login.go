package fakeresamania

import (
	"html/template"
	"net/http"
	"net/url"
)

// loginPage stands in for Resamania's sign-in form; it posts back to the
// same URL, query included.
var loginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Resamania - Connexion</title></head>
<body><h1>Connexion</h1>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<label>Identifiant <input name="username" autocomplete="username"></label>
<label>Mot de passe <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Se connecter</button>
</form></body></html>
`))

// serveLogin is {prefix}/{client_token}/oauth/login: GET shows the form,
// POST signs in. A GET with username and password signs in at once, a
// shortcut for scripted tests.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request, clientToken string) {
	q := r.URL.Query()
	c, redirectURI, oerr := s.loginClient(clientToken, q)
	if oerr != nil {
		// Without a trusted redirect_uri the error cannot be sent back.
		s.logf("fakeresamania: login page client_token=%q: %s", clientToken, oerr.code)
		writeJSON(w, http.StatusBadRequest, oerr.body())
		return
	}
	if oerr := checkAuthorizeParams(c, q); oerr != nil {
		redirectWith(w, r, redirectURI, q.Get("state"), url.Values{"error": {oerr.code}, "error_description": {oerr.description}})
		return
	}

	var username, password string
	switch {
	case r.Method == http.MethodGet && !q.Has("username"):
		renderLogin(w, r, "")
		return
	case r.Method == http.MethodGet:
		username, password = q.Get("username"), q.Get("password")
	case r.Method == http.MethodPost:
		_ = r.ParseForm()
		username, password = r.PostForm.Get("username"), r.PostForm.Get("password")
	default:
		w.Header().Set("Allow", "GET, POST")
		writeText(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}

	s.mu.Lock()
	ok := s.memberValidLocked(clientToken, username, password)
	code := ""
	if ok {
		code = s.newCodeLocked(clientToken, c.ClientID, redirectURI, username, q.Get("scope"))
	}
	s.mu.Unlock()
	if !ok {
		s.logf("fakeresamania: login failed client_token=%q", clientToken)
		renderLogin(w, r, "Identifiant ou mot de passe invalide.")
		return
	}
	redirectWith(w, r, redirectURI, q.Get("state"), url.Values{"code": {code}})
}

// loginClient checks what the library checks before it trusts the
// redirect_uri: the client, then the redirect URI (required, registered).
func (s *Server) loginClient(clientToken string, q url.Values) (Client, string, *oauthError) {
	if q.Get("client_id") == "" {
		return Client{}, "", errorf("invalid_request", "No client id supplied")
	}
	s.mu.Lock()
	c, ok := s.findClientLocked(clientToken, q.Get("client_id"))
	s.mu.Unlock()
	if !ok {
		return Client{}, "", errorf("invalid_client", "Unknown client")
	}
	redirectURI := q.Get("redirect_uri")
	switch {
	case redirectURI == "" && len(c.RedirectURIs) == 0:
		return Client{}, "", errorf("redirect_uri_mismatch", "No redirect URL was supplied or registered.")
	case redirectURI == "":
		return Client{}, "", errorf("redirect_uri_mismatch", "The redirect URI is mandatory and was not supplied.")
	case !redirectURIValid(redirectURI, c.RedirectURIs):
		return Client{}, "", errorf("redirect_uri_mismatch", "The redirect URI provided does not match registered URI(s).")
	}
	return c, redirectURI, nil
}

// checkAuthorizeParams holds the errors that go back to the redirect URI.
func checkAuthorizeParams(c Client, q url.Values) *oauthError {
	switch q.Get("response_type") {
	case "":
		return errorf("invalid_request", "Invalid response type.")
	case "code":
	default:
		return errorf("unsupported_response_type", "")
	}
	if !c.allowsScopes(q.Get("scope")) {
		return errorf("invalid_scope", "An unsupported scope was requested.")
	}
	return nil
}

// redirectWith sends the browser to redirectURI with params (and state if
// given) appended to any query it already has, as the library's buildUri does.
func redirectWith(w http.ResponseWriter, r *http.Request, redirectURI, state string, params url.Values) {
	if state != "" {
		params.Set("state", state)
	}
	if params.Get("error_description") == "" {
		params.Del("error_description")
	}
	u, err := url.Parse(redirectURI)
	if err != nil {
		writeText(w, http.StatusBadRequest, "bad redirect_uri")
		return
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += params.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func renderLogin(w http.ResponseWriter, r *http.Request, errMsg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, struct{ Action, Error string }{r.URL.RequestURI(), errMsg})
}
