package abtest

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// Cohort is the users first exposed in one time bucket, control and
// treatment, with their outcomes so far.
type Cohort struct {
	Label     string  `json:"label"`
	Control   Summary `json:"control"`
	Treatment Summary `json:"treatment"`
}

// CohortLift is one cohort's comparison.
type CohortLift struct {
	Label  string `json:"label"`
	Result Result `json:"result"`
}

// NoveltyResult is the effect by exposure cohort and whether it decays.
type NoveltyResult struct {
	Cohorts []CohortLift `json:"cohorts"`
	// Slope is the weighted least-squares slope of the lift per cohort
	// (3 or more cohorts with a lift), SlopeSE its standard error and
	// SlopeP the one-sided p-value of a decrease.
	Slope   float64 `json:"slope,omitempty"`
	SlopeSE float64 `json:"slope_se,omitempty"`
	SlopeP  float64 `json:"slope_p,omitempty"`
	// Decay is the flag; Reasons say why, or why not, in sentences.
	Decay   bool     `json:"decay"`
	Reasons []string `json:"reasons"`
}

// Novelty compares each cohort (in time order) and flags a decaying
// lift: (a) a later cohort's lift below the first's, one-sided at
// α/(2(K−1)) each, or (b) a negative weighted slope of the lift over the
// cohort index, one-sided at α/2 (see the package doc). Cohorts whose lift
// is undefined are shown but left out of the rule. Fewer than 2 cohorts,
// and bad summaries, are errors wrapping input.ErrInput.
func Novelty(cohorts []Cohort, kind Kind, cfg Config) (*NoveltyResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	if len(cohorts) < 2 {
		return nil, &input.Error{Field: "cohorts", Msg: fmt.Sprintf("novelty needs 2 or more cohorts, got %d", len(cohorts))}
	}
	out := &NoveltyResult{}
	var idx []float64
	var lifts []Estimate
	var labels []string
	for i, c := range cohorts {
		for _, side := range []struct {
			name string
			s    Summary
		}{{"control", c.Control}, {"treatment", c.Treatment}} {
			if err := side.s.checkAt(kind, func() string { return fmt.Sprintf("cohorts[%d].%s.", i, side.name) }); err != nil {
				return nil, err
			}
		}
		r := compare(c.Control, c.Treatment, kind, cfg)
		out.Cohorts = append(out.Cohorts, CohortLift{Label: c.Label, Result: r})
		if r.Relative != nil {
			idx = append(idx, float64(i))
			lifts = append(lifts, *r.Relative)
			labels = append(labels, c.Label)
		}
	}
	k := len(lifts)
	if k < 2 {
		out.Reasons = []string{fmt.Sprintf("%d cohort(s) with a lift: too few cohorts to judge novelty.", k)}
		return out, nil
	}
	// (a) later cohorts against the first.
	level := cfg.Alpha / (2 * float64(k-1))
	first := lifts[0]
	for i := 1; i < k; i++ {
		z := (first.Value - lifts[i].Value) / math.Hypot(first.SE, lifts[i].SE)
		if p := distuv.UnitNormal.Survival(z); p < level {
			out.Decay = true
			out.Reasons = append(out.Reasons, fmt.Sprintf("Cohort %s's lift %s is below the first cohort's (%s, %s): one-sided p = %.2g < %.2g.",
				labels[i], pct(lifts[i].Value), labels[0], pct(first.Value), p, level))
		}
	}
	// (b) the weighted trend.
	if k >= 3 {
		var sw, swx, swy float64
		for i, e := range lifts {
			w := 1 / (e.SE * e.SE)
			sw += w
			swx += w * idx[i]
			swy += w * e.Value
		}
		xm, ym := swx/sw, swy/sw
		var sxx, sxy float64
		for i, e := range lifts {
			w := 1 / (e.SE * e.SE)
			sxx += w * (idx[i] - xm) * (idx[i] - xm)
			sxy += w * (idx[i] - xm) * (e.Value - ym)
		}
		out.Slope, out.SlopeSE = sxy/sxx, 1/math.Sqrt(sxx)
		out.SlopeP = distuv.UnitNormal.CDF(out.Slope / out.SlopeSE)
		if out.SlopeP < cfg.Alpha/2 {
			out.Decay = true
			out.Reasons = append(out.Reasons, fmt.Sprintf("The lift falls by %.3g points per cohort (weighted slope, one-sided p = %.2g < %g).",
				-100*out.Slope, out.SlopeP, cfg.Alpha/2))
		}
	}
	if !out.Decay {
		out.Reasons = append(out.Reasons, fmt.Sprintf("No decay: no later cohort's lift is significantly below the first's (%s), and the trend over %d cohorts is not significantly negative.", pct(first.Value), k))
	}
	return out, nil
}
