package abtest

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// Plan is what the sample-size planner is asked. Each field names the
// flag of `gonogo ab plan` that its errors name.
type Plan struct {
	// Kind is Binomial (BaselineRate) or Continuous (Mean, SD).
	Kind Kind `json:"kind"`
	// BaselineRate is the control's conversion rate, in (0, 1)
	// (--baseline-rate).
	BaselineRate float64 `json:"baseline_rate,omitempty"`
	// Mean and SD are the control's mean and standard deviation per user
	// (--mean, --sd); the treatment's SD is taken to be the same.
	Mean float64 `json:"mean,omitempty"`
	SD   float64 `json:"sd,omitempty"`
	// MDE is the minimum detectable effect, relative: 0.03 is a +3 % lift
	// (--mde). Negative plans for a decrease.
	MDE float64 `json:"mde"`
	// Alpha is the two-sided level, 0 meaning DefaultAlpha (--alpha).
	Alpha float64 `json:"alpha,omitempty"`
	// Power is the probability of detecting MDE, 0 meaning DefaultPower
	// (--power).
	Power float64 `json:"power,omitempty"`
	// TreatmentShare is the treatment's share of the users, in (0, 1),
	// 0 meaning 0.5 (--split).
	TreatmentShare float64 `json:"treatment_share,omitempty"`
	// UsersPerHour is the number of users entering the experiment per
	// hour, both variants together (--users-per-hour).
	UsersPerHour float64 `json:"users_per_hour"`
	// Sequential also plans for a sequential test with the tuning
	// parameter Tuning, 0 meaning DefaultTuning (--sequential-tuning).
	Sequential bool    `json:"sequential,omitempty"`
	Tuning     float64 `json:"sequential_tuning,omitempty"`
}

// Sample is a planned sample and how long it takes to gather.
type Sample struct {
	ControlUsers   int64   `json:"control_users"`
	TreatmentUsers int64   `json:"treatment_users"`
	TotalUsers     int64   `json:"total_users"`
	Hours          float64 `json:"hours"`
}

// Duration is Hours as a time.Duration, to the second.
func (s Sample) Duration() time.Duration {
	return time.Duration(math.Ceil(s.Hours*3600)) * time.Second
}

// PlanResult is the planner's answer.
type PlanResult struct {
	// Plan is the question with its defaults filled.
	Plan Plan `json:"plan"`
	// ControlMean and TreatmentMean are the means planned for (rates
	// for a binomial metric).
	ControlMean   float64 `json:"control_mean"`
	TreatmentMean float64 `json:"treatment_mean"`
	// Fixed is the sample of a fixed-horizon test, looked at once.
	Fixed Sample `json:"fixed"`
	// Sequential is the sample at which the confidence sequence at that
	// look alone has the power asked for (nil unless Plan.Sequential);
	// earlier looks can only add detections.
	Sequential *Sample `json:"sequential,omitempty"`
	// Note is advice on the sequential tuning, when it is far from the
	// sample.
	Note string `json:"note,omitempty"`
}

// PlanSample plans the users and the duration of an experiment (see the
// package doc for the formula, which matches statsmodels'
// NormalIndPower). Impossible arguments are errors wrapping
// input.ErrInput, naming the flag: "--mde: …".
func PlanSample(p Plan) (*PlanResult, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	out := &PlanResult{Plan: p}
	var vc, vt float64
	if p.Kind == Binomial {
		p1, p2 := p.BaselineRate, p.BaselineRate*(1+p.MDE)
		out.ControlMean, out.TreatmentMean = p1, p2
		vc, vt = p1*(1-p1), p2*(1-p2)
	} else {
		out.ControlMean, out.TreatmentMean = p.Mean, p.Mean*(1+p.MDE)
		vc, vt = p.SD*p.SD, p.SD*p.SD
	}
	delta := math.Abs(out.TreatmentMean - out.ControlMean)
	s := p.TreatmentShare
	// se² = k/N over N users in all.
	k := vc/(1-s) + vt/s
	z := distuv.UnitNormal.Quantile(1 - p.Alpha/2)
	power := func(n, crit float64) float64 {
		u := delta * math.Sqrt(n/k)
		return distuv.UnitNormal.CDF(u-crit) + distuv.UnitNormal.CDF(-u-crit)
	}
	nFixed := solveN(func(n float64) float64 { return power(n, z) }, p.Power, 1)
	out.Fixed = p.sample(nFixed)
	if p.Sequential {
		nSeq := solveN(func(n float64) float64 { return power(n, seqCrit(n, p.Alpha, p.Tuning)) }, p.Power, nFixed)
		seq := p.sample(nSeq)
		out.Sequential = &seq
		if p.Tuning < nSeq/10 || p.Tuning > nSeq*10 {
			out.Note = fmt.Sprintf("The sequential tuning (%g users) is far from the %d users planned: a tuning near the sample makes the sequence narrowest where the decision is expected.", p.Tuning, seq.TotalUsers)
		}
	}
	return out, nil
}

