package resamania

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
)

// maxEmailLen is RFC 5321's limit on a forward path.
const maxEmailLen = 254

// contact names a member for member-scoped tokens: the operator writes the
// email once, and tokens are then read by name, so the email never appears in
// a URL, a lease id or a log line. JSON tags are the storage format.
type contact struct {
	Email string `json:"email"`
}

func getContact(ctx context.Context, s logical.Storage, chain, name string) (*contact, error) {
	return getJSON[contact](ctx, s, contactKey(chain, name), fmt.Sprintf("contact %q of chain %q", name, chain))
}

func putContact(ctx context.Context, s logical.Storage, chain, name string, c *contact) error {
	return putJSON(ctx, s, contactKey(chain, name), fmt.Sprintf("contact %q of chain %q", name, chain), c)
}

// validateEmail accepts one bare address (no display name); the message
// never quotes it.
func validateEmail(email string) error {
	if email == "" {
		return fmt.Errorf("email is required")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" || len(email) > maxEmailLen || strings.ContainsAny(email, " \t\r\n") {
		return fmt.Errorf("email must be one bare address such as member@example.com, at most %d characters", maxEmailLen)
	}
	return nil
}
