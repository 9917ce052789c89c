package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions/ndjson"
)

// SummaryCSVHeader is the header row of WriteSummaryCSV: one row per group
// and metric, with the numbers of run.json's MetricStats in the metric's
// unit (ms, tokens, tokens/s).
var SummaryCSVHeader = []string{"group", "metric", "unit", "count", "mean", "stddev", "min",
	"p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "p99.9", "max"}

// WriteSummaryCSV writes the metric digests of run as CSV: the overall
// group ("overall"), then every scenario ("scenario:NAME") and tag
// ("tag:KEY=VALUE") in name order, each metric in analyze.Metrics order.
// The numbers are those of run.json, written so that they parse back
// equal.
func WriteSummaryCSV(w io.Writer, run *Run) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(SummaryCSVHeader)
	group := func(name string, st *analyze.Stats) {
		for _, m := range analyze.Metrics {
			ms := st.Metric(m)
			if ms == nil {
				continue
			}
			row := []string{name, m, metricUnit(m), strconv.FormatInt(ms.Count, 10),
				csvNum(ms.Mean), csvNum(ms.StdDev), csvNum(ms.Min)}
			for _, p := range analyze.StoredPercentiles {
				v, _ := ms.Percentile(p)
				row = append(row, csvNum(v))
			}
			_ = cw.Write(append(row, csvNum(ms.Max)))
		}
	}
	group("overall", &run.Overall)
	for _, n := range sortedKeys(run.Scenarios) {
		sc := run.Scenarios[n]
		group("scenario:"+n, &sc.Stats)
	}
	for _, n := range sortedKeys(run.Tags) {
		st := run.Tags[n]
		group("tag:"+n, &st)
	}
	cw.Flush()
	return cw.Error()
}

// metricUnit is the unit of a metric's numbers in run.json.
func metricUnit(m string) string {
	switch m {
	case analyze.MetricOutputTokens, analyze.MetricInputTokens:
		return "tokens"
	case analyze.MetricTokensPerSecPerUser:
		return "tokens/s"
	}
	return "ms"
}

func csvNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SamplesCSVHeader is the header row of WriteSamplesCSV. Times are
// milliseconds; at_ms is the intended send from the run's start;
// tokens_per_sec_per_user is (output_tokens − 1) / (service − ttft) when
// the request streamed at least two tokens, else empty; tags are
// KEY=VALUE joined by ";" in key order.
var SamplesCSVHeader = []string{"id", "scenario", "at_ms", "dropped", "queued", "lag_ms", "latency_ms", "service_ms",
	"status", "class", "ttft_ms", "tpot_ms", "output_tokens", "tokens_per_sec_per_user",
	"prompt_tokens", "reported_prompt_tokens", "cached_prompt_tokens", "bytes_in", "tags", "error"}

// MaxSamplesCSVRows bounds the rows WriteSamplesCSV writes.
const MaxSamplesCSVRows = 100_000_000

// WriteSamplesCSV converts a samples.ndjson.gz stream (r) to CSV, one row
// per request, and returns the rows written. A file cut short gives every
// row up to the cut and the error.
func WriteSamplesCSV(w io.Writer, r io.Reader) (int64, error) {
	cw := csv.NewWriter(w)
	_ = cw.Write(SamplesCSVHeader)
	var n int64
	err := ndjson.Read(r, func(s *ndjson.Sample) bool {
		userRate := ""
		if s.OutputTokens >= 2 && s.ServiceMs > s.TTFTMs && s.TTFTMs > 0 {
			userRate = csvNum(float64(s.OutputTokens-1) / ((s.ServiceMs - s.TTFTMs) / 1000))
		}
		_ = cw.Write([]string{
			strconv.FormatUint(s.ID, 10), s.Scenario, csvNum(s.AtMs), strconv.FormatBool(s.Dropped), strconv.FormatBool(s.Queued),
			csvNum(s.LagMs), csvNum(s.LatencyMs), csvNum(s.ServiceMs), strconv.Itoa(s.Status), s.Class,
			csvNum(s.TTFTMs), csvNum(s.TPOTMs), strconv.Itoa(s.OutputTokens), userRate,
			strconv.Itoa(s.PromptTokens), strconv.Itoa(s.ReportedPromptTokens), strconv.Itoa(s.CachedPromptTokens),
			strconv.FormatInt(s.BytesIn, 10), joinTags(s.Tags), s.Err,
		})
		n++
		return n < MaxSamplesCSVRows && cw.Error() == nil
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		return n, fmt.Errorf("reports: samples CSV: %w", err)
	}
	return n, nil
}

func joinTags(tags map[string]string) string {
	parts := make([]string, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, ";")
}
