package divergence

import (
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat"

	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// Dist summarises a distribution of values: count, mean, min and max over
// every value seen, percentiles over the bounded sample (exact while no more
// than Options.SampleSize values were seen). Percentiles use linear
// interpolation between closest ranks (numpy's default, Hyndman–Fan type 7).
type Dist struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
}

// reservoir keeps count, sum, min and max of every finite value and a
// uniform sample of at most size values (Vitter's algorithm R).
type reservoir struct {
	size     int
	n        int64
	sum      float64
	min, max float64
	vals     []float64
	rng      *rand.Rand
}

func newReservoir(size int, rng *rand.Rand) *reservoir {
	return &reservoir{size: size, rng: rng}
}

func (r *reservoir) add(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	r.n++
	r.sum += v
	if r.n == 1 || v < r.min {
		r.min = v
	}
	if r.n == 1 || v > r.max {
		r.max = v
	}
	if len(r.vals) < r.size {
		r.vals = append(r.vals, v)
		return
	}
	if j := r.rng.Int64N(r.n); j < int64(r.size) {
		r.vals[j] = v
	}
}

// sorted returns a sorted copy of the sample.
func (r *reservoir) sorted() []float64 {
	if r == nil {
		return nil
	}
	s := append([]float64(nil), r.vals...)
	sort.Float64s(s)
	return s
}

func (r *reservoir) mean() float64 {
	if r == nil || r.n == 0 {
		return 0
	}
	return r.sum / float64(r.n)
}

func (r *reservoir) dist(decimals int) Dist {
	if r == nil || r.n == 0 {
		return Dist{}
	}
	s := r.sorted()
	rd := func(v float64) float64 { return divRound(v, decimals) }
	return Dist{
		Count: r.n, Mean: rd(r.mean()),
		P50: rd(quantileSorted(s, 0.5)), P90: rd(quantileSorted(s, 0.9)), P99: rd(quantileSorted(s, 0.99)),
		Min: rd(r.min), Max: rd(r.max),
	}
}

// divRound rounds to decimals and maps NaN and ±Inf to finite values, so that
// a report always encodes as JSON.
func divRound(v float64, decimals int) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	r := numfmt.Round(v, decimals)
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return v
	}
	return r
}

