package upstream

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// NormalizeBaseURL checks an operator's api_base_url and returns its canonical
// form: scheme, host, optional gateway path prefix, no trailing slash. A bare
// host (as Resamania's docs write it) means https; plain http is accepted only
// for a loopback host, so credentials never cross a network in clear text.
func NormalizeBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("api_base_url is empty")
	}
	if len(raw) > 2048 {
		return "", fmt.Errorf("api_base_url is longer than 2048 characters")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("api_base_url is not a valid URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", fmt.Errorf("api_base_url must use https (got scheme %q)", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("api_base_url has no host")
	case u.User != nil:
		return "", fmt.Errorf("api_base_url must not carry a user name or password")
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("api_base_url must not carry a query string")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Errorf("api_base_url must not carry a fragment")
	case u.Scheme == "http" && !IsLoopbackHost(u.Hostname()):
		return "", fmt.Errorf("api_base_url must use https; http is allowed only for a loopback host")
	}
	if !validHost(u.Hostname()) {
		return "", fmt.Errorf("api_base_url host %q is not an IP address or a DNS name (write an international name in its xn-- form)", Clip(u.Hostname(), 64))
	}
	if port := u.Port(); port != "" && !isPort(port) {
		return "", fmt.Errorf("api_base_url has an invalid port %q", port)
	}
	for _, seg := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if seg == "." || seg == ".." {
			return "", fmt.Errorf("api_base_url path must not contain %q segments", seg)
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if out := u.String(); len(out) <= 2048 {
		return out, nil
	}
	return "", fmt.Errorf("api_base_url is longer than 2048 characters once escaped")
}

// dnsNameRe is an ASCII host name: labels of letters, digits, '-' and '_'.
var dnsNameRe = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$`)

func validHost(host string) bool {
	return net.ParseIP(host) != nil || (len(host) <= 253 && dnsNameRe.MatchString(host))
}

// TokenURL is the token endpoint of one chain: {base}/{client_token}/oauth/v2/token,
// joined with exactly one slash each.
func TokenURL(baseURL, clientToken string) string {
	return strings.TrimRight(baseURL, "/") + "/" + url.PathEscape(clientToken) + "/oauth/v2/token"
}

// LoginPage is the documented page a member of a chain signs in on:
// {base}/{client_token}/oauth/login.
func LoginPage(baseURL, clientToken string) string {
	return strings.TrimRight(baseURL, "/") + "/" + url.PathEscape(clientToken) + "/oauth/login"
}

// LoginURL is the sign-in page with the authorization_code grant's query in
// the documented order: response_type, client_id, redirect_uri, then state
// and scope when given.
func LoginURL(page, clientID, redirectURI, state, scope string) string {
	q := "response_type=code&client_id=" + url.QueryEscape(clientID) + "&redirect_uri=" + url.QueryEscape(redirectURI)
	if state != "" {
		q += "&state=" + url.QueryEscape(state)
	}
	if scope != "" {
		q += "&scope=" + url.QueryEscape(scope)
	}
	return page + "?" + q
}

// IsLoopbackHost: localhost or a loopback IP, where http never leaves the machine.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isPort(s string) bool {
	if len(s) > 5 {
		return false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n > 0 && n <= 65535
}
