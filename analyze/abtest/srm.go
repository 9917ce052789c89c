package abtest

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// MinSRMCount is the least number of users an SRM cell must expect for
// the chi-square approximation to hold (the usual rule, and the rollout
// judge's).
const MinSRMCount = 5

// SRMResult is the sample-ratio-mismatch check: the users per variant
// against the configured weights. Its JSON is that of the rollout judge's
// SRMResult, less the unit.
type SRMResult struct {
	Observed map[string]int64   `json:"observed"`
	Expected map[string]float64 `json:"expected"`
	ChiSq    float64            `json:"chi_square"`
	PValue   float64            `json:"p_value"`
	Alpha    float64            `json:"alpha"`
	Mismatch bool               `json:"mismatch"`
}

// SRM tests the observed users per variant against the weights (any
// scale: 50/50, 0.9/0.1 and 9000/1000 are alike) with Pearson's
// chi-square, k−1 degrees of freedom for the k variants of positive
// weight; alpha 0 means DefaultSRMAlpha. A variant of weight 0 is no
// cell, but its users, like those of a variant missing from weights,
// count in the total (they should not exist). The result is nil, with no
// error, while a cell expects fewer than MinSRMCount users. Negative
// counts or weights, NaN, and fewer than 2 variants of positive weight
// are errors wrapping input.ErrInput.
func SRM(observed map[string]int64, weights map[string]float64, alpha float64) (*SRMResult, error) {
	if alpha == 0 {
		alpha = DefaultSRMAlpha
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, &input.Error{Field: "srm_alpha", Msg: fmt.Sprintf("want 0 < srm_alpha < 1, got %g", alpha)}
	}
	var n int64
	for _, name := range sortedKeys(observed) {
		c := observed[name]
		if c < 0 {
			return nil, &input.Error{Field: "variants[" + name + "].users", Msg: fmt.Sprintf("negative (%d)", c)}
		}
		n += c
	}
	var total float64
	cells := 0
	for _, name := range sortedKeys(weights) {
		w := weights[name]
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, &input.Error{Field: "variants[" + name + "].weight", Msg: fmt.Sprintf("want a finite weight ≥ 0, got %g", w)}
		}
		if w > 0 {
			cells++
		}
		total += w
	}
	if cells < 2 {
		return nil, &input.Error{Field: "variants", Msg: fmt.Sprintf("an experiment needs 2 or more variants of positive weight, got %d", cells)}
	}
	r := &SRMResult{Observed: observed, Expected: map[string]float64{}, Alpha: alpha}
	for name, w := range weights {
		if w == 0 {
			continue
		}
		e := float64(n) * w / total
		if e < MinSRMCount {
			return nil, nil
		}
		r.Expected[name] = e
		d := float64(observed[name]) - e
		r.ChiSq += d * d / e
	}
	r.PValue = distuv.ChiSquared{K: float64(cells - 1)}.Survival(r.ChiSq)
	r.Mismatch = r.PValue < alpha
	return r, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
