package resamania

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"
)

var (
	issued  = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	expires = issued.Add(time.Hour)
)

// storedKinds is every kind of stored entry: its key, the JSON that plugin
// versions before format versions wrote for it (format 0, kept literally so
// a change to a struct cannot rewrite the past), the value it means, and
// how the plugin reads and writes it.
var storedKinds = []struct {
	name  string
	key   string
	old   string
	value any
	get   func(ctx context.Context, s logical.Storage, key string) (any, error)
}{
	{
		name:  "chain config",
		key:   configStoragePrefix + "mychain",
		old:   `{"api_base_url":"https://api.example","client_id":"1_a","client_secret":"s","api_key":"k","request_timeout":10000000000,"no_lease":false,"lease_mode":"renewable","refresh_token_ttl":3600000000000}`,
		value: &chainConfig{APIBaseURL: "https://api.example", ClientID: "1_a", ClientSecret: "s", APIKey: "k", RequestTimeout: 10 * time.Second, LeaseMode: leaseRenewable, RefreshTokenTTL: time.Hour},
		get: func(ctx context.Context, s logical.Storage, _ string) (any, error) {
			return getChainConfig(ctx, s, "mychain")
		},
	},
	{
		name:  "cached token",
		key:   tokenStoragePrefix + "mychain",
		old:   `{"access_token":"at","token_type":"bearer","issued_at":"2025-03-01T10:00:00Z","expires_at":"2025-03-01T11:00:00Z","config_fingerprint":"f"}`,
		value: &cachedToken{AccessToken: "at", TokenType: "bearer", IssuedAt: issued, ExpiresAt: expires, ConfigFingerprint: "f"},
		get:   getAs[cachedToken],
	},
	{
		name: "member credential",
		key:  credKey("mychain", "alice"),
		old: `{"refresh_token":"rt","refresh_token_issued_at":"2025-03-01T10:00:00Z","access_token":{"access_token":"at","token_type":"bearer","issued_at":"2025-03-01T10:00:00Z","expires_at":"2025-03-01T11:00:00Z"},` +
			`"scope":"profile","state":"active","state_since":"2025-03-01T10:00:00Z","created_at":"2025-03-01T10:00:00Z","last_refreshed_at":"2025-03-01T10:00:00Z","refreshes":3}`,
		value: &credential{RefreshToken: "rt", RefreshTokenIssuedAt: issued, AccessToken: &cachedToken{AccessToken: "at", TokenType: "bearer", IssuedAt: issued, ExpiresAt: expires},
			Scope: "profile", State: credActive, StateSince: issued, CreatedAt: issued, LastRefreshedAt: issued, Refreshes: 3},
		get: func(ctx context.Context, s logical.Storage, key string) (any, error) {
			return getCredential(ctx, s, key)
		},
	},
	{
		name:  "contact",
		key:   contactKey("mychain", "bob"),
		old:   `{"email":"bob@club.example"}`,
		value: &contact{Email: "bob@club.example"},
		get: func(ctx context.Context, s logical.Storage, _ string) (any, error) {
			return getContact(ctx, s, "mychain", "bob")
		},
	},
	{
		name:  "sign-in state",
		key:   authStateKey("mychain", "xyz"),
		old:   `{"redirect_uri":"https://app.example/cb","expires_at":"2025-03-01T11:00:00Z"}`,
		value: &authState{RedirectURI: "https://app.example/cb", ExpiresAt: expires},
		get: func(ctx context.Context, s logical.Storage, key string) (any, error) {
			return getAuthState(ctx, s, key)
		},
	},
}

func getAs[T any](ctx context.Context, s logical.Storage, key string) (any, error) {
	return getJSON[T](ctx, s, key, key)
}

func TestEntriesWrittenBeforeFormatVersionsAreRead(t *testing.T) {
	for _, kind := range storedKinds {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			s := &logical.InmemStorage{}
			require.NoError(t, s.Put(ctx, &logical.StorageEntry{Key: kind.key, Value: []byte(kind.old)}))
			got, err := kind.get(ctx, s, kind.key)
			require.NoError(t, err)
			require.Equal(t, kind.value, got)
		})
	}
}

