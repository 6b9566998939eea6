package resamania

import (
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// Secrets follow only the host they were written for. An update that changes
// where the stored client_secret and api_key are sent (api_base_url, or
// ca_pem, which decides who may answer for the host) must write them again,
// else whoever may write a config's other fields could send them, and the
// members' refresh tokens after them, to a host of their choosing. An update
// that changes where members type their passwords (the sign-in page) must
// write client_secret again: it needs the same authority over the chain.

// secretsMoved says why an update of stored to cfg may not be stored
// without the secrets written again in d; nil when it may.
func secretsMoved(chain string, stored, cfg *chainConfig, d *framework.FieldData) error {
	if stored == nil {
		return nil // a create writes every secret it stores
	}
	storedBase, err := upstream.NormalizeBaseURL(stored.APIBaseURL)
	moved := ""
	switch {
	case err != nil || storedBase != cfg.APIBaseURL:
		moved = "api_base_url"
	case stored.CAPEM != cfg.CAPEM:
		moved = "ca_pem"
	}
	if moved != "" {
		need := []string{"client_secret"}
		if stored.APIKey != "" {
			need = append(need, "api_key")
		}
		if !given(d, need...) {
			return fmt.Errorf("%s changes where this chain's %s are sent: write %[2]s again in the same request (secrets follow only the host they were written for). Nothing was sent or stored", moved, strings.Join(need, " and "))
		}
	}
	if stored.loginPage(chain) != cfg.loginPage(chain) && !given(d, "client_secret") {
		return fmt.Errorf("login_url changes where this chain's members type their passwords: write client_secret again in the same request (secrets follow only the host they were written for, and so do members). Nothing was sent or stored")
	}
	return nil
}

// given: the request names every field, even as empty (api_key= removes it).
func given(d *framework.FieldData, fields ...string) bool {
	for _, f := range fields {
		if _, ok := d.GetOk(f); !ok {
			return false
		}
	}
	return true
}
