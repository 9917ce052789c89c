package abtest

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// reference is testdata/reference.json, made by
//
//	/usr/bin/python3 testdata/reference.py > testdata/reference.json
//
// (scipy 1.10, statsmodels 0.13).
type reference struct {
	Welch []struct {
		Name               string
		Alpha              float64
		Control, Treatment Summary
		Diff, T, P, DF     float64
		Lower, Upper       float64
		Lift               float64
		LiftSE             float64 `json:"lift_se"`
		LiftLower          float64 `json:"lift_lower"`
		LiftUpper          float64 `json:"lift_upper"`
		LiftP              float64 `json:"lift_p"`
	}
	Proportions []struct {
		Name               string
		Alpha              float64
		Control, Treatment Summary
		Diff, Z, P         float64
		Lower, Upper       float64
		Lift               float64
		LiftSE             float64 `json:"lift_se"`
		LiftLower          float64 `json:"lift_lower"`
		LiftUpper          float64 `json:"lift_upper"`
		LiftP              float64 `json:"lift_p"`
	}
	CUPED []struct {
		Name               string
		Alpha              float64
		Control, Treatment Summary
		Theta              float64
		ControlMean        float64 `json:"control_mean"`
		TreatmentMean      float64 `json:"treatment_mean"`
		VarianceReduction  float64 `json:"variance_reduction"`
		Diff, P, DF        float64
		Lower, Upper       float64
		Lift               float64
		LiftLower          float64 `json:"lift_lower"`
		LiftUpper          float64 `json:"lift_upper"`
		LiftP              float64 `json:"lift_p"`
	} `json:"cuped"`
	Sequential []struct {
		Name               string
		Alpha, Tuning      float64
		Control, Treatment Summary
		Diff, Lower, Upper float64
		Lift               float64
		LiftLower          float64 `json:"lift_lower"`
		LiftUpper          float64 `json:"lift_upper"`
	}
	SRM []struct {
		Name     string
		Observed []int64
		Weights  []float64
		Chi2, P  float64
	} `json:"srm"`
	Multiple []struct {
		P, Holm, BH []float64
	}
	Plans []struct {
		Name           string
		Kind           Kind
		Baseline       float64
		SD             *float64
		MDE            float64
		Alpha, Power   float64
		TreatmentShare float64 `json:"treatment_share"`
		ControlUsers   float64 `json:"control_users"`
		TreatmentUsers float64 `json:"treatment_users"`
	}
}

func loadReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// near fails unless got is within tol of want, relative to max(1, |want|).
func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if d := math.Abs(got - want); !(d <= tol*math.Max(1, math.Abs(want))) {
		t.Errorf("%s = %.12g, want %.12g (|diff| %.3g > %.3g)", what, got, want, d, tol)
	}
}

func TestWelchAgainstScipy(t *testing.T) {
	for _, c := range loadReference(t).Welch {
		t.Run(c.Name, func(t *testing.T) {
			r, err := Compare(c.Control, c.Treatment, Continuous, Config{Alpha: c.Alpha, MinSample: -1})
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != MethodWelch {
				t.Errorf("method %q", r.Method)
			}
			near(t, "diff", r.Absolute.Value, c.Diff, 1e-9)
			near(t, "t", r.Absolute.Value/r.Absolute.SE, c.T, 1e-9)
			near(t, "df", r.DF, c.DF, 1e-9)
			near(t, "p", r.Absolute.PValue, c.P, 1e-9)
			near(t, "lower", r.Absolute.Lower, c.Lower, 1e-9)
			near(t, "upper", r.Absolute.Upper, c.Upper, 1e-9)
			if r.Absolute.Significant != (c.P < c.Alpha) {
				t.Errorf("significant = %v with p %g", r.Absolute.Significant, c.P)
			}
			near(t, "lift", r.Relative.Value, c.Lift, 1e-9)
			near(t, "lift se", r.Relative.SE, c.LiftSE, 1e-9)
			near(t, "lift lower", r.Relative.Lower, c.LiftLower, 1e-9)
			near(t, "lift upper", r.Relative.Upper, c.LiftUpper, 1e-9)
			near(t, "lift p", r.Relative.PValue, c.LiftP, 1e-9)
		})
	}
}