func TestEveryPutCarriesTheCurrentFormat(t *testing.T) {
	for _, kind := range storedKinds {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			s := &logical.InmemStorage{}
			require.NoError(t, putJSON(ctx, s, kind.key, kind.name, kind.value))
			entry, err := s.Get(ctx, kind.key)
			require.NoError(t, err)
			var stored map[string]any
			require.NoError(t, json.Unmarshal(entry.Value, &stored))
			require.EqualValues(t, len(formatUpgrades), stored[formatVersionField])

			got, err := kind.get(ctx, s, kind.key)
			require.NoError(t, err)
			require.Equal(t, kind.value, got, "a round trip through the current format")
		})
	}
}

func TestNewerFormatIsRefusedClearly(t *testing.T) {
	newer := len(formatUpgrades) + 1
	for _, kind := range storedKinds {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			s := &logical.InmemStorage{}
			raw := kind.old[:len(kind.old)-1] + `,"format_version":` + strconv.Itoa(newer) + `}`
			require.NoError(t, s.Put(ctx, &logical.StorageEntry{Key: kind.key, Value: []byte(raw)}))
			_, err := kind.get(ctx, s, kind.key)
			require.ErrorIs(t, err, errNewerFormat)
			require.NotErrorIs(t, err, errUndecodable, "never taken for a cache miss or an expired state")
			require.Contains(t, err.Error(), "format "+strconv.Itoa(newer))
			require.Contains(t, err.Error(), "reads formats 0 to "+strconv.Itoa(len(formatUpgrades)))
		})
	}
}

// A cached token from a newer plugin version is not a cache miss: the read
// fails and says why, and nothing is minted over it.
func TestTokenReadRefusesANewerCachedToken(t *testing.T) {
	env := getTestBackend(t)
	env.configure(nil)
	ctx := context.Background()
	raw := `{"access_token":"at","token_type":"bearer","issued_at":"2025-03-01T10:00:00Z","expires_at":"2025-03-01T11:00:00Z","format_version":99}`
	require.NoError(t, env.storage.Put(ctx, &logical.StorageEntry{Key: tokenStoragePrefix + testChain, Value: []byte(raw)}))

	_, err := env.request(logical.ReadOperation, "token/"+testChain, nil)
	require.ErrorIs(t, err, errNewerFormat)
	require.Contains(t, err.Error(), `the cached token of chain "`+testChain+`"`)
	require.Zero(t, env.fake.TokenRequests(testChain, "client_credentials"))
	entry, err := env.storage.Get(ctx, tokenStoragePrefix+testChain)
	require.NoError(t, err)
	require.JSONEq(t, raw, string(entry.Value), "the newer entry is left as it was")
}

// The upgrade steps run from the entry's format to the current one, each
// once, in order; an entry already current runs none.
func TestUpgradeStepsRunFromTheEntrysFormat(t *testing.T) {
	steps := []formatUpgrade{
		func(string, map[string]json.RawMessage) error { return nil },
		// 1 -> 2: a hypothetical rename of "secret" to "client_secret" in configs.
		func(key string, obj map[string]json.RawMessage) error {
			if strings.HasPrefix(key, configStoragePrefix) {
				obj["client_secret"] = obj["secret"]
				delete(obj, "secret")
			}
			return nil
		},
	}
	for _, tc := range []struct{ name, raw, secret string }{
		{"format 0", `{"client_id":"1_a","secret":"old"}`, "old"},
		{"format 1", `{"client_id":"1_a","secret":"old","format_version":1}`, "old"},
		{"format 2", `{"client_id":"1_a","client_secret":"new","secret":"ignored","format_version":2}`, "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg chainConfig
			require.NoError(t, decodeEntry(configStoragePrefix+"c", []byte(tc.raw), steps, &cfg))
			require.Equal(t, chainConfig{ClientID: "1_a", ClientSecret: tc.secret}, cfg)
		})
	}
}

func TestUnreadableFormatVersionIsUndecodable(t *testing.T) {
	for _, raw := range []string{`{"format_version":"one"}`, `{"format_version":-1}`, `[1]`, `not json`} {
		var c contact
		require.ErrorIs(t, decodeEntry("contacts/c/n", []byte(raw), formatUpgrades, &c), errUndecodable, raw)
	}
}
