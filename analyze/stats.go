package analyze

import (
	"errors"
	"fmt"
	"math"
	"slices"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/gonum/stat/distuv"
)

// This file holds the hypothesis tests behind the verdict's relative gates
// (candidate against baseline): the Mann–Whitney U test for latency-like
// distributions and the two-proportion z-test for rates. Their p-values
// follow scipy.stats (mannwhitneyu with method="asymptotic",
// use_continuity=True; the pooled two-proportion z-test, which is
// chi2_contingency without Yates' correction); testdata/stats_reference.py
// makes the reference values the tests compare against.

// ErrTooFewSamples reports that a side of a test has fewer samples than the
// test needs: see MannWhitneyMinSamples and TwoProportion.
var ErrTooFewSamples = errors.New("analyze: too few samples for the test")

// MannWhitneyMinSamples is the smallest sample on either side that
// MannWhitneyHist and MannWhitneySamples accept. The p-values come from the
// normal approximation of U, which is poor below about 20 per side (and the
// exact distribution, which small samples would need, does not allow for
// ties, which histograms are full of).
const MannWhitneyMinSamples = 20

// MannWhitney is the result of a Mann–Whitney U test of a candidate sample
// against a baseline sample.
//
// The p-values use the normal approximation of U with the tie correction
// and a continuity correction of 1/2, exactly as scipy.stats.mannwhitneyu(
// candidate, baseline, method="asymptotic", use_continuity=True). When every
// value is tied (U has no variance) there is no evidence either way: Z is 0
// and every p-value is 1.
type MannWhitney struct {
	// NBaseline and NCandidate are the sample sizes.
	NBaseline, NCandidate int64
	// U is the U statistic of the candidate: the number of (candidate,
	// baseline) pairs with candidate > baseline, ties counted 1/2. It lies in
	// [0, NBaseline·NCandidate]; half of that is no difference.
	U float64
	// Z is the standardised U, continuity-corrected towards 0:
	// sign(U−μ)·max(|U−μ|−½, 0)/σ with μ = n₁n₂/2 and the tie-corrected σ.
	// Positive means the candidate tends to be larger.
	Z float64
	// PTwoSided is the p-value of the two-sided alternative (the
	// distributions differ).
	PTwoSided float64
	// PGreater is the p-value of the alternative that the candidate is
	// stochastically greater than the baseline (e.g. latency rose).
	PGreater float64
	// PLess is the p-value of the alternative that the candidate is
	// stochastically less than the baseline.
	PLess float64
	// CliffsDelta is the effect size P(c>b) − P(c<b) in [−1, 1],
	// 2U/(n₁n₂) − 1: 0 is no difference, 1 is every candidate value above
	// every baseline value.
	CliffsDelta float64
}

// MannWhitneyHist tests two HDR histograms: values in the same HDR bucket
// (equivalent values) are ties. It walks both histograms' buckets once, in
// value order, so its cost grows with the number of buckets, not of values:
// two 1M-request latency histograms take about a millisecond
// (BenchmarkMannWhitneyHist).
//
// Buckets are matched by their lowest equivalent value, so histograms of
// different configurations can be compared; then a coarse bucket of one
// counts as the single value at its lower bound, ordered against the other's
// buckets by that bound. A nil histogram is empty. Either side with fewer
// than MannWhitneyMinSamples values gives ErrTooFewSamples.
func MannWhitneyHist(baseline, candidate *hdr.Histogram) (MannWhitney, error) {
	if err := checkMannWhitneyN(histTotal(baseline), histTotal(candidate)); err != nil {
		return MannWhitney{}, err
	}
	bb, cb := nonEmptyBars(baseline), nonEmptyBars(candidate)
	var r rankSum
	i, j := 0, 0
	for i < len(bb) || j < len(cb) {
		switch {
		case j == len(cb) || (i < len(bb) && bb[i].From < cb[j].From):
			r.add(bb[i].Count, 0)
			i++
		case i == len(bb) || cb[j].From < bb[i].From:
			r.add(0, cb[j].Count)
			j++
		default:
			r.add(bb[i].Count, cb[j].Count)
			i++
			j++
		}
	}
	return r.result(), nil
}

