package fakeresamania

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
)

// SignInAsMember does what a member's browser does with a login URL the plugin
// issued: it posts the member's username and password to the login page and
// returns the code and state that the redirect back to the app carries.
func (s *Server) SignInAsMember(loginURL, username, password string) (code, state string, err error) {
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if pemCert := s.CACertPEM(); pemCert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(pemCert)) {
			return "", "", fmt.Errorf("the fake's own certificate does not parse")
		}
		browser.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	resp, err := browser.PostForm(loginURL, url.Values{"username": {username}, "password": {password}})
	if err != nil {
		return "", "", fmt.Errorf("posting the login form: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", "", fmt.Errorf("the login page answered %d, not a redirect back to the app", resp.StatusCode)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", "", fmt.Errorf("the redirect back to the app: %w", err)
	}
	return back.Query().Get("code"), back.Query().Get("state"), nil
}
