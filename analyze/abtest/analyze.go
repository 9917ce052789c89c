package abtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// Role is what a metric is for in the decision.
type Role string

const (
	// Goal is a metric the treatment should improve; goals are corrected
	// for multiplicity.
	Goal Role = "goal"
	// Guardrail is a metric the treatment must not make worse beyond the
	// metric's margin (non-inferiority, one-sided).
	Guardrail Role = "guardrail"
)

// Metric is one metric of an experiment with its summaries.
type Metric struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Role is Goal when empty.
	Role Role `json:"role,omitempty"`
	// LowerIsBetter marks metrics such as support tickets or latency.
	LowerIsBetter bool `json:"lower_is_better,omitempty"`
	// Margin is a relative lift ≥ 0 (0.01 is 1 %): how much worse than
	// the control a guardrail may be; for a goal, how much worse it may
	// be and still count as "equal" (0: a goal ships only when better).
	Margin float64 `json:"margin,omitempty"`
	// Summaries has one Summary per Experiment.Variants entry, in order.
	Summaries []Summary `json:"summaries"`
}

// Variant is one arm of an experiment.
type Variant struct {
	Name string `json:"name"`
	// Weight is the configured share of users, any scale; all zero
	// means an equal split.
	Weight float64 `json:"weight"`
	// Users is the number of users assigned (exposed) to the variant.
	Users int64 `json:"users"`
}

// Experiment is what Analyze reads: the first variant is the control.
type Experiment struct {
	Variants []Variant `json:"variants"`
	Metrics  []Metric  `json:"metrics"`
}

// Status is the finding on one metric for one treatment.
type Status string

const (
	// StatusBetter: significantly better (goals, after correction).
	StatusBetter Status = "better"
	// StatusWorse: a goal significantly worse, or a guardrail worse
	// beyond its margin.
	StatusWorse Status = "worse"
	// StatusNonInferior: shown not worse beyond the margin.
	StatusNonInferior Status = "non-inferior"
	// StatusInconclusive: not yet any of the above.
	StatusInconclusive Status = "inconclusive"
	// StatusUndefined: no test could be made (too little data, or a
	// control mean of 0 so that the lift is undefined).
	StatusUndefined Status = "undefined"
)

// MetricResult is one metric compared between one treatment and the
// control, judged.
type MetricResult struct {
	Metric        string  `json:"metric"`
	Variant       string  `json:"variant"`
	Role          Role    `json:"role"`
	LowerIsBetter bool    `json:"lower_is_better,omitempty"`
	Margin        float64 `json:"margin,omitempty"`
	Result        Result  `json:"result"`
	// AdjustedP is the p-value of the lift after the correction over
	// the goal family (goals); a guardrail's is its p-value as it is.
	AdjustedP float64 `json:"adjusted_p"`
	Status    Status  `json:"status"`
	// Reason is the finding in one sentence.
	Reason string `json:"reason"`
}

// Verdict is the decision on one treatment.
type Verdict string

const (
	// Ship: better or equal — promote.
	Ship Verdict = "ship"
	// Worse: roll back.
	Worse Verdict = "worse"
	// NotYetDecided: keep running, or ask a person.
	NotYetDecided Verdict = "not-yet-decided"
	// Invalid: the sample ratio mismatches; no metric can be trusted.
	Invalid Verdict = "invalid"
)

// Decision is the verdict on one treatment with its reasons, each a
// short sentence.
type Decision struct {
	Variant string   `json:"variant"`
	Verdict Verdict  `json:"verdict"`
	Reasons []string `json:"reasons"`
}

// Report is the analysis of an experiment.
type Report struct {
	// Config is the configuration used, defaults filled.
	Config  Config     `json:"config"`
	Control string     `json:"control"`
	SRM     *SRMResult `json:"srm,omitempty"`
	// Metrics holds each metric for each treatment, metric-major.
	Metrics   []MetricResult `json:"metrics"`
	Decisions []Decision     `json:"decisions"`
}

