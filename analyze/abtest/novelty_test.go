package abtest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gonogo-dev/gonogo/internal/input"
)

func cohorts(n int64, base float64, lifts ...float64) []Cohort {
	var out []Cohort
	for i, l := range lifts {
		out = append(out, Cohort{Label: fmt.Sprintf("h%d", i), Control: conv(n, base), Treatment: conv(n, base*(1+l))})
	}
	return out
}

func TestNovelty(t *testing.T) {
	decay, err := Novelty(cohorts(50000, 0.1, 0.2, 0.12, 0.06, 0.02, 0, 0), Binomial, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !decay.Decay || !(decay.Slope < 0) || len(decay.Cohorts) != 6 || !strings.Contains(strings.Join(decay.Reasons, " "), "below the first cohort's") {
		t.Errorf("decaying lift: %+v", decay)
	}
	near(t, "first cohort's lift", decay.Cohorts[0].Result.Relative.Value, 0.2, 1e-12)
	steady, err := Novelty(cohorts(50000, 0.1, 0.1, 0.1, 0.1, 0.1), Binomial, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if steady.Decay || !strings.HasPrefix(steady.Reasons[0], "No decay") {
		t.Errorf("steady lift: %+v", steady)
	}
	// A lift that grows is no decay either; two cohorts have no slope.
	two, err := Novelty(cohorts(50000, 0.1, 0.02, 0.2), Binomial, Config{})
	if err != nil || two.Decay || two.SlopeSE != 0 {
		t.Errorf("growing lift, 2 cohorts: %+v, %v", two, err)
	}
	// Cohorts without a lift are shown, not judged.
	few := cohorts(50000, 0.1, 0.2, 0.1)
	few[1].Control = Summary{Users: 10}
	r, err := Novelty(few, Binomial, Config{})
	if err != nil || r.Decay || len(r.Cohorts) != 2 || !strings.Contains(r.Reasons[0], "too few cohorts") {
		t.Errorf("one usable cohort: %+v, %v", r, err)
	}
	for _, bad := range [][]Cohort{nil, cohorts(100, 0.1, 0), {{Label: "a", Control: Summary{Users: 5, Sum: 9}}, {Label: "b"}}} {
		if _, err := Novelty(bad, Binomial, Config{}); !errors.Is(err, input.ErrInput) {
			t.Errorf("cohorts %+v: err = %v, want an input error", bad, err)
		}
	}
}

// TestNoveltySimulated: 6 hourly cohorts of 20 000 users per variant,
// conversion 10 %. With a steady +5 % lift the rule flags decay in at
// most α of runs; with a lift falling from +10 % to 0 it flags at least
// as often as the slope test (b) alone would, whose power follows from
// the normal approximation.
func TestNoveltySimulated(t *testing.T) {
	runs := 1000
	if testing.Short() {
		runs = 300
	}
	src := rand.NewPCG(4, 4)
	rate := func(lifts []float64) float64 {
		flagged := 0
		for range runs {
			cs := make([]Cohort, len(lifts))
			for i, l := range lifts {
				c := distuv.Binomial{N: 20000, P: 0.1, Src: src}.Rand()
				tr := distuv.Binomial{N: 20000, P: 0.1 * (1 + l), Src: src}.Rand()
				cs[i] = Cohort{Label: fmt.Sprint(i), Control: Summary{Users: 20000, Sum: c}, Treatment: Summary{Users: 20000, Sum: tr}}
			}
			r, err := Novelty(cs, Binomial, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Decay {
				flagged++
			}
		}
		return float64(flagged) / float64(runs)
	}
	steady := rate([]float64{0.05, 0.05, 0.05, 0.05, 0.05, 0.05})
	falling := rate([]float64{0.10, 0.08, 0.06, 0.04, 0.02, 0})
	t.Logf("novelty, %d runs: steady lift flagged in %.3f, falling lift in %.3f", runs, steady, falling)
	if tol := binomialTolerance(DefaultAlpha, runs); steady > DefaultAlpha+tol {
		t.Errorf("steady lift flagged in %.3f of runs, want ≤ %.3f", steady, DefaultAlpha+tol)
	}
	// Power of (b) alone: the lift's se per cohort (delta method at the
	// mean lift of +5 %), the slope's se over the indices 0..5.
	p1, p2 := 0.1, 0.105
	se := math.Sqrt(p2*(1-p2)/(20000*p1*p1) + p2*p2*p1*(1-p1)/(20000*p1*p1*p1*p1))
	slopeSE := se / math.Sqrt(17.5)
	powerB := normalCDF(0.02/slopeSE - distuv.UnitNormal.Quantile(1-DefaultAlpha/2))
	t.Logf("power of the slope test alone: %.3f", powerB)
	if tol := binomialTolerance(powerB, runs); falling < powerB-tol {
		t.Errorf("falling lift flagged in %.3f of runs, want ≥ %.3f", falling, powerB-tol)
	}
}
