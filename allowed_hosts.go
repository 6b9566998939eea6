package resamania

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// allowedHostsEnv names the variable of the plugin's environment that lists
// the hosts a config may send a chain's secrets to, and its members to sign
// in on. It is set when the plugin is registered in the catalog (vault plugin
// register -env), which only catalog admins may do, never through a mount:
// so whoever may write a config cannot widen it.
const allowedHostsEnv = "RESAMANIA_ALLOWED_HOSTS"

// allowedHosts is the list of allowedHostsEnv, read once when the backend is
// created: exact hosts, and *.domain for any subdomain of domain (not domain
// itself). Unset or empty allows any host. Loopback is not special: allowed
// only when listed.
type allowedHosts struct {
	set      bool
	exact    map[string]bool
	suffixes []string // ".resamania.com" for *.resamania.com
	bad      string   // an entry that is no host: then nothing is allowed
}

var allowedHostRe = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`)

func allowedHostsFromEnv() allowedHosts { return parseAllowedHosts(os.Getenv(allowedHostsEnv)) }

// parseAllowedHosts reads a comma-separated list; a bad entry fails closed,
// so that a typo in the registration cannot lift the restriction.
func parseAllowedHosts(list string) allowedHosts {
	h := allowedHosts{exact: map[string]bool{}}
	for _, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		h.set = true
		host, wildcard := strings.CutPrefix(canonicalHost(entry), "*.")
		if !allowedHostRe.MatchString(host) && net.ParseIP(host) == nil {
			if h.bad == "" {
				h.bad = entry
			}
			continue
		}
		if wildcard {
			h.suffixes = append(h.suffixes, "."+host)
		} else {
			h.exact[host] = true
		}
	}
	return h
}

// canonicalHost lower-cases a host and drops an IPv6 literal's brackets and
// a DNS name's final dot.
func canonicalHost(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

func (h allowedHosts) allows(host string) bool {
	if !h.set {
		return true
	}
	if h.bad != "" {
		return false
	}
	host = canonicalHost(host)
	if h.exact[host] {
		return true
	}
	for _, s := range h.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// check refuses a config whose API or sign-in page is on a host the list
// leaves out.
func (h allowedHosts) check(cfg *chainConfig, chain string) error {
	if !h.set {
		return nil
	}
	if h.bad != "" {
		return fmt.Errorf("%s holds %q, which is not a host or *.domain, so no config is accepted: ask who registers the plugin to fix the list", allowedHostsEnv, clip(h.bad, 64))
	}
	for _, page := range []struct{ field, url, sends string }{
		{"api_base_url", cfg.APIBaseURL, "chains' secrets are sent to"},
		{"login_url", cfg.loginPage(chain), "members are sent to sign in on"},
	} {
		u, err := url.Parse(page.url)
		if err != nil || !h.allows(u.Hostname()) {
			host := ""
			if err == nil {
				host = u.Hostname()
			}
			return fmt.Errorf("%s host %q is not in %s, the hosts %s (set where the plugin is registered): use a listed host, or ask who registers the plugin to add it", page.field, clip(host, 80), allowedHostsEnv, page.sends)
		}
	}
	return nil
}