// quantileSorted is the type-7 (linear interpolation) quantile of sorted s,
// q in 0..1; 0 for an empty s.
func quantileSorted(s []float64, q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	h := q * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Drift levels, from least to most severe.
const (
	DriftNone        = "none"
	DriftModerate    = "moderate"
	DriftSignificant = "significant"
)

// Drift thresholds. PSI's are the usual credit-scoring ones; the others are
// matched to them for a small shift (JS in bits ≈ PSI/(8·ln 2); for a mean
// shift δ of a normal distribution PSI ≈ (δ/σ)², so W1/σ = 0.3 and 0.5
// correspond to PSI 0.1 and 0.25). KS's D counts only when its p-value is
// below DriftKSAlpha, so that small samples do not raise drift by chance.
const (
	DriftPSIModerate            = 0.1
	DriftPSISignificant         = 0.25
	DriftKSModerate             = 0.1
	DriftKSSignificant          = 0.2
	DriftKSAlpha                = 0.05
	DriftJSModerate             = 0.02
	DriftJSSignificant          = 0.05
	DriftWassersteinModerate    = 0.3
	DriftWassersteinSignificant = 0.5
)

// psiFloor replaces empty bin shares in PSI, whose log would be infinite.
const psiFloor = 1e-4

// Drift compares the distribution of one score (the top-class probability,
// or the scalar score) between the primary and another target.
type Drift struct {
	PrimarySamples int `json:"primary_samples"`
	OtherSamples   int `json:"other_samples"`
	// Bins is the number of PSI/JS bins: the primary's deciles, fewer when
	// deciles coincide.
	Bins int     `json:"bins"`
	PSI  float64 `json:"psi"`
	// KSD is the two-sample Kolmogorov–Smirnov statistic, KSPValue its
	// asymptotic p-value.
	KSD      float64 `json:"ks_d"`
	KSPValue float64 `json:"ks_p_value"`
	// JS is the Jensen–Shannon divergence in bits (0..1) over the PSI bins.
	JS float64 `json:"js"`
	// Wasserstein is the Wasserstein-1 (earth mover's) distance in score
	// units; WassersteinNorm divides it by the primary's standard deviation.
	Wasserstein     float64 `json:"wasserstein"`
	WassersteinNorm float64 `json:"wasserstein_norm"`
	PSILevel        string  `json:"psi_level"`
	KSLevel         string  `json:"ks_level"`
	JSLevel         string  `json:"js_level"`
	WassersteinLvl  string  `json:"wasserstein_level"`
	// Verdict is the most severe level that at least two of the four
	// measures reach.
	Verdict string `json:"drift"`
}

func level(v, moderate, significant float64) string {
	switch {
	case v > significant:
		return DriftSignificant
	case v >= moderate:
		return DriftModerate
	}
	return DriftNone
}

func levelRank(l string) int {
	switch l {
	case DriftSignificant:
		return 2
	case DriftModerate:
		return 1
	}
	return 0
}

// computeDrift compares two sorted samples; nil when either is empty.
func computeDrift(p, q []float64) *Drift {
	if len(p) == 0 || len(q) == 0 {
		return nil
	}
	edges := decileEdges(p)
	bp, bq := binShares(p, edges), binShares(q, edges)
	d := &Drift{
		PrimarySamples: len(p), OtherSamples: len(q), Bins: len(edges) + 1,
		PSI: psi(bp, bq), JS: jsDivergence(bp, bq),
		KSD:         stat.KolmogorovSmirnov(p, nil, q, nil),
		Wasserstein: wasserstein1(p, q),
	}
	d.KSPValue = ksPValue(d.KSD, len(p), len(q))
	sd := stat.PopStdDev(p, nil)
	switch {
	case sd > 0:
		d.WassersteinNorm = d.Wasserstein / sd
	case d.Wasserstein > 0:
		d.WassersteinNorm = math.Inf(1)
	}
	d.PSILevel = level(d.PSI, DriftPSIModerate, DriftPSISignificant)
	d.KSLevel = DriftNone
	if d.KSPValue < DriftKSAlpha {
		d.KSLevel = level(d.KSD, DriftKSModerate, DriftKSSignificant)
	}
	d.JSLevel = level(d.JS, DriftJSModerate, DriftJSSignificant)
	d.WassersteinLvl = level(d.WassersteinNorm, DriftWassersteinModerate, DriftWassersteinSignificant)
	ranks := []int{levelRank(d.PSILevel), levelRank(d.KSLevel), levelRank(d.JSLevel), levelRank(d.WassersteinLvl)}
	sort.Sort(sort.Reverse(sort.IntSlice(ranks)))
	d.Verdict = []string{DriftNone, DriftModerate, DriftSignificant}[ranks[1]]
	for _, f := range []*float64{&d.PSI, &d.KSD, &d.KSPValue, &d.JS, &d.Wasserstein, &d.WassersteinNorm} {
		*f = divRound(*f, 6)
	}
	return d
}

// decileEdges returns the primary's quantiles at 0.1 … 0.9 (type 7),
// without repeats.
func decileEdges(sorted []float64) []float64 {
	var edges []float64
	for i := 1; i <= 9; i++ {
		e := quantileSorted(sorted, float64(i)/10)
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}

// binShares returns the share of sorted values in each bin
// (-inf, e0], (e0, e1], …, (e_last, +inf).
func binShares(sorted, edges []float64) []float64 {
	out := make([]float64, len(edges)+1)
	b := 0
	for _, v := range sorted {
		for b < len(edges) && v > edges[b] {
			b++
		}
		out[b]++
	}
	for i := range out {
		out[i] /= float64(len(sorted))
	}
	return out
}

// psi is the population stability index Σ (q−p)·ln(q/p), shares floored at
// psiFloor.
func psi(p, q []float64) float64 {
	s := 0.0
	for i := range p {
		a, b := math.Max(p[i], psiFloor), math.Max(q[i], psiFloor)
		s += (b - a) * math.Log(b/a)
	}
	return s
}

// jsDivergence is the Jensen–Shannon divergence in bits.
func jsDivergence(p, q []float64) float64 {
	s := 0.0
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			s += p[i] * math.Log2(p[i]/m) / 2
		}
		if q[i] > 0 {
			s += q[i] * math.Log2(q[i]/m) / 2
		}
	}
	return math.Max(s, 0)
}

