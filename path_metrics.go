package resamania

import (
	"context"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// The formats of a metrics read.
const (
	metricsFormatJSON       = "json"
	metricsFormatPrometheus = "prometheus"
)

func pathMetrics(b *backend) []*framework.Path {
	return []*framework.Path{{
		Pattern:      "metrics$",
		DisplayAttrs: &framework.DisplayAttributes{OperationPrefix: operationPrefix, OperationSuffix: "metrics"},
		Fields: map[string]*framework.FieldSchema{
			"format": {
				Type:          framework.TypeString,
				Description:   "json (the default): the metrics as the read's data. prometheus: the raw Prometheus text exposition, for a scraper.",
				Default:       metricsFormatJSON,
				AllowedValues: []any{metricsFormatJSON, metricsFormatPrometheus},
			},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback:     b.pathMetricsRead,
				Summary:      "Read this plugin process's metrics, as JSON or in Prometheus' text format.",
				DisplayAttrs: &framework.DisplayAttributes{OperationVerb: "read"},
				Responses: map[int][]framework.Response{http.StatusOK: {{
					Description: "format=json: each metric's series. format=prometheus: the text exposition (text/plain; version=0.0.4) as the raw body.",
					Fields:      metricsResponseFields(),
				}}},
			},
		},
		HelpSynopsis:    pathMetricsHelpSyn,
		HelpDescription: pathMetricsHelpDesc,
	}}
}

// metricsResponseFields declares each metric a JSON read may return.
func metricsResponseFields() map[string]*framework.FieldSchema {
	fields := make(map[string]*framework.FieldSchema, len(metricHelp))
	for name, help := range metricHelp {
		fields[name] = &framework.FieldSchema{Type: framework.TypeSlice, Description: help + " Each series: labels, and value (a histogram: count, sum, buckets)."}
	}
	return fields
}

func (b *backend) pathMetricsRead(_ context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	switch format := d.Get("format").(string); format {
	case metricsFormatJSON:
		data, err := b.metrics.jsonData()
		if err != nil {
			return nil, err
		}
		return &logical.Response{Data: data}, nil
	case metricsFormatPrometheus:
		body, contentType, err := b.metrics.prometheusText()
		if err != nil {
			return nil, err
		}
		// Vault answers these three keys with a raw HTTP body, not JSON.
		return &logical.Response{Data: map[string]any{
			logical.HTTPContentType: contentType,
			logical.HTTPRawBody:     body,
			logical.HTTPStatusCode:  http.StatusOK,
		}}, nil
	default:
		return logical.ErrorResponse("format must be %s or %s", metricsFormatJSON, metricsFormatPrometheus), nil
	}
}

const pathMetricsHelpSyn = `Read the plugin's metrics, as JSON or for Prometheus.`

const pathMetricsHelpDesc = `
Counts of this plugin process's work, in a registry of the mount's own:

  resamania_upstream_requests_total{grant,outcome}   requests sent to Resamania, retries included
  resamania_upstream_request_duration_seconds{grant} their durations (histogram)
  resamania_token_reads_total{kind,result}           token reads: cache, minted, stale or error
  resamania_refresh_tokens_rotated_total             member refresh tokens replaced
  resamania_credentials{state}                       member credentials by state (keep-alive scan, active node)
  resamania_tokens_cached                            tokens held in memory

No label names a chain or a member. Each Vault node's plugin process counts
its own work: scrape every node.

  vault read resamania/metrics
  curl -H "X-Vault-Token: $VAULT_TOKEN" "$VAULT_ADDR/v1/resamania/metrics?format=prometheus"

The path is behind Vault's policies like any other: a scraper's token needs
read on resamania/metrics.
`