// Analyze compares every treatment with the control on every metric,
// corrects the goals for multiplicity, checks the sample ratio and
// decides per treatment. Bad input (one variant only, negative counts,
// NaN, summaries that do not match the variants) is an error wrapping
// input.ErrInput that names the field.
func Analyze(exp Experiment, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	weights, err := checkExperiment(exp)
	if err != nil {
		return nil, err
	}
	rep := &Report{Config: cfg, Control: exp.Variants[0].Name, Metrics: make([]MetricResult, 0, len(exp.Metrics)*(len(exp.Variants)-1))}
	observed := make(map[string]int64, len(exp.Variants))
	for _, v := range exp.Variants {
		observed[v.Name] = v.Users
	}
	if rep.SRM, err = SRM(observed, weights, cfg.SRMAlpha); err != nil {
		return nil, err
	}
	var goals []int
	for _, m := range exp.Metrics {
		role := m.Role
		if role == "" {
			role = Goal
		}
		for vi, v := range exp.Variants[1:] {
			r := compare(m.Summaries[0], m.Summaries[vi+1], m.Kind, cfg)
			mr := MetricResult{Metric: m.Name, Variant: v.Name, Role: role, LowerIsBetter: m.LowerIsBetter, Margin: m.Margin, Result: r, AdjustedP: liftP(r)}
			if role == Goal {
				goals = append(goals, len(rep.Metrics))
			}
			rep.Metrics = append(rep.Metrics, mr)
		}
	}
	p := make([]float64, len(goals))
	for i, k := range goals {
		p[i] = rep.Metrics[k].AdjustedP
	}
	adj, err := Adjust(p, cfg.Correction)
	if err != nil {
		return nil, err
	}
	for i, k := range goals {
		rep.Metrics[k].AdjustedP = adj[i]
	}
	for i := range rep.Metrics {
		judge(&rep.Metrics[i], cfg)
	}
	for _, v := range exp.Variants[1:] {
		var mine []MetricResult
		for _, mr := range rep.Metrics {
			if mr.Variant == v.Name {
				mine = append(mine, mr)
			}
		}
		rep.Decisions = append(rep.Decisions, Decide(v.Name, mine, rep.SRM))
	}
	return rep, nil
}

