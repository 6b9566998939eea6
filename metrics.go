package resamania

import (
	"errors"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resamania-oss/vault-plugin-secrets-resamania/internal/upstream"
)

// The metric names, and what each counts. Labels are of low cardinality only
// (a grant, an outcome, a kind of read, a result, a state): never a chain's
// or a member's name, so 10,000 chains are still a handful of series.
const (
	metricUpstreamRequests     = "resamania_upstream_requests_total"
	metricUpstreamDuration     = "resamania_upstream_request_duration_seconds"
	metricTokenReads           = "resamania_token_reads_total"
	metricRefreshTokensRotated = "resamania_refresh_tokens_rotated_total"
	metricRefreshAnswersLost   = "resamania_refresh_answers_lost_in_failover_total"
	metricCredentials          = "resamania_credentials"
	metricTokensCached         = "resamania_tokens_cached"
	metricGoroutines           = "resamania_plugin_goroutines"
	metricGatewayRateLeft      = "resamania_gateway_rate_limit_remaining_ratio"
	metricGatewayQuotaLeft     = "resamania_gateway_quota_remaining_ratio"
	metricReadsBounded         = "resamania_reads_bounded_total"
	metricChainShareWaits      = "resamania_upstream_chain_share_waits_total"
)

// metricHelp is each metric's HELP text, also the metrics path's field descriptions.
var metricHelp = map[string]string{
	metricUpstreamRequests:     "Requests sent to Resamania's token endpoint by this plugin process, retries included, by grant and outcome (ok, rejected, gateway_refused, rate_limited, server_error, unreachable, protocol, tls).",
	metricUpstreamDuration:     "Time from sending a request to Resamania's token endpoint to its answer or failure, by grant.",
	metricTokenReads:           "Token reads served by this plugin process, by kind (token, club, contact, member) and result (cache, minted, stale, error).",
	metricRefreshTokensRotated: "Member refresh tokens Resamania replaced on a refresh, as seen by this plugin process.",
	metricRefreshAnswersLost:   "Member refresh tokens refused (invalid_grant) by this plugin process because a refresh recorded as sent by another plugin instance (a failover, a crash) never stored its answer: each is a member who must sign in again.",
	metricCredentials:          "Member credentials by stored state (active, sign_in_required, uncertain), as counted by the last keep-alive scan on the node that owns storage.",
	metricTokensCached:         "Tokens this plugin process holds in memory.",
	metricGoroutines:           "Goroutines in this plugin process (every mount it serves): growth under steady load is a leak.",
	metricGatewayRateLeft:      "The smallest share (0 to 1) of a rate-limit window's requests left, over the mount's gateway keys, as the gateway's latest answers said; 1 until one said.",
	metricGatewayQuotaLeft:     "The smallest share (0 to 1) of a daily quota's requests left, over the mount's gateway keys, as the gateway's latest answers said; 1 until one said. Token reads warn below 0.1.",
	metricReadsBounded:         "Token reads refused without a request to Resamania because a bound on a reader's cost applied, by bound (minimum_above_life: a minimum_seconds above the life of the key's tokens; refusal_remembered: a club or member Resamania refused less than 5 minutes before; forced_mint_spacing: a minimum_seconds that needs a new token less than max(a tenth of its life, 30 s) after the key's last such mint).",
	metricChainShareWaits:      "Requests to Resamania that waited because their chain had its whole share (8) of the mount's 32 requests in flight.",
}

// The bounds on a reader's cost, the bound label of metricReadsBounded.
const (
	boundMinimumAboveLife  = "minimum_above_life"
	boundForcedMintSpacing = "forced_mint_spacing"
	boundRefusalRemembered = "refusal_remembered"
)

// The kinds of token read, the kind label of metricTokenReads.
const (
	readKindToken   = "token"   // token/<client_token>
	readKindClub    = "club"    // token/<client_token>/clubs/<club_id>
	readKindContact = "contact" // token/<client_token>/contacts/<name>
	readKindMember  = "member"  // creds/<client_token>/<name>
)

// The results of a token read, the result label of metricTokenReads.
const (
	readCache  = "cache"  // a cached token, from memory or storage
	readMinted = "minted" // a token minted for this read (or the flight it joined)
	readStale  = "stale"  // Resamania failed: a still-valid cached token, with a warning
	readError  = "error"  // no token
)