// MannWhitneySamples is MannWhitneyHist over raw samples: equal values are
// ties. It sorts copies of the samples (O(n log n)) and leaves the arguments
// untouched. ±Inf are ordinary values; a NaN is an error. Either side with
// fewer than MannWhitneyMinSamples values gives ErrTooFewSamples.
func MannWhitneySamples(baseline, candidate []float64) (MannWhitney, error) {
	if err := checkMannWhitneyN(int64(len(baseline)), int64(len(candidate))); err != nil {
		return MannWhitney{}, err
	}
	if i := slices.IndexFunc(baseline, math.IsNaN); i >= 0 {
		return MannWhitney{}, fmt.Errorf("analyze: mann-whitney: baseline sample %d is NaN", i)
	}
	if i := slices.IndexFunc(candidate, math.IsNaN); i >= 0 {
		return MannWhitney{}, fmt.Errorf("analyze: mann-whitney: candidate sample %d is NaN", i)
	}
	b, c := slices.Clone(baseline), slices.Clone(candidate)
	slices.Sort(b)
	slices.Sort(c)
	var r rankSum
	i, j := 0, 0
	for i < len(b) || j < len(c) {
		var v float64
		if j == len(c) || (i < len(b) && b[i] < c[j]) {
			v = b[i]
		} else {
			v = c[j]
		}
		i0, j0 := i, j
		for i < len(b) && b[i] == v {
			i++
		}
		for j < len(c) && c[j] == v {
			j++
		}
		r.add(int64(i-i0), int64(j-j0))
	}
	return r.result(), nil
}

func checkMannWhitneyN(nBaseline, nCandidate int64) error {
	if nBaseline < MannWhitneyMinSamples || nCandidate < MannWhitneyMinSamples {
		return fmt.Errorf("%w: mann-whitney needs at least %d samples a side, has baseline %d, candidate %d",
			ErrTooFewSamples, MannWhitneyMinSamples, nBaseline, nCandidate)
	}
	return nil
}

func histTotal(h *hdr.Histogram) int64 {
	if h == nil {
		return 0
	}
	return h.TotalCount()
}

// nonEmptyBars is h's buckets with a count, in value order.
func nonEmptyBars(h *hdr.Histogram) []hdr.Bar {
	if h == nil {
		return nil
	}
	bars := h.Distribution()
	return slices.DeleteFunc(bars, func(b hdr.Bar) bool { return b.Count <= 0 })
}

// rankSum accumulates a Mann–Whitney test over groups of tied values visited
// in increasing value order. Counts and U are exact in float64 while
// n₁n₂ < 2⁵³ (9·10¹⁵, e.g. two 90M-value samples); beyond that they are
// rounded to 1e-16 relative, which does not matter for the p-values.
type rankSum struct {
	nBaseline, nCandidate int64
	// u is the candidate's U so far: each candidate value scores the
	// baseline values below it plus half those tied with it.
	u float64
	// tieTerm is Σ(t³−t) over the tie groups, t the group's size.
	tieTerm float64
	groups  int
}

// add adds the next group of tied values: baseline of them from the
// baseline, candidate from the candidate.
func (r *rankSum) add(baseline, candidate int64) {
	if baseline+candidate == 0 {
		return
	}
	r.u += float64(candidate) * (float64(r.nBaseline) + float64(baseline)/2)
	t := float64(baseline + candidate)
	r.tieTerm += t*t*t - t
	r.groups++
	r.nBaseline += baseline
	r.nCandidate += candidate
}

func (r *rankSum) result() MannWhitney {
	n1, n2 := float64(r.nCandidate), float64(r.nBaseline)
	n := n1 + n2
	res := MannWhitney{
		NBaseline:   r.nBaseline,
		NCandidate:  r.nCandidate,
		U:           r.u,
		CliffsDelta: 2*r.u/(n1*n2) - 1,
		PTwoSided:   1,
		PGreater:    1,
		PLess:       1,
	}
	// scipy's form of the tie-corrected variance (Mann–Whitney [2] in its
	// documentation): n₁n₂/12 · ((n+1) − Σ(t³−t)/(n(n−1))).
	variance := n1 * n2 / 12 * ((n + 1) - r.tieTerm/(n*(n-1)))
	if r.groups < 2 || !(variance > 0) {
		// All values tied: U cannot vary, so nothing is evidence.
		return res
	}
	sigma := math.Sqrt(variance)
	d := r.u - n1*n2/2
	res.Z = math.Copysign(math.Max(math.Abs(d)-0.5, 0), d) / sigma
	res.PGreater = normalUpperTail((d - 0.5) / sigma)
	res.PLess = normalUpperTail((-d - 0.5) / sigma)
	res.PTwoSided = math.Min(1, 2*normalUpperTail((math.Abs(d)-0.5)/sigma))
	return res
}

