package abtest

import (
	"fmt"
	"testing"
)

// BenchmarkReport analyses 20 metrics (10 binomial goals, 10 continuous
// guardrails) over 3 variants, sequential and with CUPED: one report of
// pre-aggregated summaries.
func BenchmarkReport(b *testing.B) {
	const n = 100000
	variants := []Variant{{Name: "stable", Weight: 1, Users: n}, {Name: "v2", Weight: 1, Users: n + 150}, {Name: "v3", Weight: 1, Users: n - 90}}
	var metrics []Metric
	for i := range 20 {
		m := Metric{Name: fmt.Sprintf("m%d", i), Kind: Binomial}
		if i%2 == 1 {
			m.Kind, m.Role, m.Margin = Continuous, Guardrail, 0.02
		}
		for v := range variants {
			s := summaryOf(n, 5+float64(v)*0.05, 3)
			if m.Kind == Binomial {
				s = conv(n, 0.05+0.001*float64(v))
			}
			s.SumX, s.SumXSq, s.SumXY = s.Sum*0.9, s.SumSq*0.85, s.SumSq*0.8
			m.Summaries = append(m.Summaries, s)
		}
		metrics = append(metrics, m)
	}
	exp := Experiment{Variants: variants, Metrics: metrics}
	cfg := Config{Sequential: true, CUPED: true}
	if _, err := Analyze(exp, cfg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Analyze(exp, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
