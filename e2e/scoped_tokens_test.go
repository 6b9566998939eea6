package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

func TestClubTokenIsCachedPerClubWithALeaseUnderItsPath(t *testing.T) {
	st := newScopedStack(t)

	first := st.readLeased(t, clubsPrefix+"12")
	require.True(t, st.fake.AccessTokenValid(first.Data.AccessToken))
	require.Equal(t, "/"+chain+"/clubs/12", first.Data.ClubID, "the club's IRI, for x-user-club-id")
	require.Equal(t, st.fake.URL(), first.Data.APIBaseURL)
	require.True(t, strings.HasPrefix(first.LeaseID, clubsPrefix+"12/"), first.LeaseID)

	second := st.readLeased(t, clubsPrefix+"12")
	require.Equal(t, first.Data.AccessToken, second.Data.AccessToken)
	require.Equal(t, 1, st.fake.TokenRequests(chain, clubGrant), "the second read is served from the cache")
	for _, r := range st.fake.Requests() {
		require.Equal(t, "/"+chain+"/clubs/12", r.Form.Get("clubId"), "the grant names the club by its IRI")
	}
}

func TestClubPoliciesGrantOneClubOrAGlobOfThem(t *testing.T) {
	st := newScopedStack(t)
	// Root reads all three, so a refusal below is the policy's, not Resamania's.
	tok12 := readAccessToken(t, st.vault.Client, clubsPrefix+"12")
	tok13 := readAccessToken(t, st.vault.Client, clubsPrefix+"13")
	readAccessToken(t, st.vault.Client, clubsPrefix+"21")
	require.NotEqual(t, tok12, tok13, "one token per club")

	one := st.clientAs(t, st.tokenWithPolicy(t, "club12", `path "`+clubsPrefix+`12" { capabilities = ["read"] }`))
	require.Equal(t, tok12, readAccessToken(t, one, clubsPrefix+"12"))
	requireDenied(t, one, clubsPrefix+"13")
	requireDenied(t, one, clubsPrefix+"21")
	requireDenied(t, one, tokenPath)

	glob := st.clientAs(t, st.tokenWithPolicy(t, "clubs1x", `path "`+clubsPrefix+`1*" { capabilities = ["read"] }`))
	require.Equal(t, tok12, readAccessToken(t, glob, clubsPrefix+"12"))
	require.Equal(t, tok13, readAccessToken(t, glob, clubsPrefix+"13"))
	requireDenied(t, glob, clubsPrefix+"21")
	require.Equal(t, 3, st.fake.TokenRequests(chain, clubGrant), "one mint per club, whoever reads")
}

func TestUnknownClubIsA400ThroughTheCLI(t *testing.T) {
	st := newScopedStack(t)
	stderr := st.cliFails(t, "read", clubsPrefix+"99")
	require.Contains(t, stderr, "Code: 400")
	require.Contains(t, stderr, `Resamania does not know club 99 of chain "mychain"`)
	require.Contains(t, stderr, "check club_id")
	require.Positive(t, st.fake.TokenRequests(chain, clubGrant), "Resamania was asked, and refused")
}