// durationBuckets span a local answer to the longest request_timeout.
var durationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metrics are one mount's metrics, in a registry of its own: nothing global,
// so two mounts, or two tests, never share a count. Each field is safe for
// concurrent use; all are set once in newMetrics.
type metrics struct {
	registry             *prometheus.Registry
	upstreamRequests     *prometheus.CounterVec   // grant, outcome
	upstreamDuration     *prometheus.HistogramVec // grant
	tokenReads           *prometheus.CounterVec   // kind, result
	refreshTokensRotated prometheus.Counter
	refreshAnswersLost   prometheus.Counter
	credentials          *prometheus.GaugeVec   // state
	readsBounded         *prometheus.CounterVec // bound
}

// newMetrics registers the mount's metrics; tokensCached and budgetRatios
// are read at each scrape.
func newMetrics(tokensCached func() float64, budgetRatios func() (rate, quota float64), chainShareWaits func() float64) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		upstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricUpstreamRequests, Help: metricHelp[metricUpstreamRequests],
		}, []string{"grant", "outcome"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricUpstreamDuration, Help: metricHelp[metricUpstreamDuration], Buckets: durationBuckets,
		}, []string{"grant"}),
		tokenReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricTokenReads, Help: metricHelp[metricTokenReads],
		}, []string{"kind", "result"}),
		refreshTokensRotated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricRefreshTokensRotated, Help: metricHelp[metricRefreshTokensRotated],
		}),
		refreshAnswersLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricRefreshAnswersLost, Help: metricHelp[metricRefreshAnswersLost],
		}),
		credentials: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricCredentials, Help: metricHelp[metricCredentials],
		}, []string{"state"}),
		readsBounded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricReadsBounded, Help: metricHelp[metricReadsBounded],
		}, []string{"bound"}),
	}
	m.registry.MustRegister(m.upstreamRequests, m.upstreamDuration, m.tokenReads, m.refreshTokensRotated, m.refreshAnswersLost, m.credentials, m.readsBounded,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: metricChainShareWaits, Help: metricHelp[metricChainShareWaits]}, chainShareWaits),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricTokensCached, Help: metricHelp[metricTokensCached]}, tokensCached),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricGoroutines, Help: metricHelp[metricGoroutines]},
			func() float64 { return float64(runtime.NumGoroutine()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricGatewayRateLeft, Help: metricHelp[metricGatewayRateLeft]},
			func() float64 { rate, _ := budgetRatios(); return rate }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metricGatewayQuotaLeft, Help: metricHelp[metricGatewayQuotaLeft]},
			func() float64 { _, quota := budgetRatios(); return quota }))
	return m
}

// upstreamCall counts one request sent to Resamania.
func (m *metrics) upstreamCall(c upstream.Call) {
	m.upstreamRequests.WithLabelValues(c.Grant, c.Outcome).Inc()
	m.upstreamDuration.WithLabelValues(c.Grant).Observe(c.Duration.Seconds())
}

// countTokenRead counts one token read by how it was answered.
func (m *metrics) countTokenRead(kind string, minted bool, warning string, err error) {
	result := readCache
	switch {
	case err != nil:
		result = readError
	case warning != "":
		result = readStale
	case minted:
		result = readMinted
	}
	m.tokenReads.WithLabelValues(kind, result).Inc()
}

// countBoundedRead counts a read that a bound answered without a request.
func (m *metrics) countBoundedRead(err error) {
	var short *errTooShort
	var refused *scopeRefusedError
	var spaced *forcedMintSpacedError
	switch {
	case errors.As(err, &spaced):
		m.readsBounded.WithLabelValues(boundForcedMintSpacing).Inc()
	case errors.As(err, &short) && short.unasked:
		m.readsBounded.WithLabelValues(boundMinimumAboveLife).Inc()
	case errors.As(err, &refused) && refused.remembered:
		m.readsBounded.WithLabelValues(boundRefusalRemembered).Inc()
	}
}

// countCredentials sets the credentials gauge from a full count by state.
func (m *metrics) countCredentials(byState map[credState]int) {
	for _, s := range []credState{credActive, credSignInRequired, credUncertain} {
		m.credentials.WithLabelValues(string(s)).Set(float64(byState[s]))
	}
}
