package resamania

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// vsoStaticCredsMeta mirrors what the Vault Secrets Operator decodes from a
// VaultDynamicSecret read with allowStaticCreds (its staticCredsMeta): it
// re-reads after ttl, and needs rotation_period and last_vault_rotation.
type vsoStaticCredsMeta struct {
	LastVaultRotation time.Time `json:"last_vault_rotation"`
	RotationPeriod    int64     `json:"rotation_period"`
	TTL               int64     `json:"ttl"`
}

// TestUnleasedReadDecodesAsVSOStaticCreds: Kubernetes cannot run here, so the
// part of the VSO integration tested is what it decodes, as it decodes it.
func TestUnleasedReadDecodesAsVSOStaticCreds(t *testing.T) {
	env := getTestBackend(t)
	env.configure(map[string]any{"lease_mode": "none"})
	resp := env.readToken(nil)
	raw, err := json.Marshal(resp.Data)
	require.NoError(t, err)
	var meta vsoStaticCredsMeta
	require.NoError(t, json.Unmarshal(raw, &meta))
	require.Equal(t, env.clock.Now().UTC(), meta.LastVaultRotation.UTC())
	require.Equal(t, int64(2400), meta.RotationPeriod, "the next token, 2/3 into a 3600 s life")
	require.Equal(t, int64(2400), meta.TTL, "read at issue")
	require.Positive(t, meta.RotationPeriod, "VSO refuses static creds without a rotation period")

	// The example manifest asks for what this test decodes.
	manifest, err := os.ReadFile("examples/vso-vaultdynamicsecret.yaml")
	require.NoError(t, err)
	for _, want := range []string{"kind: VaultDynamicSecret", "mount: resamania", "path: token/mychain", "allowStaticCreds: true"} {
		require.True(t, strings.Contains(string(manifest), want), "the VSO example lacks %q", want)
	}
}
