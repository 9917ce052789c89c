package behaviour

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/gonogo-dev/gonogo/internal/input"
	"gonum.org/v1/gonum/stat/distuv"
)

// Metric names what a gate checks. Histogram metrics compare the canary
// (actual) with the stable version (expected); rates and means are the
// canary's own; a _delta is canary minus stable.
type Metric string

// Metrics a gate can check.
const (
	// ConfidencePSI and ConfidenceJS compare the confidence histograms.
	ConfidencePSI Metric = "confidence_psi"
	ConfidenceJS  Metric = "confidence_js"
	// ClassPSI and ClassJS compare the top-class histograms (the
	// prediction mix).
	ClassPSI Metric = "class_psi"
	ClassJS  Metric = "class_js"
	// LengthPSI and LengthJS compare the output-length histograms.
	LengthPSI Metric = "length_psi"
	LengthJS  Metric = "length_js"
	// EmptyRate and ErrorRate are the canary's shares of empty and error
	// responses among all its responses.
	EmptyRate Metric = "empty_rate"
	ErrorRate Metric = "error_rate"
	// MeanConfidence is the canary's mean confidence.
	MeanConfidence Metric = "mean_confidence"
	// EmptyRateDelta, ErrorRateDelta and MeanConfidenceDelta are canary
	// minus stable.
	EmptyRateDelta      Metric = "empty_rate_delta"
	ErrorRateDelta      Metric = "error_rate_delta"
	MeanConfidenceDelta Metric = "mean_confidence_delta"
)

// metricFunc computes a metric's value and the sample count it rests on
// (the smaller side's where both sides count).
type metricFunc func(stable, canary *Counts) (value float64, samples int64)

func histMetric(div func(a, b []int64) float64, bins func(c *Counts) []int64) metricFunc {
	return func(s, c *Counts) (float64, int64) {
		bs, bc := bins(s), bins(c)
		return div(bs, bc), min(sum(bs), sum(bc))
	}
}

func sum(h []int64) int64 {
	var n int64
	for _, v := range h {
		n += v
	}
	return n
}

func confBins(c *Counts) []int64   { return c.Confidence[:] }
func classBins(c *Counts) []int64  { return c.Classes[:] }
func lengthBins(c *Counts) []int64 { return c.Length[:] }

var metrics = map[Metric]metricFunc{
	ConfidencePSI: histMetric(PSI, confBins),
	ConfidenceJS:  histMetric(JS, confBins),
	ClassPSI:      histMetric(PSI, classBins),
	ClassJS:       histMetric(JS, classBins),
	LengthPSI:     histMetric(PSI, lengthBins),
	LengthJS:      histMetric(JS, lengthBins),
	EmptyRate: func(_, c *Counts) (float64, int64) {
		return c.EmptyRate(), c.Responses
	},
	ErrorRate: func(_, c *Counts) (float64, int64) {
		return c.ErrorRate(), c.Responses
	},
	MeanConfidence: func(_, c *Counts) (float64, int64) {
		return c.MeanConfidence(), c.Predictions
	},
	EmptyRateDelta: func(s, c *Counts) (float64, int64) {
		return c.EmptyRate() - s.EmptyRate(), min(s.Responses, c.Responses)
	},
	ErrorRateDelta: func(s, c *Counts) (float64, int64) {
		return c.ErrorRate() - s.ErrorRate(), min(s.Responses, c.Responses)
	},
	MeanConfidenceDelta: func(s, c *Counts) (float64, int64) {
		return c.MeanConfidence() - s.MeanConfidence(), min(s.Predictions, c.Predictions)
	},
}

// metricNames lists the metrics in the order of the constants, for
// messages.
var metricNames = []Metric{ConfidencePSI, ConfidenceJS, ClassPSI, ClassJS, LengthPSI, LengthJS,
	EmptyRate, ErrorRate, MeanConfidence, EmptyRateDelta, ErrorRateDelta, MeanConfidenceDelta}

// Gate bounds one metric: it passes when Min ≤ value ≤ Max (either bound
// optional, at least one given).
type Gate struct {
	Name   string   `yaml:"name" json:"name"`
	Metric Metric   `yaml:"metric" json:"metric"`
	Max    *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	Min    *float64 `yaml:"min,omitempty" json:"min,omitempty"`
}