func TestProportionsAgainstStatsmodels(t *testing.T) {
	for _, c := range loadReference(t).Proportions {
		t.Run(c.Name, func(t *testing.T) {
			r, err := Compare(c.Control, c.Treatment, Binomial, Config{Alpha: c.Alpha, MinSample: -1})
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != MethodZ || r.DF != 0 {
				t.Errorf("method %q df %g", r.Method, r.DF)
			}
			near(t, "diff", r.Absolute.Value, c.Diff, 1e-12)
			near(t, "z", r.Absolute.Value/r.Absolute.SE, c.Z, 1e-10)
			near(t, "p", r.Absolute.PValue, c.P, 1e-10)
			near(t, "lower", r.Absolute.Lower, c.Lower, 1e-10)
			near(t, "upper", r.Absolute.Upper, c.Upper, 1e-10)
			near(t, "lift", r.Relative.Value, c.Lift, 1e-12)
			near(t, "lift se", r.Relative.SE, c.LiftSE, 1e-12)
			near(t, "lift lower", r.Relative.Lower, c.LiftLower, 1e-10)
			near(t, "lift upper", r.Relative.Upper, c.LiftUpper, 1e-10)
			near(t, "lift p", r.Relative.PValue, c.LiftP, 1e-10)
		})
	}
}

func TestCUPEDAgainstRegression(t *testing.T) {
	for _, c := range loadReference(t).CUPED {
		t.Run(c.Name, func(t *testing.T) {
			r, err := Compare(c.Control, c.Treatment, Continuous, Config{Alpha: c.Alpha, CUPED: true})
			if err != nil {
				t.Fatal(err)
			}
			if r.CUPED == nil {
				t.Fatal("no CUPED result")
			}
			near(t, "theta", r.CUPED.Theta, c.Theta, 1e-9)
			near(t, "control mean", r.CUPED.ControlMean, c.ControlMean, 1e-9)
			near(t, "treatment mean", r.CUPED.TreatmentMean, c.TreatmentMean, 1e-9)
			near(t, "variance reduction", r.CUPED.VarianceReduction, c.VarianceReduction, 1e-8)
			near(t, "diff", r.Absolute.Value, c.Diff, 1e-9)
			near(t, "df", r.DF, c.DF, 1e-8)
			near(t, "p", r.Absolute.PValue, c.P, 1e-8)
			near(t, "lower", r.Absolute.Lower, c.Lower, 1e-8)
			near(t, "upper", r.Absolute.Upper, c.Upper, 1e-8)
			near(t, "lift", r.Relative.Value, c.Lift, 1e-9)
			near(t, "lift lower", r.Relative.Lower, c.LiftLower, 1e-8)
			near(t, "lift upper", r.Relative.Upper, c.LiftUpper, 1e-8)
			near(t, "lift p", r.Relative.PValue, c.LiftP, 1e-8)
			// Without CUPED the same data give the unadjusted, wider interval.
			raw, _ := Compare(c.Control, c.Treatment, Continuous, Config{Alpha: c.Alpha})
			ratio := r.Absolute.SE * r.Absolute.SE / (raw.Absolute.SE * raw.Absolute.SE)
			near(t, "se² ratio", ratio, 1-c.VarianceReduction, 1e-8)
		})
	}
}

func TestSequentialAgainstFormula(t *testing.T) {
	for _, c := range loadReference(t).Sequential {
		t.Run(c.Name, func(t *testing.T) {
			r, err := Compare(c.Control, c.Treatment, Continuous, Config{Alpha: c.Alpha, Sequential: true, Tuning: c.Tuning})
			if err != nil {
				t.Fatal(err)
			}
			near(t, "diff", r.Absolute.Value, c.Diff, 1e-9)
			near(t, "lower", r.Absolute.Lower, c.Lower, 1e-9)
			near(t, "upper", r.Absolute.Upper, c.Upper, 1e-9)
			near(t, "lift lower", r.Relative.Lower, c.LiftLower, 1e-9)
			near(t, "lift upper", r.Relative.Upper, c.LiftUpper, 1e-9)
			fixed, _ := Compare(c.Control, c.Treatment, Continuous, Config{Alpha: c.Alpha})
			if !(r.Absolute.Lower < fixed.Absolute.Lower && r.Absolute.Upper > fixed.Absolute.Upper) {
				t.Errorf("sequence [%g, %g] not wider than the fixed interval [%g, %g]", r.Absolute.Lower, r.Absolute.Upper, fixed.Absolute.Lower, fixed.Absolute.Upper)
			}
		})
	}
}