// The email is named once, at contacts/; everything else says the contact's
// name. The stack's scan at cleanup looks for both emails in the server log,
// the audit log and every CLI stderr.
func TestContactTokenNeverShowsTheEmail(t *testing.T) {
	st := newScopedStack(t)
	st.vault.MustCLI(t, "write", contactsPrefix+"bob", "email="+memberEmail)
	st.vault.MustCLI(t, "write", contactsPrefix+"carol", "email="+unknownEmail)
	require.Equal(t, memberEmail, st.vault.ReadJSON(t, contactsPrefix+"bob")["data"].(map[string]any)["email"])
	require.JSONEq(t, `["bob","carol"]`, st.vault.MustCLI(t, "list", "-format=json", contactsPrefix))

	first := st.readLeased(t, contactTokens+"bob")
	require.True(t, st.fake.AccessTokenValid(first.Data.AccessToken))
	require.True(t, strings.HasPrefix(first.LeaseID, contactTokens+"bob/"), first.LeaseID)
	require.NotContains(t, first.LeaseID, memberEmail)
	require.Equal(t, first.Data.AccessToken, st.readLeased(t, contactTokens+"bob").Data.AccessToken)
	require.Equal(t, 1, st.fake.TokenRequests(chain, contactGrant), "the second read is served from the cache")
	for _, r := range st.fake.Requests() {
		require.Equal(t, memberEmail, r.Form.Get("email"), "the email did reach the plugin's grant, so hiding it is not trivial")
	}

	// An email Resamania does not know: the error names the contact only.
	stderr := st.cliFails(t, "read", contactTokens+"carol")
	require.Contains(t, stderr, "Code: 400")
	require.Contains(t, stderr, `contact "carol" of chain "mychain"`)
	require.Contains(t, stderr, "check the email at contacts/mychain/carol")
	require.NotContains(t, stderr, unknownEmail)
	require.Equal(t, 2, st.fake.TokenRequests(chain, contactGrant))

	// A deleted contact's cached token is not served.
	st.vault.MustCLI(t, "delete", contactsPrefix+"bob")
	stderr = st.cliFails(t, "read", contactTokens+"bob")
	require.Contains(t, stderr, "Code: 400")
	require.Contains(t, stderr, `no contact "bob"`)

	// The emails went through the audit device, hashed: its raw scan means something.
	log := st.vault.Log()
	require.Contains(t, log, "minted a scoped token", "the plugin's lines reach the server log the scan reads")
	require.Contains(t, log, "scoped grant failed")
	audit := vaultharness.ReadLog(st.audit)
	for _, email := range []string{memberEmail, unknownEmail} {
		hash, err := st.vault.Client.Sys().AuditHash("file", email)
		require.NoError(t, err)
		require.Contains(t, audit, hash)
	}
}

func TestOnlyTheChainTokenReadSharesTheAPIKeyWhenAsked(t *testing.T) {
	st := newScopedStack(t)
	st.vault.MustCLI(t, "write", contactsPrefix+"bob", "email="+memberEmail)
	paths := []string{tokenPath, clubsPrefix + "12", contactTokens + "bob"}
	readData := func(path string) map[string]any {
		return st.vault.ReadJSON(t, path)["data"].(map[string]any)
	}

	for _, p := range paths {
		data := readData(p)
		require.Equal(t, st.fake.URL(), data["api_base_url"], p)
		require.NotContains(t, data, "api_key", "%s: not shared unless the chain says so", p)
	}

	st.vault.MustCLI(t, "write", configPath, "share_api_key=true")
	require.Equal(t, gatewayKey, readData(tokenPath)["api_key"], "the chain's own token read shares it")
	for _, p := range paths[1:] {
		data := readData(p)
		require.NotContains(t, data, "api_key", "%s: a club's or a contact's reader never gets the gateway key", p)
		require.Equal(t, st.fake.URL(), data["api_base_url"], p)
	}
	require.NotContains(t, st.vault.MustCLI(t, "read", configPath), gatewayKey, "the config read still hides it")

	st.vault.MustCLI(t, "write", configPath, "share_api_key=false")
	for _, p := range paths {
		require.NotContains(t, readData(p), "api_key", "%s: no longer shared", p)
	}
}

func TestScopedTokensAreDroppedOnAConfigChange(t *testing.T) {
	st := newScopedStack(t)
	st.vault.MustCLI(t, "write", contactsPrefix+"bob", "email="+memberEmail)
	club := readAccessToken(t, st.vault.Client, clubsPrefix+"12")
	member := readAccessToken(t, st.vault.Client, contactTokens+"bob")
	readAccessToken(t, st.vault.Client, clubsPrefix+"12")
	readAccessToken(t, st.vault.Client, contactTokens+"bob")
	require.Equal(t, 1, st.fake.TokenRequests(chain, clubGrant))
	require.Equal(t, 1, st.fake.TokenRequests(chain, contactGrant))

	st.vault.MustCLI(t, "write", configPath, "scope=read")
	require.NotEqual(t, club, readAccessToken(t, st.vault.Client, clubsPrefix+"12"))
	require.NotEqual(t, member, readAccessToken(t, st.vault.Client, contactTokens+"bob"))
	require.Equal(t, 2, st.fake.TokenRequests(chain, clubGrant), "the club token was minted again")
	require.Equal(t, 2, st.fake.TokenRequests(chain, contactGrant), "the member token was minted again")
}
