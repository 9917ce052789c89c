package runner

import (
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// thresholds converts a scenario file's thresholds, checking each one so
// that an error names its file and line.
func thresholds(f *scenarios.File) (analyze.Thresholds, error) {
	ts := analyze.Thresholds{}
	for metric, list := range f.Thresholds {
		for _, t := range list {
			spec := analyze.ThresholdSpec{Threshold: t.Expr, AbortOnFail: t.AbortOnFail, DelayAbortEval: t.DelayAbortEval}
			if err := (analyze.Thresholds{metric: {spec}}).Validate(); err != nil {
				return nil, inputf("%s: %v", t.Pos, err)
			}
			ts[metric] = append(ts[metric], spec)
		}
	}
	return ts, nil
}

// DefaultThresholds hold a run whose workload sets no threshold on their
// metric: a run where most requests failed, or most arrivals were never
// sent, is not a pass. A threshold of the workload on errors (or
// http_req_failed) or dropped (dropped_iterations) replaces the default.
var DefaultThresholds = analyze.Thresholds{
	analyze.MetricErrors:  {{Threshold: "rate<0.1"}},
	analyze.MetricDropped: {{Threshold: "rate<0.1"}},
}

// evaluateThresholds evaluates the workload's thresholds and the defaults
// it does not override, which come last, marked Default.
func evaluateThresholds(ths analyze.Thresholds, s *analyze.Summary) ([]analyze.ThresholdResult, error) {
	out, err := analyze.Evaluate(ths, s)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for key := range ths {
		if sel, err := analyze.ParseSelector(key); err == nil && sel.Scenario == "" && sel.TagKey == "" {
			set[sel.Metric] = true
		}
	}
	defaults := analyze.Thresholds{}
	for metric, specs := range DefaultThresholds {
		if !set[metric] {
			defaults[metric] = specs
		}
	}
	more, err := analyze.Evaluate(defaults, s)
	if err != nil {
		return nil, err
	}
	for i := range more {
		more[i].Default = true
		if more[i].NoData { // nothing sent at all: the other checks say so
			more[i].Pass = true
		}
	}
	return append(out, more...), nil
}
