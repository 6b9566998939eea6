package resamania

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/hashicorp/go-secure-stdlib/parseutil"
	"github.com/hashicorp/vault/sdk/framework"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// A config read returns each field as it was written. Terraform's and
// OpenTofu's vault_generic_endpoint compare what they wrote with what they
// read back, so a normal form in the read (a trailing slash dropped, "24h"
// read as 86400) would show its user, on every plan, a change nobody made.
// The config keeps each field in its normal form, which is all the plugin
// uses; Written keeps beside it the text an operator wrote, for the fields
// below, only while the two differ and the text still names the stored value.

// writtenTextFields may be written in another form than the one stored.
var writtenTextFields = []string{
	"api_base_url", "client_id", "scope", "ca_pem", "lease_mode", "login_url",
	"request_timeout", "refresh_token_ttl",
}

// keepWrittenForms runs on a validated config: for each field of
// writtenTextFields the write named as a string, it keeps that text when a
// read would otherwise show another; then it drops any text kept before that
// no longer names the stored value (a lease_mode that no_lease changed).
// Fields written in another type than a string (a number of seconds, a list,
// a bool) read back in their one form.
func (c *chainConfig) keepWrittenForms(chain string, d *framework.FieldData) {
	written := maps.Clone(c.Written) // the stored config's map is not ours to change
	if written == nil {
		written = map[string]string{}
	}
	normal := c.readFields(chain) // what a read shows when nothing else was written
	for _, name := range writtenTextFields {
		raw, named := d.Raw[name]
		if !named {
			continue
		}
		delete(written, name)
		if text, ok := raw.(string); ok && text != fmt.Sprint(normal[name]) {
			written[name] = text
		}
	}
	maps.DeleteFunc(written, func(name, text string) bool { return !c.namesStored(name, text) })
	c.Written = nil
	if len(written) > 0 {
		c.Written = written
	}
}

// namesStored: text, normalised as a write normalises it, is the stored value.
func (c *chainConfig) namesStored(name, text string) bool {
	switch name {
	case "api_base_url":
		base, err := upstream.NormalizeBaseURL(text)
		return err == nil && base == c.APIBaseURL
	case "client_id":
		return strings.TrimSpace(text) == c.ClientID
	case "scope":
		scope, err := validateScope(strings.TrimSpace(text))
		return err == nil && scope == c.Scope
	case "ca_pem":
		return strings.TrimSpace(text) == c.CAPEM
	case "lease_mode":
		return strings.TrimSpace(text) == c.leaseMode()
	case "login_url":
		return strings.TrimSpace(text) == c.LoginURL
	case "request_timeout":
		return durationIs(text, c.RequestTimeout)
	case "refresh_token_ttl":
		return durationIs(text, c.refreshTokenTTL())
	}
	return false
}

// durationIs: text, read as Vault reads a TypeDurationSecond field, is want
// in whole seconds.
func durationIs(text string, want time.Duration) bool {
	d, err := parseutil.ParseDurationSecond(text)
	return err == nil && d.Truncate(time.Second) == want
}

// readAsWritten puts back into a config read the text each field was written as.
func (c *chainConfig) readAsWritten(data map[string]any) {
	for name, text := range c.Written {
		if _, ok := data[name]; ok {
			data[name] = text
		}
	}
}
