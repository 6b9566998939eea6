package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/vaultharness"
)

// TestLeaseModesThroughTheCLI: each lease_mode read, renewed and revoked
// through the server's own CLI (vault or bao). A renewable lease renews up
// to its end and no further; a non-renewable one refuses a renewal; both
// revoke, leaving the shared token in place; an unleased read has no lease
// and says when to read again.
func TestLeaseModesThroughTheCLI(t *testing.T) {
	st := newStack(t, stackOptions{vault: vaultharness.Options{Dev: true}})

	st.configure(t, "lease_mode=renewable")
	r := st.readToken(t)
	require.True(t, r.Renewable)
	require.NotEmpty(t, r.LeaseID)
	out := st.vault.MustCLI(t, "lease", "renew", "-format=json", "-increment=24h", r.LeaseID)
	var renewed struct {
		LeaseID       string `json:"lease_id"`
		LeaseDuration int    `json:"lease_duration"`
		Renewable     bool   `json:"renewable"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &renewed), out)
	require.Equal(t, r.LeaseID, renewed.LeaseID)
	require.Positive(t, renewed.LeaseDuration)
	require.LessOrEqual(t, renewed.LeaseDuration, r.LeaseDuration, "a renewal never goes past the lease's end, a margin before the token expires")
	st.vault.MustCLI(t, "lease", "revoke", r.LeaseID)
	_, _, err := st.vault.CLI(t, "lease", "renew", r.LeaseID)
	require.Error(t, err, "a revoked lease does not renew")
	require.Equal(t, r.Data.AccessToken, st.readToken(t).Data.AccessToken, "revoking a lease leaves the shared token")

	st.configure(t, "lease_mode=non_renewable")
	r = st.readToken(t)
	require.False(t, r.Renewable)
	require.NotEmpty(t, r.LeaseID)
	_, stderr, err := st.vault.CLI(t, "lease", "renew", r.LeaseID)
	require.Error(t, err, "a non-renewable lease refuses a renewal")
	require.Contains(t, stderr, "not renewable")
	st.vault.MustCLI(t, "lease", "revoke", r.LeaseID)

	st.configure(t, "lease_mode=none")
	data := st.vault.ReadJSON(t, tokenPath)
	require.Empty(t, data["lease_id"])
	fields, _ := data["data"].(map[string]any)
	require.True(t, st.fake.AccessTokenValid(fields["access_token"].(string)))
	require.Positive(t, fields["ttl"], "an unleased read says when to read again")
	// ttl is rotation_period less the time since the token's issue, never more.
	require.LessOrEqual(t, fields["ttl"], fields["rotation_period"])
	issued, err := time.Parse(time.RFC3339Nano, fields["last_vault_rotation"].(string))
	require.NoError(t, err)
	since := time.Since(issued).Seconds()
	require.InDelta(t, fields["rotation_period"].(float64)-since, fields["ttl"], 2, "ttl is rotation_period less the %.0f s since the token's issue", since)
}
