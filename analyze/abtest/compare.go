package abtest

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// Kind is the kind of a metric, which picks its test.
type Kind string

const (
	// Continuous is a metric of any real value per user (revenue, rating):
	// Welch's t-test.
	Continuous Kind = "continuous"
	// Binomial is a 0/1 outcome per user (converted or not): the Wald
	// z-test of two proportions. Only Users and Sum are read (SumSq is
	// ignored), Sum being the users with the outcome.
	Binomial Kind = "binomial"
)

// Correction is a multiple-comparison correction of p-values.
type Correction string

const (
	// Holm is the Holm–Bonferroni step-down correction: the family-wise
	// error rate stays at most α.
	Holm Correction = "holm"
	// BH is the Benjamini–Hochberg step-up correction: the false discovery
	// rate stays at most α (for independent or positively dependent tests).
	BH Correction = "bh"
	// NoCorrection leaves the p-values as they are.
	NoCorrection Correction = "none"
)

// Defaults of a Config's zero fields and of a Plan's.
const (
	DefaultAlpha      = 0.05
	DefaultTuning     = 5000
	DefaultSRMAlpha   = 0.001
	DefaultPower      = 0.8
	DefaultCorrection = Holm
	DefaultMinSample  = 30
)

// Config is how the tests are made. The zero Config is a fixed-horizon
// test at α = 0.05 without CUPED, Holm-corrected, SRM at 0.001.
type Config struct {
	// Alpha is the two-sided significance level, in (0, 1); 0 means
	// DefaultAlpha.
	Alpha float64 `json:"alpha"`
	// Sequential makes every interval an always-valid confidence sequence.
	Sequential bool `json:"sequential"`
	// Tuning is the sequential tuning parameter: the total users (both
	// variants) at which the sequence is narrowest; 0 means DefaultTuning.
	Tuning float64 `json:"sequential_tuning,omitempty"`
	// CUPED adjusts every metric whose summaries carry a covariate.
	CUPED bool `json:"cuped"`
	// Correction is applied over goal metrics and over segments; ""
	// means DefaultCorrection.
	Correction Correction `json:"correction"`
	// SRMAlpha is the sample-ratio check's level; 0 means DefaultSRMAlpha.
	SRMAlpha float64 `json:"srm_alpha"`
	// MinSample is the least data a metric needs in each variant before
	// it is tested: users with and users without the outcome (binomial),
	// users (continuous); 0 means DefaultMinSample, negative none (2
	// users). Below it the normal approximations, and the lift's delta
	// method above all, are not to be trusted.
	MinSample int64 `json:"min_sample"`
}

// withDefaults fills the zero fields and checks the others.
func (c Config) withDefaults() (Config, error) {
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	if c.Tuning == 0 {
		c.Tuning = DefaultTuning
	}
	if c.SRMAlpha == 0 {
		c.SRMAlpha = DefaultSRMAlpha
	}
	if c.Correction == "" {
		c.Correction = DefaultCorrection
	}
	if c.MinSample == 0 {
		c.MinSample = DefaultMinSample
	}
	switch {
	case !(c.Alpha > 0 && c.Alpha < 1):
		return c, &input.Error{Field: "alpha", Msg: fmt.Sprintf("want 0 < alpha < 1, got %g", c.Alpha)}
	case !(c.Tuning > 0) || math.IsInf(c.Tuning, 0):
		return c, &input.Error{Field: "sequential_tuning", Msg: fmt.Sprintf("want a positive number of users, got %g", c.Tuning)}
	case !(c.SRMAlpha > 0 && c.SRMAlpha < 1):
		return c, &input.Error{Field: "srm_alpha", Msg: fmt.Sprintf("want 0 < srm_alpha < 1, got %g", c.SRMAlpha)}
	case c.Correction != Holm && c.Correction != BH && c.Correction != NoCorrection:
		return c, &input.Error{Field: "correction", Msg: fmt.Sprintf("want holm, bh or none, got %q", c.Correction)}
	}
	return c, nil
}