// checkExperiment checks exp and returns the weights for SRM.
func checkExperiment(exp Experiment) (map[string]float64, error) {
	bad := func(field, format string, a ...any) error {
		return &input.Error{Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if len(exp.Variants) < 2 {
		return nil, bad("variants", "an experiment needs a control and at least one treatment, got %d variant(s)", len(exp.Variants))
	}
	weights := map[string]float64{}
	var total float64
	for i, v := range exp.Variants {
		f := "variants[" + strconv.Itoa(i) + "]"
		switch {
		case v.Name == "":
			return nil, bad(f+".name", "empty")
		case hasKey(weights, v.Name):
			return nil, bad(f+".name", "%q twice", v.Name)
		case !(v.Weight >= 0) || math.IsInf(v.Weight, 0):
			return nil, bad(f+".weight", "want a finite weight ≥ 0, got %g", v.Weight)
		case v.Users < 0:
			return nil, bad(f+".users", "negative (%d)", v.Users)
		}
		weights[v.Name] = v.Weight
		total += v.Weight
	}
	for i, v := range exp.Variants {
		if total == 0 {
			weights[v.Name] = 1
		} else if v.Weight == 0 {
			return nil, bad(fmt.Sprintf("variants[%d].weight", i), "0 while others have weight: every variant of an experiment needs a share")
		}
	}
	seen := map[string]bool{}
	for i, m := range exp.Metrics {
		f := "metrics[" + strconv.Itoa(i) + "]"
		switch {
		case m.Name == "":
			return nil, bad(f+".name", "empty")
		case seen[m.Name]:
			return nil, bad(f+".name", "%q twice", m.Name)
		case m.Role != "" && m.Role != Goal && m.Role != Guardrail:
			return nil, bad(f+".role", "want goal or guardrail, got %q", m.Role)
		case !(m.Margin >= 0) || math.IsInf(m.Margin, 0):
			return nil, bad(f+".margin", "want a relative margin ≥ 0 (0.01 is 1 %%), got %g", m.Margin)
		case len(m.Summaries) != len(exp.Variants):
			return nil, bad(f+".summaries", "%d summaries for %d variants", len(m.Summaries), len(exp.Variants))
		}
		seen[m.Name] = true
		if err := checkKind(m.Kind); err != nil {
			return nil, bad(f+".kind", "want binomial or continuous, got %q", m.Kind)
		}
		for j, s := range m.Summaries {
			if err := s.checkAt(m.Kind, func() string { return fmt.Sprintf("metrics[%s].summaries[%s].", m.Name, exp.Variants[j].Name) }); err != nil {
				return nil, err
			}
		}
	}
	return weights, nil
}

func hasKey(m map[string]float64, k string) bool { _, ok := m[k]; return ok }

// liftP is the p-value a metric is judged by: the lift's, or the
// difference's where the lift is undefined.
func liftP(r Result) float64 {
	if r.Relative != nil {
		return r.Relative.PValue
	}
	return r.Absolute.PValue
}

// judge sets m's Status and Reason.
func judge(m *MetricResult, cfg Config) {
	r := m.Result
	name := m.Metric
	if m.Role == Guardrail {
		name = "guardrail " + name
	}
	if m.LowerIsBetter {
		name += " (lower is better)"
	}
	switch {
	case r.Insufficient != "":
		m.Status, m.Reason = StatusUndefined, fmt.Sprintf("%s cannot be judged: %s.", name, r.Insufficient)
		return
	case r.Relative == nil:
		m.Status, m.Reason = StatusUndefined, fmt.Sprintf("%s cannot be judged: the control's mean is %g, so the lift is undefined.", name, r.Control.Mean)
		return
	}
	e := *r.Relative
	lo, hi := r.oneSided(e, cfg.Alpha)
	goodLo, goodHi, sign := lo, hi, 1.0
	if m.LowerIsBetter {
		goodLo, goodHi, sign = -hi, -lo, -1
	}
	switch {
	case m.Role == Guardrail && goodLo > -m.Margin:
		m.Status = StatusNonInferior
	case m.Role == Guardrail && goodHi < -m.Margin:
		m.Status = StatusWorse
	case m.Role == Guardrail:
		m.Status = StatusInconclusive
	case m.AdjustedP < cfg.Alpha && sign*e.Value > 0:
		m.Status = StatusBetter
	case m.AdjustedP < cfg.Alpha && sign*e.Value < 0:
		m.Status = StatusWorse
	case m.Margin > 0 && goodLo > -m.Margin:
		m.Status = StatusNonInferior
	default:
		m.Status = StatusInconclusive
	}
	m.Reason = reason(m, name, e, lo, hi, cfg)
}

// reason is the sentence of a judged metric: the lift with its
// interval, or with the one-sided bound that decided against the margin.
func reason(m *MetricResult, name string, e Estimate, lo, hi float64, cfg Config) string {
	margin := 100 * m.Margin
	// bound is the worst (or the best) lift the data allow, one-sided.
	bound := func(worst bool) string {
		word, v := "not below", lo
		switch {
		case worst && m.LowerIsBetter:
			word, v = "not above", hi
		case !worst && m.LowerIsBetter:
			word, v = "at least", lo
		case !worst:
			word, v = "at most", hi
		}
		return fmt.Sprintf("lift %s, %s %s (one-sided %g %%)", pct(e.Value), word, pct(v), 100*(1-cfg.Alpha))
	}
	lift := func() string { return fmt.Sprintf("lift %s [%s, %s]", pct(e.Value), pct(e.Lower), pct(e.Upper)) }
	p := func() string {
		if cfg.Correction == NoCorrection {
			return fmt.Sprintf("p = %.2g", m.AdjustedP)
		}
		return fmt.Sprintf("%s-adjusted p = %.2g", cfg.Correction, m.AdjustedP)
	}
	switch {
	case m.Role == Guardrail && m.Status == StatusNonInferior:
		return fmt.Sprintf("%s holds within its %.3g %% margin: %s.", name, margin, bound(true))
	case m.Role == Guardrail && m.Status == StatusWorse:
		return fmt.Sprintf("%s is worse beyond its %.3g %% margin: %s.", name, margin, bound(false))
	case m.Role == Guardrail:
		return fmt.Sprintf("%s is not yet shown within its %.3g %% margin: %s.", name, margin, lift())
	case m.Status == StatusBetter:
		return fmt.Sprintf("%s is better: %s, %s.", name, lift(), p())
	case m.Status == StatusWorse:
		return fmt.Sprintf("%s is worse: %s, %s.", name, lift(), p())
	case m.Status == StatusNonInferior:
		return fmt.Sprintf("%s is equal or better within its %.3g %% margin: %s.", name, margin, bound(true))
	}
	return fmt.Sprintf("%s is not yet decided: %s, %s.", name, lift(), p())
}

// pct writes a relative value as a signed percentage.
func pct(v float64) string {
	s := fmt.Sprintf("%+.3g %%", 100*v)
	if v == 0 {
		s = "0 %"
	}
	return s
}

// Decide is the verdict on one treatment from its judged metric results
// (Status set, as Analyze sets it) and the sample-ratio check (nil when
// not made):
//   - Invalid when the sample ratio mismatches;
//   - Worse when a metric's status is StatusWorse (a goal significantly
//     worse, a guardrail worse beyond its margin);
//   - Ship ("better or equal") when every guardrail is non-inferior and
//     a goal is better or every goal better or non-inferior;
//   - NotYetDecided otherwise.
func Decide(variant string, results []MetricResult, srm *SRMResult) Decision {
	d := Decision{Variant: variant}
	if srm != nil && srm.Mismatch {
		d.Verdict = Invalid
		d.Reasons = []string{srmSentence(srm)}
		return d
	}
	if len(results) == 0 {
		d.Verdict, d.Reasons = NotYetDecided, []string{"There are no metrics to judge."}
		return d
	}
	var worse, good, open []string
	anyBetter, goalsOK, guardsOK := false, true, true
	for _, m := range results {
		switch m.Status {
		case StatusWorse:
			worse = append(worse, m.Reason)
		case StatusBetter:
			anyBetter = true
			good = append(good, m.Reason)
		case StatusNonInferior:
			good = append(good, m.Reason)
		default:
			open = append(open, m.Reason)
			if m.Role == Guardrail {
				guardsOK = false
			} else {
				goalsOK = false
			}
		}
	}
	switch {
	case len(worse) > 0:
		d.Verdict, d.Reasons = Worse, worse
	case guardsOK && (anyBetter || goalsOK):
		d.Verdict, d.Reasons = Ship, good
	default:
		d.Verdict, d.Reasons = NotYetDecided, open
	}
	return d
}

func srmSentence(s *SRMResult) string {
	var obs, exp []string
	for _, k := range sortedKeys(s.Observed) {
		obs = append(obs, fmt.Sprintf("%s=%d", k, s.Observed[k]))
	}
	for _, k := range sortedKeys(s.Expected) {
		exp = append(exp, fmt.Sprintf("%s=%.0f", k, s.Expected[k]))
	}
	return fmt.Sprintf("Sample ratio mismatch: users %s against %s expected (chi-square p = %.2g < %g), so no metric can be trusted.",
		strings.Join(obs, " "), strings.Join(exp, " "), s.PValue, s.Alpha)
}
