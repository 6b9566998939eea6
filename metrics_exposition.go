package resamania

import (
	"bytes"
	"fmt"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// prometheusText is the mount's metrics in Prometheus' text exposition
// format, and that format's content type.
func (m *metrics) prometheusText() (body []byte, contentType string, err error) {
	families, err := m.registry.Gather()
	if err != nil {
		return nil, "", fmt.Errorf("gathering the metrics: %w", err)
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return nil, "", fmt.Errorf("encoding metric %s: %w", f.GetName(), err)
		}
	}
	return buf.Bytes(), string(format), nil
}

// jsonData is the mount's metrics as a read's data: each metric's name, then
// its series, each with its labels and its value (a histogram: its count, sum
// and cumulative buckets by upper bound).
func (m *metrics) jsonData() (map[string]any, error) {
	families, err := m.registry.Gather()
	if err != nil {
		return nil, fmt.Errorf("gathering the metrics: %w", err)
	}
	data := make(map[string]any, len(families))
	for _, f := range families {
		series := make([]any, 0, len(f.GetMetric()))
		for _, mt := range f.GetMetric() {
			series = append(series, seriesJSON(f.GetType(), mt))
		}
		data[f.GetName()] = series
	}
	return data, nil
}

func seriesJSON(typ dto.MetricType, mt *dto.Metric) map[string]any {
	labels := make(map[string]any, len(mt.GetLabel()))
	for _, l := range mt.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	s := map[string]any{"labels": labels}
	switch typ {
	case dto.MetricType_COUNTER:
		s["value"] = mt.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		s["value"] = mt.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		h := mt.GetHistogram()
		buckets := make(map[string]any, len(h.GetBucket()))
		for _, b := range h.GetBucket() {
			buckets[strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)] = b.GetCumulativeCount()
		}
		s["count"], s["sum"], s["buckets"] = h.GetSampleCount(), h.GetSampleSum(), buckets
	}
	return s
}
