package resamania

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/require"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/fakeresamania"
)

// TestGatewayBudgetIsInSight: what the gateway's answers say is left of the
// key's rate limit and quota shows on config reads, in the gauges, and, once
// the quota is nearly spent, as a warning on token reads.
func TestGatewayBudgetIsInSight(t *testing.T) {
	env := getTestBackendWith(t, fakeresamania.Options{GatewayKey: testAPIKey})
	env.fake.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 100, DailyQuota: 20})
	env.configure(map[string]any{"api_key": testAPIKey})

	cfg := env.mustRead(t, "config/"+testChain)
	require.NotContains(t, cfg.Data, "gateway_quota_remaining", "nothing known before an answer")
	require.Equal(t, 1.0, env.metricValue(t, metricGatewayQuotaLeft, nil))

	read := env.readToken(nil)
	require.Empty(t, read.Warnings, "19 of 20 left")
	cfg = env.mustRead(t, "config/"+testChain)
	schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route("config/"+testChain), logical.ReadOperation), cfg, true)
	require.Equal(t, int64(20), cfg.Data["gateway_quota_limit"])
	require.Equal(t, int64(19), cfg.Data["gateway_quota_remaining"])
	require.Equal(t, int64(99), cfg.Data["gateway_rate_remaining"])
	reset, err := time.Parse(time.RFC3339, cfg.Data["gateway_quota_reset"].(string))
	require.NoError(t, err)
	require.True(t, reset.After(env.clock.Now()))
	require.InDelta(t, 0.95, env.metricValue(t, metricGatewayQuotaLeft, nil), 1e-9)
	require.InDelta(t, 0.99, env.metricValue(t, metricGatewayRateLeft, nil), 1e-9)

	// Another chain on the key spends the quota down to 1 of 20.
	for i := range 18 {
		name := "chain-" + string(rune('a'+i))
		env.fake.AddClient(fakeresamania.Client{ClientToken: name, ClientID: testClientID, ClientSecret: testSecret})
		resp, err := env.request(logical.CreateOperation, "config/"+name, map[string]any{"api_base_url": env.fake.URL(), "client_id": testClientID, "client_secret": testSecret, "api_key": testAPIKey})
		require.NoError(t, err)
		require.Nil(t, resp, "a verified write")
	}
	read = env.readToken(nil) // cached: the warning is about the key, whichever chain spent it
	require.Len(t, read.Warnings, 1)
	require.Contains(t, read.Warnings[0], "the gateway key's quota is nearly spent: 1 of 20 requests left until "+reset.UTC().Format(time.RFC3339))
	require.InDelta(t, 0.05, env.metricValue(t, metricGatewayQuotaLeft, nil), 1e-9)

	// Once the quota's period has ended, it is whole again.
	env.clock.Advance(reset.Sub(env.clock.Now()) + time.Second)
	require.Equal(t, int64(20), env.mustRead(t, "config/"+testChain).Data["gateway_quota_remaining"])
	require.Equal(t, 1.0, env.metricValue(t, metricGatewayQuotaLeft, nil))
}

func TestGatewayGaugesNameNoKeyOrChain(t *testing.T) {
	env := getTestBackendWith(t, fakeresamania.Options{GatewayKey: testAPIKey})
	env.fake.SetGatewayLimits(fakeresamania.GatewayLimits{RatePerMinute: 100, DailyQuota: 1000})
	env.configure(map[string]any{"api_key": testAPIKey})
	env.readToken(nil)
	resp, err := env.request(logical.ReadOperation, "metrics", map[string]any{"format": "prometheus"})
	require.NoError(t, err)
	body := string(resp.Data[logical.HTTPRawBody].([]byte))
	for _, name := range []string{metricGatewayRateLeft, metricGatewayQuotaLeft} {
		require.Contains(t, body, "\n"+name+" ", "a single series, without labels")
	}
	require.False(t, strings.Contains(body, testChain) || strings.Contains(body, testAPIKey))
}
