package resamania

import (
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/framework"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// What the gateway's latest answer said was left of a key's rate limit and
// quota (internal/upstream/gateway_budget.go), shown before it runs out: on
// config reads, as metrics, and as a warning on token reads.

// lowQuotaRatio: below this share of its quota left, token reads warn.
const lowQuotaRatio = 0.10

// budgetReadFields is the schema of the budget fields of a config read.
func budgetReadFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"gateway_rate_limit":      {Type: framework.TypeInt64, Description: "Requests the gateway key may send in a rate-limit window, as the gateway's latest answer said. Absent until an answer told it."},
		"gateway_rate_remaining":  {Type: framework.TypeInt64, Description: "Requests left in the gateway key's current rate-limit window, as its latest answer said (the whole limit once that window has ended)."},
		"gateway_rate_reset":      {Type: framework.TypeString, Description: "When the rate-limit window ends (RFC 3339, UTC), when the gateway said."},
		"gateway_quota_limit":     {Type: framework.TypeInt64, Description: "Requests the gateway key may send in a quota period (a day), as the gateway's latest answer said. Absent until an answer told it."},
		"gateway_quota_remaining": {Type: framework.TypeInt64, Description: "Requests left in the gateway key's quota, as its latest answer said (the whole quota once its period has ended). Token reads warn below 10 %."},
		"gateway_quota_reset":     {Type: framework.TypeString, Description: "When the quota period ends (RFC 3339, UTC), when the gateway said."},
	}
}

// budgetFields are the chain's gateway key's budget as a config read shows it.
func budgetFields(ch *chainEntry, now time.Time) map[string]any {
	b, ok := ch.client.Budget()
	if !ok {
		return nil
	}
	data := map[string]any{}
	for prefix, l := range map[string]*upstream.LimitBudget{"gateway_rate_": b.Rate, "gateway_quota_": b.Quota} {
		if l == nil {
			continue
		}
		at := l.At(now)
		data[prefix+"limit"], data[prefix+"remaining"] = at.Limit, at.Remaining
		if !at.Reset.IsZero() {
			data[prefix+"reset"] = at.Reset.UTC().Format(time.RFC3339)
		}
	}
	return data
}

// lowQuotaWarning is the warning of a token read while the chain's gateway
// key has less than lowQuotaRatio of its quota left; "" otherwise.
func lowQuotaWarning(ch *chainEntry, now time.Time) string {
	b, ok := ch.client.Budget()
	if !ok || b.Quota == nil {
		return ""
	}
	q := b.Quota.At(now)
	if q.Ratio() >= lowQuotaRatio {
		return ""
	}
	until := ""
	if !q.Reset.IsZero() {
		until = " until " + q.Reset.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("the gateway key's quota is nearly spent: %d of %d requests left%s; once it is spent, no token can be minted with this key until it resets (ask Resamania for a larger plan, or let readers cache longer)",
		q.Remaining, q.Limit, until)
}

// lowestBudgetRatios are the smallest shares left of a rate limit and of a
// quota over the mount's gateway keys: 1 when no answer told of one.
func lowestBudgetRatios(budgets []upstream.GatewayBudget, now time.Time) (rate, quota float64) {
	rate, quota = 1, 1
	for _, b := range budgets {
		if b.Rate != nil {
			rate = min(rate, b.Rate.At(now).Ratio())
		}
		if b.Quota != nil {
			quota = min(quota, b.Quota.At(now).Ratio())
		}
	}
	return rate, quota
}