// Estimate is one effect with its interval and two-sided p-value.
type Estimate struct {
	Value float64 `json:"value"`
	// SE is the standard error of Value.
	SE    float64 `json:"se"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// PValue is two-sided; with a sequential test it is always valid.
	PValue float64 `json:"p_value"`
	// Significant is PValue < α, the same as the interval excluding 0.
	Significant bool `json:"significant"`
}

// Arm is one variant's side of a comparison.
type Arm struct {
	Users int64   `json:"users"`
	Mean  float64 `json:"mean"`
}

// CUPEDResult is what CUPED did to a comparison.
type CUPEDResult struct {
	Theta float64 `json:"theta"`
	// ControlMean and TreatmentMean are the adjusted means the test used.
	ControlMean   float64 `json:"control_mean"`
	TreatmentMean float64 `json:"treatment_mean"`
	// VarianceReduction is 1 − se²(adjusted)/se²(unadjusted) of the
	// difference: 0.3 means the interval is sqrt(0.7) as wide.
	VarianceReduction float64 `json:"variance_reduction"`
}

// Method names of Result.Method.
const (
	MethodWelch      = "welch-t"
	MethodZ          = "wald-z"
	MethodSequential = "sequential"
)

// Result is the comparison of a treatment with the control on one metric.
type Result struct {
	Kind   Kind    `json:"kind"`
	Method string  `json:"method"`
	Alpha  float64 `json:"alpha"`
	// Tuning is the sequential tuning parameter (sequential only).
	Tuning    float64 `json:"sequential_tuning,omitempty"`
	Control   Arm     `json:"control"`
	Treatment Arm     `json:"treatment"`
	// Absolute is the difference of means, treatment − control.
	Absolute Estimate `json:"absolute"`
	// Relative is the lift, treatment/control − 1; nil when the
	// control mean is not positive.
	Relative *Estimate `json:"relative,omitempty"`
	// DF is Welch's degrees of freedom; 0 where the normal is used.
	DF    float64      `json:"df,omitempty"`
	CUPED *CUPEDResult `json:"cuped,omitempty"`
	// Insufficient says why nothing could be tested ("" when the test
	// ran); the estimates are then zero with p-value 1.
	Insufficient string `json:"insufficient,omitempty"`
}

// Compare tests treatment against control on one metric of the given
// kind. Bad summaries or config are errors wrapping input.ErrInput; too
// little data is a Result with Insufficient set.
func Compare(control, treatment Summary, kind Kind, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if err := checkKind(kind); err != nil {
		return Result{}, err
	}
	if err := control.checkAt(kind, func() string { return "control." }); err != nil {
		return Result{}, err
	}
	if err := treatment.checkAt(kind, func() string { return "treatment." }); err != nil {
		return Result{}, err
	}
	return compare(control, treatment, kind, cfg), nil
}

func checkKind(k Kind) error {
	if k != Binomial && k != Continuous {
		return &input.Error{Field: "kind", Msg: fmt.Sprintf("want binomial or continuous, got %q", k)}
	}
	return nil
}

// moments are one variant's figures for a test: users, mean and the
// per-user variance (divisor n−1 for continuous metrics, n for binomial).
type moments struct{ n, mean, v float64 }

func momentsOf(s Summary, kind Kind) moments {
	m := moments{n: float64(s.Users), mean: s.Mean()}
	if kind == Binomial {
		m.v = m.mean * (1 - m.mean)
	} else {
		m.v = s.Variance()
	}
	return m
}

// compare is Compare on checked input and a filled config.
func compare(control, treatment Summary, kind Kind, cfg Config) Result {
	r := Result{
		Kind:      kind,
		Alpha:     cfg.Alpha,
		Control:   Arm{Users: control.Users, Mean: control.Mean()},
		Treatment: Arm{Users: treatment.Users, Mean: treatment.Mean()},
	}
	switch {
	case cfg.Sequential:
		r.Method, r.Tuning = MethodSequential, cfg.Tuning
	case kind == Binomial:
		r.Method = MethodZ
	default:
		r.Method = MethodWelch
	}
	if control.Users < 2 || treatment.Users < 2 {
		return r.insufficient(fmt.Sprintf("too few users: %d in control, %d in treatment (want 2 or more each)", control.Users, treatment.Users))
	}
	if why := tooSmall(control, treatment, kind, cfg.MinSample); why != "" {
		return r.insufficient(why)
	}
	c, t := momentsOf(control, kind), momentsOf(treatment, kind)
	rawSE2 := c.v/c.n + t.v/t.n
	if cfg.CUPED && (control.hasCovariate() || treatment.hasCovariate()) {
		if theta, ok := cupedTheta(control, treatment); ok {
			xbar := (control.SumX + treatment.SumX) / (c.n + t.n)
			c = adjust(c, control, kind, theta, xbar)
			t = adjust(t, treatment, kind, theta, xbar)
			r.CUPED = &CUPEDResult{Theta: theta, ControlMean: c.mean, TreatmentMean: t.mean}
			if rawSE2 > 0 {
				r.CUPED.VarianceReduction = 1 - (c.v/c.n+t.v/t.n)/rawSE2
			}
		}
	}
	a, b := c.v/c.n, t.v/t.n
	se := math.Sqrt(a + b)
	if !(se > 0) {
		if r.CUPED != nil {
			return r.insufficient("no variation left: the covariate predicts every user's value exactly")
		}
		return r.insufficient("no variation: every user has the same value in both variants")
	}
	if r.Method == MethodWelch {
		r.DF = (a + b) * (a + b) / (a*a/(c.n-1) + b*b/(t.n-1))
	}
	n := c.n + t.n
	r.Absolute = r.estimate(t.mean-c.mean, se, n)
	if c.mean > 0 {
		rel := math.Sqrt(t.v/(t.n*c.mean*c.mean) + t.mean*t.mean*c.v/(c.n*c.mean*c.mean*c.mean*c.mean))
		e := r.estimate(t.mean/c.mean-1, rel, n)
		r.Relative = &e
	}
	return r
}

// tooSmall says why the variants hold less than min, "" when they do not.
func tooSmall(c, t Summary, kind Kind, min int64) string {
	if kind == Binomial {
		least := math.Min(math.Min(c.Sum, float64(c.Users)-c.Sum), math.Min(t.Sum, float64(t.Users)-t.Sum))
		if least < float64(min) {
			return fmt.Sprintf("too few outcomes: %g and %g users of %d and %d have it in control and treatment (want %d or more with and without it in each)",
				c.Sum, t.Sum, c.Users, t.Users, min)
		}
		return ""
	}
	if c.Users < min || t.Users < min {
		return fmt.Sprintf("too few users: %d in control, %d in treatment (want %d or more each)", c.Users, t.Users, min)
	}
	return ""
}

func (r Result) insufficient(why string) Result {
	r.Insufficient = why
	r.Absolute = Estimate{PValue: 1}
	r.Relative = nil
	r.CUPED = nil
	return r
}

// adjust returns m with CUPED's adjusted mean and variance.
func adjust(m moments, s Summary, kind Kind, theta, xbar float64) moments {
	ddof := 1.0
	if kind == Binomial {
		ddof = 0
	}
	xm := s.SumX / m.n
	vx := max(0, (s.SumXSq-s.SumX*xm)/(m.n-ddof))
	cxy := (s.SumXY - s.SumX*s.Sum/m.n) / (m.n - ddof)
	return moments{
		n:    m.n,
		mean: m.mean - theta*(xm-xbar),
		v:    max(0, m.v+theta*theta*vx-2*theta*cxy),
	}
}

// cupedTheta is the pooled within-variant slope of Y on X; false when X
// does not vary within the variants.
func cupedTheta(c, t Summary) (float64, bool) {
	var sxy, sxx float64
	for _, s := range []Summary{c, t} {
		n := float64(s.Users)
		sxy += s.SumXY - s.SumX*s.Sum/n
		sxx += s.SumXSq - s.SumX*s.SumX/n
	}
	// Below this the covariate's variation is rounding error.
	if !(sxx > 1e-12*(c.SumXSq+t.SumXSq)) {
		return 0, false
	}
	return sxy / sxx, true
}

// estimate makes the interval and p-value of value with its standard
// error by the result's method, over n users in all.
func (r Result) estimate(value, se, n float64) Estimate {
	e := Estimate{Value: value, SE: se}
	lo, hi := r.bounds(value, se, n, r.Alpha)
	e.Lower, e.Upper = lo, hi
	z := value / se
	switch r.Method {
	case MethodSequential:
		e.PValue = seqPValue(z, n, r.Alpha, r.Tuning)
	default:
		e.PValue = 2 * r.dist().Survival(math.Abs(z))
	}
	e.Significant = e.PValue < r.Alpha
	return e
}

// maxTDF is the degrees of freedom above which the t distribution is
// taken as the normal: their quantiles differ by less than 3·10⁻⁷ there,
// less than gonum's error for t beyond.
const maxTDF = 1e7

// dist is the distribution of the fixed-horizon statistic: Student's t
// with Welch's df, or the normal.
func (r Result) dist() interface {
	Quantile(p float64) float64
	Survival(x float64) float64
} {
	if r.Method == MethodWelch && r.DF <= maxTDF {
		return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: r.DF}
	}
	return distuv.UnitNormal
}

// bounds is the two-sided interval at level 1−alpha of value ± crit·se.
func (r Result) bounds(value, se, n, alpha float64) (lo, hi float64) {
	var crit float64
	switch r.Method {
	case MethodSequential:
		crit = seqCrit(n, alpha, r.Tuning)
	default:
		crit = r.dist().Quantile(1 - alpha/2)
	}
	return value - crit*se, value + crit*se
}

// oneSided returns the lower and upper one-sided bounds at level 1−alpha
// of e (the two-sided interval at 1−2·alpha).
func (r Result) oneSided(e Estimate, alpha float64) (lo, hi float64) {
	return r.bounds(e.Value, e.SE, float64(r.Control.Users+r.Treatment.Users), 2*alpha)
}
