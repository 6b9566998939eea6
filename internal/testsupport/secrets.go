package testsupport

import (
	"strings"
	"testing"
)

// AssertNoSecret fails t for each secret that text holds, naming where the
// text came from and only the first few characters of the secret.
func AssertNoSecret(t testing.TB, where, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("a secret appears in %s: %.12s...", where, s)
		}
	}
}