// wasserstein1 is ∫|F_p − F_q| for two sorted samples.
func wasserstein1(p, q []float64) float64 {
	i, j := 0, 0
	w := 0.0
	prev := math.Min(p[0], q[0])
	for i < len(p) || j < len(q) {
		var t float64
		switch {
		case j >= len(q) || (i < len(p) && p[i] <= q[j]):
			t = p[i]
		default:
			t = q[j]
		}
		fp, fq := float64(i)/float64(len(p)), float64(j)/float64(len(q))
		w += math.Abs(fp-fq) * (t - prev)
		prev = t
		for i < len(p) && p[i] == t {
			i++
		}
		for j < len(q) && q[j] == t {
			j++
		}
	}
	return w
}

// ksPValue is the asymptotic p-value of the two-sample KS statistic d
// (Numerical Recipes' probks with Stephens' small-sample correction).
func ksPValue(d float64, n, m int) float64 {
	if d <= 0 {
		return 1
	}
	en := math.Sqrt(float64(n) * float64(m) / float64(n+m))
	lambda := (en + 0.12 + 0.11/en) * d
	if lambda < 0.2 {
		return 1
	}
	if lambda < 1.18 {
		y := math.Exp(-math.Pi * math.Pi / (8 * lambda * lambda))
		p := math.Sqrt(2*math.Pi) / lambda * (y + math.Pow(y, 9) + math.Pow(y, 25) + math.Pow(y, 49))
		return math.Min(1, math.Max(0, 1-p))
	}
	x := math.Exp(-2 * lambda * lambda)
	p := 2 * (x - math.Pow(x, 4) + math.Pow(x, 9))
	return math.Min(1, math.Max(0, p))
}

// levenshtein is the edit distance between two token lists (insertions,
// deletions and substitutions cost 1), in O(len(a)·len(b)) time and
// O(min(len)) memory.
func levenshtein(a, b []string) int {
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(b) == 0 {
		return len(a)
	}
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		diag := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			up := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(row[j]+1, row[j-1]+1, diag+cost)
			diag = up
		}
	}
	return row[len(b)]
}

// normEdit is the edit distance divided by the longer list's length.
func normEdit(a, b []string) float64 {
	n := max(len(a), len(b))
	if n == 0 {
		return 0
	}
	return float64(levenshtein(a, b)) / float64(n)
}

// dedupe keeps the first occurrence of each id, at most k ids.
func dedupe(ids []string, k int) []string {
	seen := make(map[string]bool, min(len(ids), k))
	out := make([]string, 0, min(len(ids), k))
	for _, id := range ids {
		if len(out) == k {
			break
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// jaccard is |A∩B|/|A∪B| of two id sets; 1 when both are empty.
func jaccard(a, b []string) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	in := make(map[string]bool, len(a))
	for _, x := range a {
		in[x] = true
	}
	common := 0
	for _, x := range b {
		if in[x] {
			common++
		}
	}
	return float64(common) / float64(len(a)+len(b)-common)
}

// rbo is the extrapolated rank-biased overlap RBO_ext of Webber, Moffat and
// Zobel (2010, eq. 32) of two rankings without repeats, evaluated at depth
// k = min(len(a), len(b)); 1 when both are empty, 0 when only one is.
func rbo(a, b []string, p float64) float64 {
	k := min(len(a), len(b))
	if k == 0 {
		if len(a) == 0 && len(b) == 0 {
			return 1
		}
		return 0
	}
	seenA := make(map[string]bool, k)
	seenB := make(map[string]bool, k)
	x, sum, pd := 0, 0.0, 1.0
	for d := 1; d <= k; d++ {
		ai, bi := a[d-1], b[d-1]
		if ai == bi {
			x++
		} else {
			if seenB[ai] {
				x++
			}
			if seenA[bi] {
				x++
			}
		}
		seenA[ai], seenB[bi] = true, true
		pd *= p
		sum += float64(x) / float64(d) * pd
	}
	return float64(x)/float64(k)*pd + (1-p)/p*sum
}

// topIndices returns the indices of the k largest values, ties broken by the
// lower index, as strings.
func topIndices(vals []float64, k int) []string {
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return vals[idx[i]] > vals[idx[j]] })
	if len(idx) > k {
		idx = idx[:k]
	}
	out := make([]string, len(idx))
	for i, v := range idx {
		out[i] = itoa(v)
	}
	return out
}