// TestGrowthBookPublished checks the values GrowthBook's own engine
// tests expect (gbstats tests/frequentist/test_tests.py, rounded there to
// 5 decimals): the first variant is the control.
func TestGrowthBookPublished(t *testing.T) {
	a := Summary{Users: 3407, Sum: 1396.87, SumSq: 52377.9767}
	b := Summary{Users: 3461, Sum: 2422.7, SumSq: 134698.29}
	const tol = 6e-6
	r, err := Compare(a, b, Continuous, Config{})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "relative", r.Relative.Value, 0.70732, tol)
	near(t, "relative se", r.Relative.SE, 0.37879, tol)
	near(t, "relative lower", r.Relative.Lower, -0.03526, tol)
	near(t, "relative upper", r.Relative.Upper, 1.44989, tol)
	near(t, "relative p", r.Relative.PValue, 0.06191, tol)
	near(t, "absolute se", r.Absolute.SE, 0.12478, tol)
	near(t, "absolute lower", r.Absolute.Lower, 0.04538, tol)
	near(t, "absolute upper", r.Absolute.Upper, 0.53462, tol)
	near(t, "absolute p", r.Absolute.PValue, 0.02016, tol)

	a.Users = 3000
	r, _ = Compare(a, b, Continuous, Config{Sequential: true, Tuning: 1000})
	near(t, "sequential relative", r.Relative.Value, 0.50336, tol)
	near(t, "sequential se", r.Relative.SE, 0.33341, tol)
	near(t, "sequential lower", r.Relative.Lower, -0.55844, tol)
	near(t, "sequential upper", r.Relative.Upper, 1.56516, tol)

	r, _ = Compare(Summary{Users: 3000, Sum: 1396}, Summary{Users: 3461, Sum: 2422}, Binomial, Config{Sequential: true})
	near(t, "sequential proportion", r.Relative.Value, 0.50386, tol)
	near(t, "sequential proportion se", r.Relative.SE, 0.03386, tol)
	near(t, "sequential proportion lower", r.Relative.Lower, 0.40098, tol)
	near(t, "sequential proportion upper", r.Relative.Upper, 0.60675, tol)
}

// TestSequentialPValueMatchesSequence: the always-valid p-value is below
// α exactly when the confidence sequence excludes 0, over a grid.
func TestSequentialPValueMatchesSequence(t *testing.T) {
	for _, alpha := range []float64{0.01, 0.05, 0.2} {
		for _, n := range []float64{10, 500, 5000, 1e6} {
			for z := 0.0; z < 8; z += 0.05 {
				c := seqCrit(n, alpha, DefaultTuning)
				p := seqPValue(z, n, alpha, DefaultTuning)
				if math.Abs(z-c) < 1e-9 {
					continue
				}
				if (p < alpha) != (z > c) {
					t.Fatalf("alpha %g n %g z %g: p %g but crit %g", alpha, n, z, p, c)
				}
			}
		}
	}
}

func TestAccumulatorAndMerge(t *testing.T) {
	ys := []float64{0, 3, 1.5, 7, 2, 2, 9.25}
	xs := []float64{1, 2, 2, 5, 0, 1, 8}
	var all, a, b Summary
	for i, y := range ys {
		all.AddWithCovariate(y, xs[i])
		if i < 3 {
			a.AddWithCovariate(y, xs[i])
		} else {
			b.AddWithCovariate(y, xs[i])
		}
	}
	a.Merge(b)
	if a != all {
		t.Errorf("merged %+v, want %+v", a, all)
	}
	// Mean 24.75/7 and the sample variance by the two-pass formula.
	mean := 24.75 / 7
	var ss float64
	for _, y := range ys {
		ss += (y - mean) * (y - mean)
	}
	near(t, "mean", all.Mean(), mean, 1e-15)
	near(t, "variance", all.Variance(), ss/6, 1e-13)
	if (Summary{}).Mean() != 0 || (Summary{Users: 1, Sum: 3, SumSq: 9}).Variance() != 0 {
		t.Error("empty or single-user summary is not 0")
	}
}

