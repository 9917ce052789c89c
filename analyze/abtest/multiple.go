package abtest

import (
	"fmt"
	"math"
	"slices"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// Adjust returns the p-values adjusted for multiple comparisons by c, in
// the order given (statsmodels' multipletests "holm" and "fdr_bh"): a test
// is significant at α when its adjusted p-value is below α. A p-value
// outside [0, 1] or NaN is an error wrapping input.ErrInput.
func Adjust(p []float64, c Correction) ([]float64, error) {
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			return nil, &input.Error{Field: fmt.Sprintf("p[%d]", i), Msg: fmt.Sprintf("want a p-value in [0, 1], got %g", v)}
		}
	}
	m := float64(len(p))
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	out := make([]float64, len(p))
	switch c {
	case Holm:
		// Step down: the i-th smallest is multiplied by m−i, and no
		// adjusted value is below an earlier one.
		run := 0.0
		for i, k := range order {
			run = math.Max(run, math.Min(1, (m-float64(i))*p[k]))
			out[k] = run
		}
	case BH:
		// Step up: the i-th smallest is multiplied by m/(i+1), and no
		// adjusted value is above a later one.
		run := 1.0
		for i := len(order) - 1; i >= 0; i-- {
			k := order[i]
			run = math.Min(run, m/float64(i+1)*p[k])
			out[k] = run
		}
	case NoCorrection:
		copy(out, p)
	default:
		return nil, &input.Error{Field: "correction", Msg: fmt.Sprintf("want holm, bh or none, got %q", c)}
	}
	return out, nil
}
