package e2e

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// credsPath is the member's credential.
const credsPath = credsPrefix + member

// newCredsStack is a stack whose access tokens live accessLife seconds, with
// the chain configured.
func newCredsStack(t *testing.T, accessLife int) *stack {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}, expiresIn: accessLife})
	st.configure(t)
	return st
}

// signIn: the login URL from the plugin, the member's browser step, the code
// and state written back through the CLI. Returns the code.
func (st *stack) signIn(t *testing.T, name string) string {
	t.Helper()
	out := st.vault.MustCLI(t, "write", "-format=json", mount+"/auth-code-url/"+chain, "name="+name, "redirect_uri="+redirectURI)
	var issued struct{ Data struct{ URL, State string } }
	require.NoError(t, json.Unmarshal([]byte(out), &issued))
	code := memberSignsIn(t, st.fake, issued.Data.URL, issued.Data.State)
	st.vault.MustCLI(t, "write", credsPrefix+name, "code="+code, "redirect_uri="+redirectURI, "state="+issued.Data.State)
	return code
}

func (st *stack) readCred(t *testing.T, name string) tokenRead {
	t.Helper()
	return st.readLeased(t, credsPrefix+name)
}

func TestSignInFlowAndRefreshOnARealVault(t *testing.T) {
	st := newCredsStack(t, 6)
	code := st.signIn(t, member)

	first := st.readCred(t, member)
	require.True(t, st.fake.AccessTokenValid(first.Data.AccessToken))
	require.NotEmpty(t, first.LeaseID)
	require.InDelta(t, 5, first.LeaseDuration, 1, "lease: 6 s less the 1 s margin, in whole seconds")
	require.Less(t, first.LeaseDuration, first.Data.ExpiresIn+1)
	raw := st.vault.MustCLI(t, "read", "-format=json", credsPath)
	for _, rt := range st.fake.IssuedRefreshTokens() {
		require.NotContains(t, raw, rt, "a read never returns the refresh token")
	}

	time.Sleep(5 * time.Second) // past the refresh point
	second := st.readCred(t, member)
	require.NotEqual(t, first.Data.AccessToken, second.Data.AccessToken)
	require.True(t, st.fake.AccessTokenValid(second.Data.AccessToken))
	require.Equal(t, 1, st.fake.TokenRequests(chain, "refresh_token"))

	status := st.vault.ReadJSON(t, credsPath+"/status")["data"].(map[string]any)
	require.Equal(t, "active", status["state"])
	require.EqualValues(t, 1, status["refreshes"])
	require.JSONEq(t, `["alice"]`, st.vault.MustCLI(t, "list", "-format=json", mount+"/creds/"+chain))

	// The code is single use: a second exchange is a clear 400.
	_, stderr, err := st.vault.CLI(t, "write", credsPrefix+"bob", "code="+code, "redirect_uri="+redirectURI, "state="+issueState(t, st.vault.Client, mount, chain, "bob"))
	require.Error(t, err)
	require.Contains(t, stderr, "Code: 400")
	require.Contains(t, stderr, "sign in again")
	require.NotContains(t, stderr, code)
	require.NotContains(t, st.vault.Log(), code)
	require.NotContains(t, st.vault.Log(), memberPassword)
}

func TestImportAndConcurrentReadsRefreshOnce(t *testing.T) {
	st := newCredsStack(t, 4)
	st.configure(t, "request_timeout=60") // the held refresh must outlast the wait for every reader
	// A refresh token the app got on its own, outside the plugin, through the gateway.
	imported := appRefreshToken(t, st.fake)
	st.vault.MustCLI(t, "write", credsPath, "refresh_token="+imported)
	require.Equal(t, 1, st.fake.TokenRequests(chain, "refresh_token"), "an import proves the token at once")
	st.readCred(t, member)

	time.Sleep(4 * time.Second) // expired
	// The refresh is held open at the fake until all 200 reads have reached
	// Vault: they find it in flight, and wait for it.
	tok := readWithFirstMintHeld(t, st.fake, st.audit, []*api.Client{st.vault.Client}, 200, credsPath, "refresh_token")
	require.True(t, st.fake.AccessTokenValid(tok))
	require.Equal(t, 2, st.fake.TokenRequests(chain, "refresh_token"), "200 readers, one refresh")
}

func TestPluginReloadInTheMiddleOfUse(t *testing.T) {
	st := newCredsStack(t, 4)
	st.signIn(t, member)
	st.readCred(t, member)

	// Readers keep reading while the plugin reloads; some reads may fail
	// during the reload, but no refresh token is ever spent twice.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = st.vault.Client.Logical().Read(credsPath)
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	deadline := time.Now().Add(12 * time.Second)
	for time.Now().Before(deadline) {
		st.vault.ReloadPlugin(t, st.plugin)
		time.Sleep(1500 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	time.Sleep(4 * time.Second)
	after := st.readCred(t, member)
	require.True(t, st.fake.AccessTokenValid(after.Data.AccessToken))
	require.GreaterOrEqual(t, st.fake.TokenRequests(chain, "refresh_token"), 2)
	for _, r := range st.fake.Requests() {
		if r.GrantType == "refresh_token" {
			require.Equal(t, http.StatusOK, r.Status, "a refresh token was sent twice (invalid_grant)")
		}
	}
	status := st.vault.ReadJSON(t, credsPath+"/status")["data"].(map[string]any)
	require.Equal(t, "active", status["state"])
}
