package abtest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gonogo-dev/gonogo/internal/input"
)

func TestSRMAgainstScipy(t *testing.T) {
	for _, c := range loadReference(t).SRM {
		t.Run(c.Name, func(t *testing.T) {
			obs, w := map[string]int64{}, map[string]float64{}
			for i := range c.Observed {
				name := fmt.Sprintf("v%d", i)
				obs[name], w[name] = c.Observed[i], c.Weights[i]
			}
			r, err := SRM(obs, w, 0)
			if err != nil || r == nil {
				t.Fatalf("SRM = %v, %v", r, err)
			}
			near(t, "chi2", r.ChiSq, c.Chi2, 1e-12)
			near(t, "p", r.PValue, c.P, 1e-9)
			if r.Alpha != DefaultSRMAlpha || r.Mismatch != (c.P < DefaultSRMAlpha) {
				t.Errorf("alpha %g mismatch %v with p %g", r.Alpha, r.Mismatch, c.P)
			}
		})
	}
}

func TestSRMRules(t *testing.T) {
	// Too few users expected in a cell: no test, as the rollout judge.
	r, err := SRM(map[string]int64{"a": 50, "b": 3}, map[string]float64{"a": 95, "b": 5}, 0)
	if r != nil || err != nil {
		t.Errorf("small cell: %v, %v; want nil, nil", r, err)
	}
	// Users in a variant of weight 0 count in the total, and show.
	r, err = SRM(map[string]int64{"a": 500, "b": 500, "old": 100}, map[string]float64{"a": 1, "b": 1, "old": 0}, 0)
	if err != nil || r == nil || r.Expected["a"] != 550 || len(r.Expected) != 2 || r.ChiSq != 2*50*50/550.0 {
		t.Errorf("zero-weight users: %+v, %v", r, err)
	}
	for _, c := range []struct {
		name  string
		obs   map[string]int64
		w     map[string]float64
		alpha float64
		field string
	}{
		{"one variant", map[string]int64{"a": 100}, map[string]float64{"a": 1}, 0, "variants"},
		{"one with weight", map[string]int64{"a": 100, "b": 0}, map[string]float64{"a": 1, "b": 0}, 0, "variants"},
		{"negative count", map[string]int64{"a": 100, "b": -1}, map[string]float64{"a": 1, "b": 1}, 0, "variants[b].users"},
		{"negative weight", map[string]int64{"a": 100, "b": 1}, map[string]float64{"a": 1, "b": -1}, 0, "variants[b].weight"},
		{"bad alpha", map[string]int64{"a": 100, "b": 100}, map[string]float64{"a": 1, "b": 1}, 2, "srm_alpha"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := SRM(c.obs, c.w, c.alpha)
			var ie *input.Error
			if !errors.As(err, &ie) || !errors.Is(err, input.ErrInput) || ie.Field != c.field {
				t.Errorf("err = %v, want an input error on %q", err, c.field)
			}
		})
	}
}

// TestSRMSimulated: a router that splits 52/48 when 50/50 is configured
// is caught at 20 000 users; a correct one is flagged at the nominal
// rate (0.001) only.
func TestSRMSimulated(t *testing.T) {
	src := rand.NewPCG(12, 7)
	w := map[string]float64{"control": 50, "treatment": 50}
	flagRate := func(share float64, runs int) float64 {
		b := distuv.Binomial{N: 20000, P: share, Src: src}
		flagged := 0
		for range runs {
			c := int64(b.Rand())
			r, err := SRM(map[string]int64{"control": c, "treatment": 20000 - c}, w, 0)
			if err != nil {
				t.Fatal(err)
			}
			if r.Mismatch {
				flagged++
			}
		}
		return float64(flagged) / float64(runs)
	}
	runs := 20000
	if testing.Short() {
		runs = 4000
	}
	wrong := flagRate(0.52, 1000)
	right := flagRate(0.5, runs)
	t.Logf("52/48: caught in %.1f %% of 1000 runs; 50/50: flagged in %.3f %% of %d runs", 100*wrong, 100*right, runs)
	// Caught when |control − 10 000| ≥ 233 (chi-square ≥ 10.83) with a
	// mean of 400 and an sd of 70.7: power 0.991, whose sd over 1000
	// runs is 0.003.
	if wrong < 0.975 {
		t.Errorf("52/48 caught in %.3f of runs, want ≥ 0.975", wrong)
	}
	// 0.001 plus three binomial standard deviations.
	if bound := 0.001 + 3*math.Sqrt(0.001*0.999/float64(runs)); right > bound {
		t.Errorf("50/50 flagged in %.4f of runs, want ≤ %.4f", right, bound)
	}
	// And the exact counts of the issue.
	r, _ := SRM(map[string]int64{"control": 10400, "treatment": 9600}, w, 0)
	if !r.Mismatch {
		t.Errorf("10400/9600 not caught: p = %g", r.PValue)
	}
}
