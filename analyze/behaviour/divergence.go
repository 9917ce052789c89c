package behaviour

import "math"

// PSIEpsilon is the proportion an empty bin is taken to have in PSI, so
// that a bin empty on one side adds a large but finite term. Proportions
// are clamped, not renormalised (the usual practice).
const PSIEpsilon = 1e-4

// totals returns the totals of a and b; ok is false when the
// histograms differ in length or either is empty.
func totals(a, b []int64) (ta, tb float64, ok bool) {
	if len(a) != len(b) {
		return 0, 0, false
	}
	for i := range a {
		ta += float64(a[i])
		tb += float64(b[i])
	}
	return ta, tb, ta > 0 && tb > 0
}

// PSI is the population stability index of actual against expected (two
// histograms over the same bins): Σ (aᵢ − eᵢ) ln(aᵢ / eᵢ) over the bins'
// proportions, each clamped below at PSIEpsilon. It is symmetric, 0 for
// equal proportions; 0.1 is commonly read as a small shift and 0.2 as a
// large one. NaN when either histogram is empty or their lengths differ.
func PSI(expected, actual []int64) float64 {
	te, ta, ok := totals(expected, actual)
	if !ok {
		return math.NaN()
	}
	var s float64
	for i := range expected {
		if expected[i] == 0 && actual[i] == 0 {
			continue
		}
		e := max(float64(expected[i])/te, PSIEpsilon)
		a := max(float64(actual[i])/ta, PSIEpsilon)
		s += (a - e) * math.Log(a/e)
	}
	return s
}

// JS is the Jensen–Shannon divergence of two histograms over the same
// bins, in bits: ½ KL(p‖m) + ½ KL(q‖m) with m = (p+q)/2, in [0, 1]
// (0 for equal proportions, 1 for disjoint ones). It is the square of
// scipy.spatial.distance.jensenshannon(p, q, base=2). NaN when either
// histogram is empty or their lengths differ.
func JS(p, q []int64) float64 {
	tp, tq, ok := totals(p, q)
	if !ok {
		return math.NaN()
	}
	var s float64
	for i := range p {
		pi, qi := float64(p[i])/tp, float64(q[i])/tq
		m := (pi + qi) / 2
		if pi > 0 {
			s += pi * math.Log2(pi/m)
		}
		if qi > 0 {
			s += qi * math.Log2(qi/m)
		}
	}
	return min(max(s/2, 0), 1)
}
