package analyze

import (
	"fmt"
	"strings"
)

// Comparison is two runs side by side (gonogo compare A B): per metric
// the figure of each, the change from A to B, and whether the tests of
// relative gates find it significant — without a gates file and without
// a verdict.
type Comparison struct {
	Schema string `json:"schema"`
	// A and B are the runs' IDs; B is compared against A.
	A string `json:"a"`
	B string `json:"b"`
	// Alpha is the significance level of the tests.
	Alpha float64      `json:"alpha"`
	Rows  []CompareRow `json:"rows"`
}

// ComparisonSchema is the schema of compare.json.
const ComparisonSchema = "gonogo.compare/v1"

// CompareRow is one figure of both runs.
type CompareRow struct {
	// Metric and Stat name the figure: latency p(99), errors rate.
	Metric string `json:"metric"`
	Stat   string `json:"stat"`
	Unit   string `json:"unit,omitempty"`
	// A and B are the figure in each run; ChangePct the change from A
	// to B, absent when A is 0.
	A         float64  `json:"a"`
	B         float64  `json:"b"`
	ChangePct *float64 `json:"change_pct,omitempty"`
	// PValue and EffectSize are the test's (two-sided), absent when the
	// figure has no test (throughput).
	PValue     *float64 `json:"p_value,omitempty"`
	EffectSize *float64 `json:"effect_size,omitempty"`
	// Significant says the test confirms a change at Alpha (and, for a
	// shift of the distribution, an effect of at least DefaultMinEffect).
	Significant bool `json:"significant"`
	// Note says what was found, or why the figure was not compared.
	Note string `json:"note"`
}

// compareMetrics are the histogram metrics compared when both runs have
// them, in this order.
var compareMetrics = []string{MetricLatency, MetricLatencyService, MetricTTFT, MetricTPOT, MetricChunkGap}

// Compare compares run b with run a: for each latency metric both runs
// have, its median (Mann–Whitney U with Cliff's delta) and its p(99) (the
// share of requests beyond a's p(99), two-proportion test); the error
// rate (two-proportion test); the achieved rate and tokens/s (no test).
// The tests are those of relative gates in either direction, at alpha (0:
// DefaultAlpha), needing minRequests a side (0: the gates' default).
func Compare(a, b *RunData, alpha float64, minRequests int) (*Comparison, error) {
	if alpha <= 0 {
		alpha = DefaultAlpha
	}
	var src strings.Builder
	src.WriteString("gates:\n")
	gate := func(metric, stat, allowed string) {
		fmt.Fprintf(&src, "  - {name: %q, metric: %s, compare: baseline, direction: either, allowed: %q, alpha: %g",
			metric+" "+stat, metric, allowed, alpha)
		if stat != "" {
			fmt.Fprintf(&src, ", stat: %q", stat)
		}
		src.WriteString("}\n")
	}
	type row struct{ metric, stat string }
	var rows []row
	for _, m := range compareMetrics {
		if histTotal(a.Histogram("", m)) == 0 || histTotal(b.Histogram("", m)) == 0 {
			continue
		}
		for _, stat := range []string{"med", "p(99)"} {
			gate(m, stat, "0%")
			rows = append(rows, row{m, stat})
		}
	}
	gate(MetricErrors, "", "0pp")
	rows = append(rows, row{MetricErrors, "rate"})
	gate(MetricRequests, "", "0%")
	rows = append(rows, row{MetricRequests, "achieved/s"})
	if a.Summary.Overall.TokensPerSec != nil && b.Summary.Overall.TokensPerSec != nil {
		gate(MetricTokensPerSec, "", "0%")
		rows = append(rows, row{MetricTokensPerSec, "per second"})
	}
	g, err := ParseGates("compare", []byte(src.String()))
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	g.MinRequests = minRequests
	c := &Comparison{Schema: ComparisonSchema, A: a.ID, B: b.ID, Alpha: alpha}
	for i, gt := range g.Gates {
		r, err := g.EvaluateOnce(gt, b, a)
		if err != nil {
			return nil, err
		}
		out := CompareRow{Metric: rows[i].metric, Stat: rows[i].stat, Unit: r.Unit, B: r.Observed,
			ChangePct: r.ChangePct, PValue: r.PValue, EffectSize: r.EffectSize, Note: r.Reason}
		if r.Baseline != nil {
			out.A = *r.Baseline
		}
		switch gt.sel.Metric {
		case MetricRequests, MetricTokensPerSec:
			// No test: a ratio is a figure, not a finding.
			out.PValue, out.Significant = nil, false
			out.Note = strings.Split(r.Reason, ", allowed")[0] + "; no test"
		default:
			out.Significant = r.Status == GateFail
			out.Note = strings.Replace(r.Reason, ", allowed 0%; ", "; ", 1)
			out.Note = strings.Replace(out.Note, ", allowed 0pp; ", "; ", 1)
			out.Note = strings.TrimSuffix(out.Note, ": not significant, so not failed")
			out.Note = strings.Replace(out.Note, fmt.Sprintf(": not significant at %g, so not failed", alpha), "", 1)
		}
		if r.Status == GateInconclusive {
			out.Note = r.Reason
		}
		c.Rows = append(c.Rows, out)
	}
	return c, nil
}
