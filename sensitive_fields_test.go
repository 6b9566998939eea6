package resamania

import (
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

// The framework's own type error quotes the value; a secret must never be.
func TestSecretOfWrongTypeIsNotEchoed(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	before := env.dumpStorage()
	const sentinel = "SENTINEL-typed-secret-31aa"
	for _, field := range sensitiveFields {
		for _, v := range []any{map[string]any{"k": sentinel}, []any{sentinel}, nil} {
			data := map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret, field: v}
			for _, path := range []string{"config/" + testChain, "creds/" + testChain + "/alice"} {
				resp, err := env.request(logical.UpdateOperation, path, data)
				require.NoError(t, err)
				require.True(t, resp.IsError(), "%s=%T on %s", field, v, path)
				require.Equal(t, field+" must be a string", resp.Error().Error())

				_, _, err = env.b.HandleExistenceCheck(t.Context(), &logical.Request{Operation: logical.UpdateOperation, Path: path, Data: data, Storage: env.storage})
				require.Error(t, err)
				require.NotContains(t, err.Error(), sentinel)
			}
		}
	}
	require.Equal(t, before, env.dumpStorage())
}