// normalUpperTail is P(Z > z) for a standard normal Z, accurate far into the
// tail. (distuv.Normal.Survival computes 1−erf, which is 0 beyond z ≈ 8.3;
// its CDF uses erfc.)
func normalUpperTail(z float64) float64 {
	return distuv.UnitNormal.CDF(-z)
}

// Proportions is the result of a two-proportion z-test (pooled variance) of
// a candidate's proportion against a baseline's, e.g. error rates. Its
// two-sided p-value is that of scipy.stats.chi2_contingency without Yates'
// correction (Z² is the χ² statistic). When the pooled variance is 0 (no
// successes or no failures on either side) there is no evidence either way:
// Z is 0 and every p-value is 1.
type Proportions struct {
	// PBaseline and PCandidate are the proportions x/n.
	PBaseline, PCandidate float64
	// Diff is PCandidate − PBaseline.
	Diff float64
	// Z is Diff over its pooled standard error; positive means the
	// candidate's proportion is larger.
	Z float64
	// PTwoSided is the p-value of the two-sided alternative (the proportions
	// differ).
	PTwoSided float64
	// PGreater is the p-value of the alternative that the candidate's
	// proportion is greater (e.g. the error rate rose).
	PGreater float64
	// PLess is the p-value of the alternative that the candidate's proportion
	// is less.
	PLess float64
}

// TwoProportion tests xCandidate successes out of nCandidate trials against
// xBaseline out of nBaseline with the pooled two-proportion z-test. A zero
// n gives ErrTooFewSamples; a negative n or an x outside [0, n] is an error.
// The normal approximation wants a handful of successes and failures on each
// side; TwoProportion does not enforce that.
func TwoProportion(xBaseline, nBaseline, xCandidate, nCandidate int64) (Proportions, error) {
	if nBaseline < 0 || nCandidate < 0 {
		return Proportions{}, fmt.Errorf("analyze: two-proportion test: negative trial count (baseline %d, candidate %d)",
			nBaseline, nCandidate)
	}
	if nBaseline == 0 || nCandidate == 0 {
		return Proportions{}, fmt.Errorf("%w: two-proportion test needs trials on both sides, has baseline %d, candidate %d",
			ErrTooFewSamples, nBaseline, nCandidate)
	}
	if xBaseline < 0 || xBaseline > nBaseline {
		return Proportions{}, fmt.Errorf("analyze: two-proportion test: baseline successes %d not in [0, %d]",
			xBaseline, nBaseline)
	}
	if xCandidate < 0 || xCandidate > nCandidate {
		return Proportions{}, fmt.Errorf("analyze: two-proportion test: candidate successes %d not in [0, %d]",
			xCandidate, nCandidate)
	}
	n1, n2 := float64(nBaseline), float64(nCandidate)
	res := Proportions{
		PBaseline:  float64(xBaseline) / n1,
		PCandidate: float64(xCandidate) / n2,
		PTwoSided:  1,
		PGreater:   1,
		PLess:      1,
	}
	res.Diff = res.PCandidate - res.PBaseline
	x := xBaseline + xCandidate
	if x == 0 || x == nBaseline+nCandidate {
		return res, nil
	}
	pooled := float64(x) / (n1 + n2)
	se := math.Sqrt(pooled * (1 - pooled) * (1/n1 + 1/n2))
	res.Z = res.Diff / se
	res.PGreater = normalUpperTail(res.Z)
	res.PLess = normalUpperTail(-res.Z)
	res.PTwoSided = math.Min(1, 2*normalUpperTail(math.Abs(res.Z)))
	return res, nil
}