// sample rounds n users in all up to whole users per variant.
func (p Plan) sample(n float64) Sample {
	s := Sample{
		ControlUsers:   int64(math.Ceil(n * (1 - p.TreatmentShare))),
		TreatmentUsers: int64(math.Ceil(n * p.TreatmentShare)),
	}
	s.TotalUsers = s.ControlUsers + s.TreatmentUsers
	s.Hours = float64(s.TotalUsers) / p.UsersPerHour
	return s
}

// solveN finds the total users at which power(n) reaches target by
// bisection, from lo up; power(n) increases with n there.
func solveN(power func(n float64) float64, target, lo float64) float64 {
	hi := max(2*lo, 4)
	for power(hi) < target {
		lo, hi = hi, 2*hi
	}
	for range 200 {
		mid := (lo + hi) / 2
		if power(mid) < target {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo <= 1e-9*hi {
			break
		}
	}
	return hi
}

// withDefaults fills the zero fields and checks the plan.
func (p Plan) withDefaults() (Plan, error) {
	bad := func(flag, format string, a ...any) (Plan, error) {
		return p, &input.Error{Field: flag, Msg: fmt.Sprintf(format, a...)}
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if p.Alpha == 0 {
		p.Alpha = DefaultAlpha
	}
	if p.Power == 0 {
		p.Power = DefaultPower
	}
	if p.TreatmentShare == 0 {
		p.TreatmentShare = 0.5
	}
	if p.Tuning == 0 {
		p.Tuning = DefaultTuning
	}
	switch p.Kind {
	case Binomial:
		if !(p.BaselineRate > 0 && p.BaselineRate < 1) {
			return bad("--baseline-rate", "want a rate in (0, 1), got %g", p.BaselineRate)
		}
	case Continuous:
		if !finite(p.Mean) || p.Mean == 0 {
			return bad("--mean", "a relative MDE needs a finite, non-zero mean, got %g", p.Mean)
		}
		if !finite(p.SD) || !(p.SD > 0) {
			return bad("--sd", "want a standard deviation > 0, got %g", p.SD)
		}
	default:
		return bad("--kind", "want binomial or continuous, got %q", p.Kind)
	}
	switch {
	case !finite(p.MDE) || p.MDE == 0:
		return bad("--mde", "want a non-zero relative effect (0.03 is +3 %%), got %g", p.MDE)
	case p.Kind == Binomial && p.BaselineRate*(1+p.MDE) >= 1:
		return bad("--mde", "%+g %% on a baseline of %g makes the treatment rate %g, not below 1", 100*p.MDE, p.BaselineRate, p.BaselineRate*(1+p.MDE))
	case p.Kind == Binomial && p.BaselineRate*(1+p.MDE) <= 0:
		return bad("--mde", "%+g %% on a baseline of %g makes the treatment rate %g, not above 0", 100*p.MDE, p.BaselineRate, p.BaselineRate*(1+p.MDE))
	case !(p.Alpha > 0 && p.Alpha < 1):
		return bad("--alpha", "want 0 < alpha < 1, got %g", p.Alpha)
	case !(p.Power > p.Alpha && p.Power < 1):
		return bad("--power", "want alpha (%g) < power < 1, got %g", p.Alpha, p.Power)
	case !(p.TreatmentShare > 0 && p.TreatmentShare < 1):
		return bad("--split", "want the treatment's share in (0, 1), got %g", p.TreatmentShare)
	case !finite(p.UsersPerHour) || !(p.UsersPerHour > 0):
		return bad("--users-per-hour", "want a number of users > 0, got %g", p.UsersPerHour)
	case !finite(p.Tuning) || !(p.Tuning > 0):
		return bad("--sequential-tuning", "want a number of users > 0, got %g", p.Tuning)
	}
	return p, nil
}