// Check implements input.Checker: the field and what is wrong, "" when
// nothing is.
func (g *Gate) Check() (field, msg string) {
	switch {
	case g.Name == "":
		return "name", "required"
	case g.Metric == "":
		return "metric", "required"
	case metrics[g.Metric] == nil:
		names := make([]string, len(metricNames))
		for i, m := range metricNames {
			names[i] = string(m)
		}
		return "metric", fmt.Sprintf("unknown metric %q (want one of %s)", g.Metric, strings.Join(names, ", "))
	case g.Max == nil && g.Min == nil:
		return "max", "want max, min or both"
	case g.Max != nil && !finite(*g.Max):
		return "max", "want a finite number"
	case g.Min != nil && !finite(*g.Min):
		return "min", "want a finite number"
	case g.Max != nil && g.Min != nil && *g.Min > *g.Max:
		return "min", fmt.Sprintf("min %g is above max %g", *g.Min, *g.Max)
	}
	return "", ""
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// DefaultMinSamples is the samples a gate needs before it may pass when
// Gates.MinSamples is 0: with 20 confidence bins it keeps the A/A bias of
// PSI near 19·(2/1000) ≈ 0.04, well under the usual 0.1 and 0.2.
const DefaultMinSamples = 1000

// Gates is a set of behaviour gates, as written in YAML:
//
//	min_samples: 1000
//	gates:
//	  - {name: confidence drift, metric: confidence_psi, max: 0.2}
//	  - {name: empty outputs, metric: empty_rate, max: 0.001}
type Gates struct {
	// MinSamples is the samples each gate's metric needs (on both sides
	// for comparisons); below it the gate holds. 0 means
	// DefaultMinSamples.
	MinSamples int64  `yaml:"min_samples,omitempty" json:"min_samples,omitempty"`
	Gates      []Gate `yaml:"gates" json:"gates"`
}

// Check implements input.Checker.
func (g *Gates) Check() (field, msg string) {
	if g.MinSamples < 0 {
		return "min_samples", "want ≥ 0"
	}
	if len(g.Gates) == 0 {
		return "gates", "want at least one gate"
	}
	seen := map[string]bool{}
	for i := range g.Gates {
		if f, m := g.Gates[i].Check(); m != "" {
			return fmt.Sprintf("gates[%d].%s", i, f), m
		}
		if seen[g.Gates[i].Name] {
			return fmt.Sprintf("gates[%d].name", i), fmt.Sprintf("duplicate gate %q", g.Gates[i].Name)
		}
		seen[g.Gates[i].Name] = true
	}
	return "", ""
}

// ParseGates reads Gates from YAML; bad input is an *input.Error naming
// file, line and field.
func ParseGates(file string, src []byte) (*Gates, error) {
	var g Gates
	if err := input.ParseBlock(file, src, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// LoadGates reads Gates from a YAML file.
func LoadGates(path string) (*Gates, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("behaviour: %w", err)
	}
	return ParseGates(path, src)
}

// Status is a gate's result.
type Status string

// Statuses of a gate.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Hold is too few samples (or no value): not yet a pass.
	Hold Status = "hold"
)

// GateResult is one gate's evaluation.
type GateResult struct {
	Gate Gate `json:"gate"`
	// Value is the metric's value; 0 when it has none (Status Hold).
	Value float64 `json:"value"`
	// Samples is what Value rests on (the smaller side for comparisons).
	Samples int64  `json:"samples"`
	Status  Status `json:"status"`
	// Early marks a rate gate failed on fewer than MinSamples samples:
	// the rate is beyond its bound even at the far end of its interval.
	Early bool `json:"early,omitempty"`
}

// earlyAlpha is the one-sided level of the exact (Clopper–Pearson)
// interval by which a rate gate fails before MinSamples: 3·10⁻⁵ per
// look (the normal tail beyond 4), so that a canary whose rate sits at
// the bound is not failed early even when it is looked at after every
// response, while 35 % errors against a bound of 1 % fail at 50
// responses.
const earlyAlpha = 3.167124183311998e-05

// earlyCounts gives the event count and the total of the canary's own
// rate metrics, which may fail early.
var earlyCounts = map[Metric]func(c *Counts) (k, n int64){
	EmptyRate: func(c *Counts) (int64, int64) { return c.Empty, c.Responses },
	ErrorRate: func(c *Counts) (int64, int64) { return c.Errors, c.Responses },
}

// exactBounds is the Clopper–Pearson interval of k events in n, each end
// at one-sided level alpha: exact, so never too narrow, even for a
// handful of responses (where a normal approximation fails a canary for
// its first error).
func exactBounds(k, n int64, alpha float64) (lo, hi float64) {
	lo, hi = 0, 1
	if k > 0 {
		lo = distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(alpha)
	}
	if k < n {
		hi = distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(1 - alpha)
	}
	return lo, hi
}

// Evaluate checks every gate on the stable and canary Counts (the same
// window of each). A gate whose metric rests on fewer than MinSamples
// samples, or has no value, holds; except that a rate gate (empty_rate,
// error_rate) fails early when the rate's exact interval at earlyAlpha
// lies wholly beyond its bound.
func (g *Gates) Evaluate(stable, canary *Counts) []GateResult {
	need := g.MinSamples
	if need == 0 {
		need = DefaultMinSamples
	}
	out := make([]GateResult, len(g.Gates))
	for i, gt := range g.Gates {
		r := GateResult{Gate: gt, Status: Hold}
		if f := metrics[gt.Metric]; f != nil {
			v, n := f(stable, canary)
			r.Samples = n
			if finite(v) {
				r.Value = v
				switch early := earlyCounts[gt.Metric]; {
				case n >= need:
					r.Status = Pass
					if (gt.Max != nil && v > *gt.Max) || (gt.Min != nil && v < *gt.Min) {
						r.Status = Fail
					}
				case early != nil:
					k, total := early(canary)
					lo, hi := exactBounds(k, total, earlyAlpha)
					if (gt.Max != nil && lo > *gt.Max) || (gt.Min != nil && hi < *gt.Min) {
						r.Status, r.Early = Fail, true
					}
				}
			}
		}
		out[i] = r
	}
	return out
}

// Overall is Fail when any result fails, else Hold when any holds, else
// Pass (Hold for no results).
func Overall(results []GateResult) Status {
	s := Pass
	if len(results) == 0 {
		s = Hold
	}
	for _, r := range results {
		switch r.Status {
		case Fail:
			return Fail
		case Hold:
			s = Hold
		}
	}
	return s
}
