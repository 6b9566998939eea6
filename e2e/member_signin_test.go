package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// memberSignsIn is the member's part of the sign-in: their browser opens the
// login URL the plugin issued, posts the password, and comes back to the app
// with a code and the plugin's state. It returns the code.
func memberSignsIn(t *testing.T, fake *fakeresamania.Server, loginURL, state string) string {
	t.Helper()
	require.True(t, strings.HasPrefix(loginURL, fake.URL()+"/"+chain+"/oauth/login?response_type=code&client_id="+clientID+"&redirect_uri="), loginURL)
	code, back, err := fake.SignInAsMember(loginURL, member, memberPassword)
	require.NoError(t, err)
	require.Equal(t, state, back, "the state comes back unchanged")
	require.NotEmpty(t, code)
	return code
}
