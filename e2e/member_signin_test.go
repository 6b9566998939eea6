package e2e

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// issueState starts the sign-in of credential name of chainName on mountPath, as
// an app must before it writes a code it got some other way: a code's write
// needs a state issued for its credential. It returns the state.
func issueState(t *testing.T, c *api.Client, mountPath, chainName, name string) string {
	t.Helper()
	sec, err := c.Logical().Write(mountPath+"/auth-code-url/"+chainName, map[string]any{"name": name, "redirect_uri": redirectURI})
	require.NoError(t, err, "state for %s on %s", name, mountPath)
	require.NotNil(t, sec)
	state, _ := sec.Data["state"].(string)
	require.NotEmpty(t, state)
	return state
}

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