func TestCompareBadInput(t *testing.T) {
	ok := Summary{Users: 100, Sum: 10, SumSq: 10}
	for _, c := range []struct {
		name      string
		ctl, trt  Summary
		kind      Kind
		cfg       Config
		wantField string
	}{
		{"negative users", Summary{Users: -1}, ok, Continuous, Config{}, "control.users"},
		{"NaN sum", ok, Summary{Users: 5, Sum: math.NaN()}, Continuous, Config{}, "treatment.sum"},
		{"Inf sum of squares", ok, Summary{Users: 5, SumSq: math.Inf(1)}, Continuous, Config{}, "treatment.sum_sq"},
		{"impossible sum of squares", Summary{Users: 10, Sum: 10, SumSq: 5}, ok, Continuous, Config{}, "control.sum_sq"},
		{"binomial above users", ok, Summary{Users: 10, Sum: 11, SumSq: 11}, Binomial, Config{}, "treatment.sum"},
		{"binomial negative", Summary{Users: 10, Sum: -1}, ok, Binomial, Config{}, "control.sum"},
		{"sums without users", Summary{Sum: 1}, ok, Continuous, Config{}, "control.users"},
		{"unknown kind", ok, ok, "ratio", Config{}, "kind"},
		{"alpha 1", ok, ok, Binomial, Config{Alpha: 1}, "alpha"},
		{"NaN alpha", ok, ok, Binomial, Config{Alpha: math.NaN()}, "alpha"},
		{"negative tuning", ok, ok, Binomial, Config{Tuning: -5}, "sequential_tuning"},
		{"unknown correction", ok, ok, Binomial, Config{Correction: "bonferroni"}, "correction"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compare(c.ctl, c.trt, c.kind, c.cfg)
			var ie *input.Error
			if !errors.Is(err, input.ErrInput) || !errors.As(err, &ie) || ie.Field != c.wantField {
				t.Fatalf("err = %v, want an input error on %q", err, c.wantField)
			}
		})
	}
}

func TestCompareInsufficient(t *testing.T) {
	for _, c := range []struct {
		name     string
		ctl, trt Summary
		kind     Kind
	}{
		{"one user", Summary{Users: 1, Sum: 1, SumSq: 1}, Summary{Users: 50, Sum: 5, SumSq: 5}, Continuous},
		{"no users", Summary{}, Summary{}, Binomial},
		{"no conversions anywhere", Summary{Users: 500}, Summary{Users: 600}, Binomial},
		{"constant values", Summary{Users: 3, Sum: 6, SumSq: 12}, Summary{Users: 4, Sum: 8, SumSq: 16}, Continuous},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Compare(c.ctl, c.trt, c.kind, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Insufficient == "" || r.Absolute.Significant || r.Absolute.PValue != 1 || r.Relative != nil {
				t.Errorf("got %+v, want an insufficient result", r)
			}
		})
	}
	// A control mean of 0 leaves the difference but not the lift.
	r, err := Compare(Summary{Users: 100}, Summary{Users: 100, Sum: 50, SumSq: 100}, Continuous, Config{})
	if err != nil || r.Insufficient != "" || r.Relative != nil || r.Absolute.Value != 0.5 || !(r.Absolute.SE > 0) {
		t.Errorf("zero control: %+v, %v", r, err)
	}
	// The least sample: 30 users with and 30 without the outcome in each
	// variant by default.
	for _, c := range []struct {
		conv, users float64
		min         int64
		tested      bool
	}{{29, 1000, 0, false}, {30, 1000, 0, true}, {30, 59, 0, false}, {29, 1000, 29, true}, {3, 1000, -1, true}} {
		r, err := Compare(Summary{Users: int64(c.users), Sum: c.conv}, Summary{Users: 1000, Sum: 40}, Binomial, Config{MinSample: c.min})
		if err != nil || (r.Insufficient == "") != c.tested {
			t.Errorf("%g of %g users, min %d: insufficient %q, err %v; want tested %v", c.conv, c.users, c.min, r.Insufficient, err, c.tested)
		}
	}
}

// TestOneSidedBounds: the guardrails' one-sided bounds at α are the
// two-sided interval's at 2α: z(0.95) = 1.6448536 for a z-test.
func TestOneSidedBounds(t *testing.T) {
	r, err := Compare(conv(20000, 0.05), conv(20000, 0.052), Binomial, Config{})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := r.oneSided(*r.Relative, 0.05)
	near(t, "lower", lo, r.Relative.Value-1.6448536269514722*r.Relative.SE, 1e-12)
	near(t, "upper", hi, r.Relative.Value+1.6448536269514722*r.Relative.SE, 1e-12)
}

// TestHugeDF: beyond maxTDF degrees of freedom the t is the normal.
func TestHugeDF(t *testing.T) {
	r, err := Compare(summaryOf(2e7, 10, 3), summaryOf(2e7, 10.01, 3), Continuous, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if r.DF < maxTDF || r.Method != MethodWelch {
		t.Fatalf("df %g method %s", r.DF, r.Method)
	}
	near(t, "halfwidth/se", (r.Absolute.Upper-r.Absolute.Value)/r.Absolute.SE, 1.959963984540054, 1e-12)
}
