package behaviour

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// TestDivergenceReference checks PSI and JS against numpy and scipy,
// from testdata/divergence_ref.json, made by
// /usr/bin/python3 testdata/divergence_ref.py > testdata/divergence_ref.json
func TestDivergenceReference(t *testing.T) {
	src, err := os.ReadFile("testdata/divergence_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name             string
		Expected, Actual []int64
		PSI, JS          float64
	}
	if err := json.Unmarshal(src, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 5 {
		t.Fatalf("only %d reference cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if got := PSI(c.Expected, c.Actual); math.Abs(got-c.PSI) > 1e-9*max(1, c.PSI) {
				t.Errorf("PSI = %.12g, want %.12g", got, c.PSI)
			}
			if got := JS(c.Expected, c.Actual); math.Abs(got-c.JS) > 1e-9 {
				t.Errorf("JS = %.12g, want %.12g", got, c.JS)
			}
			// Both are symmetric: swapping stable and canary changes nothing.
			if a, b := PSI(c.Expected, c.Actual), PSI(c.Actual, c.Expected); math.Abs(a-b) > 1e-12*max(1, a) {
				t.Errorf("PSI not symmetric: %g vs %g", a, b)
			}
			if a, b := JS(c.Expected, c.Actual), JS(c.Actual, c.Expected); math.Abs(a-b) > 1e-12 {
				t.Errorf("JS not symmetric: %g vs %g", a, b)
			}
		})
	}
}

func TestDivergenceUndefined(t *testing.T) {
	for name, pq := range map[string][2][]int64{
		"empty expected":  {{0, 0}, {1, 2}},
		"empty actual":    {{1, 2}, {0, 0}},
		"length mismatch": {{1, 2}, {1, 2, 3}},
	} {
		if v := PSI(pq[0], pq[1]); !math.IsNaN(v) {
			t.Errorf("%s: PSI = %g, want NaN", name, v)
		}
		if v := JS(pq[0], pq[1]); !math.IsNaN(v) {
			t.Errorf("%s: JS = %g, want NaN", name, v)
		}
	}
}

// betaHist draws n confidences from Beta(a, b) into Counts' bins.
func betaHist(r *rand.Rand, a, b float64, n int) []int64 {
	d := distuv.Beta{Alpha: a, Beta: b, Src: r}
	h := make([]int64, ConfidenceBins)
	for range n {
		h[ConfidenceBin(d.Rand())]++
	}
	return h
}

// TestAABias checks the truth the gates' sample minimum rests on: two
// samples of one distribution (all k bins populated) give, on average,
// PSI ≈ (k−1)(1/n₁ + 1/n₂) and JS ≈ that / (8 ln 2) (the chi-square
// approximation).
func TestAABias(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const reps, n1, n2 = 300, 4000, 6000
	var psi, js float64
	for range reps {
		a, b := betaHist(r, 2, 2, n1), betaHist(r, 2, 2, n2)
		psi += PSI(a, b) / reps
		js += JS(a, b) / reps
	}
	want := float64(ConfidenceBins-1) * (1.0/n1 + 1.0/n2)
	if math.Abs(psi-want) > 0.1*want {
		t.Errorf("A/A mean PSI = %.5f, want %.5f ± 10%%", psi, want)
	}
	if wantJS := want / (8 * math.Ln2); math.Abs(js-wantJS) > 0.1*wantJS {
		t.Errorf("A/A mean JS = %.6f, want %.6f ± 10%%", js, wantJS)
	}
}

// populationHist returns Beta(a, b)'s exact bin probabilities, scaled
// to integer counts of a large total.
func populationHist(a, b float64) []int64 {
	d := distuv.Beta{Alpha: a, Beta: b}
	h := make([]int64, ConfidenceBins)
	for i := range h {
		lo, hi := float64(i)/ConfidenceBins, float64(i+1)/ConfidenceBins
		h[i] = int64(math.Round(1e12 * (d.CDF(hi) - d.CDF(lo))))
	}
	return h
}

// TestShiftedBeta: a canary whose confidences come from Beta(5, 2)
// against a stable Beta(8, 2) shows PSI and JS near their population
// values (exact bin probabilities from the Beta CDF), far above an A/A
// pair's, and over the usual 0.2 PSI threshold.
func TestShiftedBeta(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 100000
	stable, canary, again := betaHist(r, 8, 2, n), betaHist(r, 5, 2, n), betaHist(r, 8, 2, n)
	popPSI := PSI(populationHist(8, 2), populationHist(5, 2))
	popJS := JS(populationHist(8, 2), populationHist(5, 2))
	if popPSI < 0.2 {
		t.Fatalf("population PSI %g: the test wants a shift over 0.2", popPSI)
	}
	// Sampling adds a little, most of it from the sparse low bins of
	// Beta(8, 2); at this n it stays within 5 %.
	if got := PSI(stable, canary); math.Abs(got-popPSI) > 0.05*popPSI {
		t.Errorf("shifted PSI = %.4f, population %.4f", got, popPSI)
	}
	if got := JS(stable, canary); math.Abs(got-popJS) > 0.05*popJS {
		t.Errorf("shifted JS = %.5f, population %.5f", got, popJS)
	}
	if aa := PSI(stable, again); aa > 0.02 {
		t.Errorf("A/A PSI = %.4f, want near 0", aa)
	}
	if aa := JS(stable, again); aa > 0.005 {
		t.Errorf("A/A JS = %.5f, want near 0", aa)
	}
}
