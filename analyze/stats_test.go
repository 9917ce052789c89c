package analyze

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// statsMWWant is one scipy result in testdata/stats_reference.json.
type statsMWWant struct {
	U           float64 `json:"u"`
	Z           float64 `json:"z"`
	PTwoSided   float64 `json:"p_two_sided"`
	PGreater    float64 `json:"p_greater"`
	PLess       float64 `json:"p_less"`
	CliffsDelta float64 `json:"cliffs_delta"`
	TieTerm     float64 `json:"tie_term"`
}

// statsReference is testdata/stats_reference.json, made with scipy by
// testdata/stats_reference.py (see its header for the command).
type statsReference struct {
	Scipy       string `json:"scipy"`
	MannWhitney []struct {
		Name      string       `json:"name"`
		Baseline  []float64    `json:"baseline"`
		Candidate []float64    `json:"candidate"`
		Want      statsMWWant  `json:"want"`
		HDR       *statsMWWant `json:"hdr"` // integer cases: samples mapped to HDR buckets
	} `json:"mann_whitney"`
	Proportions []struct {
		Name       string `json:"name"`
		XBaseline  int64  `json:"x_baseline"`
		NBaseline  int64  `json:"n_baseline"`
		XCandidate int64  `json:"x_candidate"`
		NCandidate int64  `json:"n_candidate"`
		Want       struct {
			PBaseline  float64 `json:"p_baseline"`
			PCandidate float64 `json:"p_candidate"`
			Diff       float64 `json:"diff"`
			Z          float64 `json:"z"`
			PTwoSided  float64 `json:"p_two_sided"`
			PGreater   float64 `json:"p_greater"`
			PLess      float64 `json:"p_less"`
		} `json:"want"`
	} `json:"proportions"`
}

func loadStatsReference(t *testing.T) statsReference {
	t.Helper()
	b, err := os.ReadFile("testdata/stats_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref statsReference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.MannWhitney) == 0 || len(ref.Proportions) == 0 {
		t.Fatal("stats_reference.json holds no cases")
	}
	return ref
}

// statsClose reports whether got is within rel (relative) or abs (absolute)
// of want.
func statsClose(got, want, rel, abs float64) bool {
	if got == want {
		return true
	}
	d := math.Abs(got - want)
	return d <= abs || d <= rel*math.Abs(want)
}

// checkMW compares got with a scipy reference: U to 1e-9 relative, z to 1e-9
// relative (1e-12 absolute near 0), p-values to 1e-6 relative.
func checkMW(t *testing.T, got MannWhitney, want statsMWWant, nBaseline, nCandidate int) {
	t.Helper()
	if got.NBaseline != int64(nBaseline) || got.NCandidate != int64(nCandidate) {
		t.Errorf("n = %d/%d, want %d/%d", got.NBaseline, got.NCandidate, nBaseline, nCandidate)
	}
	for _, c := range []struct {
		name      string
		got, want float64
		rel, abs  float64
	}{
		{"U", got.U, want.U, 1e-9, 0},
		{"Z", got.Z, want.Z, 1e-9, 1e-12},
		{"PTwoSided", got.PTwoSided, want.PTwoSided, 1e-6, 1e-300},
		{"PGreater", got.PGreater, want.PGreater, 1e-6, 1e-300},
		{"PLess", got.PLess, want.PLess, 1e-6, 1e-300},
		{"CliffsDelta", got.CliffsDelta, want.CliffsDelta, 1e-9, 1e-12},
	} {
		if !statsClose(c.got, c.want, c.rel, c.abs) {
			t.Errorf("%s = %.17g, want %.17g (scipy)", c.name, c.got, c.want)
		}
	}
}

func TestMannWhitneySamplesReference(t *testing.T) {
	ref := loadStatsReference(t)
	for _, c := range ref.MannWhitney {
		t.Run(c.Name, func(t *testing.T) {
			got, err := MannWhitneySamples(c.Baseline, c.Candidate)
			if err != nil {
				t.Fatal(err)
			}
			checkMW(t, got, c.Want, len(c.Baseline), len(c.Candidate))
		})
	}
}

// statsHist records integer samples into a histogram of the recorder's
// geometry for times.
func statsHist(t testing.TB, vals []float64) *hdr.Histogram {
	t.Helper()
	h := hdr.New(1, HighestMicros, SignificantDigits)
	for _, v := range vals {
		if err := h.RecordValue(int64(v)); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// statsEquivalentValues expands h into one value per recorded count: each
// bucket's lowest equivalent value.
func statsEquivalentValues(h *hdr.Histogram) []float64 {
	var out []float64
	for _, b := range h.Distribution() {
		for range b.Count {
			out = append(out, float64(b.From))
		}
	}
	return out
}

// TestMannWhitneyHistReference records the reference samples into HDR
// histograms and compares with scipy on the samples mapped to their HDR
// bucket (computed independently by the Python script), and with
// MannWhitneySamples on the histogram's equivalent values.
func TestMannWhitneyHistReference(t *testing.T) {
	ref := loadStatsReference(t)
	n := 0
	for _, c := range ref.MannWhitney {
		if c.HDR == nil {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			hb, hc := statsHist(t, c.Baseline), statsHist(t, c.Candidate)
			got, err := MannWhitneyHist(hb, hc)
			if err != nil {
				t.Fatal(err)
			}
			checkMW(t, got, *c.HDR, len(c.Baseline), len(c.Candidate))

			samples, err := MannWhitneySamples(statsEquivalentValues(hb), statsEquivalentValues(hc))
			if err != nil {
				t.Fatal(err)
			}
			if got != samples {
				t.Errorf("MannWhitneyHist = %+v\nMannWhitneySamples on equivalent values = %+v", got, samples)
			}
		})
	}
	if n == 0 {
		t.Fatal("no histogram cases in stats_reference.json")
	}
}

// TestMannWhitneyHistExactSmallValues: below 2048 µs a histogram is exact, so
// the histogram test equals the raw-sample test.
func TestMannWhitneyHistExactSmallValues(t *testing.T) {
	ref := loadStatsReference(t)
	for _, c := range ref.MannWhitney {
		if c.Name != "small_ints_exact_in_hdr" && c.Name != "heavy_ties" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			got, err := MannWhitneyHist(statsHist(t, c.Baseline), statsHist(t, c.Candidate))
			if err != nil {
				t.Fatal(err)
			}
			checkMW(t, got, c.Want, len(c.Baseline), len(c.Candidate))
		})
	}
}

// TestMannWhitneyHistLayouts compares histograms of different geometry: ties
// are buckets with the same lowest equivalent value.
func TestMannWhitneyHistLayouts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	draw := func(h *hdr.Histogram, medianMicros float64, n int) {
		for range n {
			v := int64(math.Round(medianMicros * math.Exp(0.4*rng.NormFloat64())))
			if err := h.RecordValue(max(v, 1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name               string
		candidateHighest   int64
		candidateSigDigits int
	}{
		{"tokens_highest", HighestTokens, SignificantDigits},
		{"two_digits", HighestMicros, 2},
		{"four_digits", HighestMicros, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := hdr.New(1, HighestMicros, SignificantDigits)
			cand := hdr.New(1, tc.candidateHighest, tc.candidateSigDigits)
			draw(base, 20000, 3000)
			draw(cand, 22000, 2000)
			got, err := MannWhitneyHist(base, cand)
			if err != nil {
				t.Fatal(err)
			}
			want, err := MannWhitneySamples(statsEquivalentValues(base), statsEquivalentValues(cand))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("MannWhitneyHist = %+v\nMannWhitneySamples on equivalent values = %+v", got, want)
			}
			if got.PGreater > 1e-3 {
				t.Errorf("PGreater = %g for a 10%% rise over 2000 samples, want < 1e-3", got.PGreater)
			}
		})
	}
}

// TestMannWhitneySymmetry: swapping the sides swaps PGreater and PLess,
// negates Z and CliffsDelta, keeps PTwoSided, and U becomes n₁n₂ − U.
func TestMannWhitneySymmetry(t *testing.T) {
	ref := loadStatsReference(t)
	for _, c := range ref.MannWhitney {
		t.Run(c.Name, func(t *testing.T) {
			ab, err := MannWhitneySamples(c.Baseline, c.Candidate)
			if err != nil {
				t.Fatal(err)
			}
			ba, err := MannWhitneySamples(c.Candidate, c.Baseline)
			if err != nil {
				t.Fatal(err)
			}
			nn := float64(ab.NBaseline) * float64(ab.NCandidate)
			if ba.NBaseline != ab.NCandidate || ba.NCandidate != ab.NBaseline {
				t.Errorf("swapped n = %d/%d, want %d/%d", ba.NBaseline, ba.NCandidate, ab.NCandidate, ab.NBaseline)
			}
			if ba.U != nn-ab.U {
				t.Errorf("swapped U = %v, want %v", ba.U, nn-ab.U)
			}
			if ba.PGreater != ab.PLess || ba.PLess != ab.PGreater {
				t.Errorf("swapped PGreater/PLess = %v/%v, want %v/%v", ba.PGreater, ba.PLess, ab.PLess, ab.PGreater)
			}
			if ba.PTwoSided != ab.PTwoSided {
				t.Errorf("swapped PTwoSided = %v, want %v", ba.PTwoSided, ab.PTwoSided)
			}
			if !statsClose(ba.Z, -ab.Z, 1e-12, 1e-15) || !statsClose(ba.CliffsDelta, -ab.CliffsDelta, 1e-12, 1e-15) {
				t.Errorf("swapped Z, CliffsDelta = %v, %v, want %v, %v", ba.Z, ba.CliffsDelta, -ab.Z, -ab.CliffsDelta)
			}
			if ab.PTwoSided < 0 || ab.PTwoSided > 1 || math.IsNaN(ab.PTwoSided) {
				t.Errorf("PTwoSided = %v, want in [0, 1]", ab.PTwoSided)
			}
		})
	}
}

// TestMannWhitneyIdentical: the same sample on both sides is no evidence.
func TestMannWhitneyIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, 500)
	h := hdr.New(1, HighestMicros, SignificantDigits)
	for i := range vals {
		vals[i] = math.Round(30000 * math.Exp(0.5*rng.NormFloat64()))
		_ = h.RecordValue(int64(vals[i]))
	}
	fromSamples, err := MannWhitneySamples(vals, vals)
	if err != nil {
		t.Fatal(err)
	}
	fromHist, err := MannWhitneyHist(h, h)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]MannWhitney{"samples": fromSamples, "hist": fromHist} {
		if got.PTwoSided != 1 || got.Z != 0 || got.CliffsDelta != 0 || got.U != 500*500/2 {
			t.Errorf("%s: %+v, want PTwoSided 1, Z 0, CliffsDelta 0, U %d", name, got, 500*500/2)
		}
		if got.PGreater < 0.5 || got.PLess < 0.5 {
			t.Errorf("%s: PGreater, PLess = %v, %v, want ≥ 0.5", name, got.PGreater, got.PLess)
		}
	}
}

// TestMannWhitneyAllTies: one value everywhere gives no variance; the result
// must be p = 1, not NaN.
func TestMannWhitneyAllTies(t *testing.T) {
	vals := make([]float64, 40)
	for i := range vals {
		vals[i] = 1234
	}
	want := MannWhitney{NBaseline: 40, NCandidate: 40, U: 800, PTwoSided: 1, PGreater: 1, PLess: 1}
	got, err := MannWhitneySamples(vals, vals)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("samples: %+v, want %+v", got, want)
	}
	b := hdr.New(1, HighestMicros, SignificantDigits)
	c := hdr.New(1, HighestMicros, SignificantDigits)
	_ = b.RecordValues(5_000_000, 40)
	_ = c.RecordValues(5_000_001, 40) // same bucket at this magnitude
	got, err = MannWhitneyHist(b, c)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("hist: %+v, want %+v", got, want)
	}
}

// TestMannWhitneySeparated: complete separation gives |CliffsDelta| = 1 and a
// tiny but finite p far in the tail (where 1−erf would give 0).
func TestMannWhitneySeparated(t *testing.T) {
	lo, hi := make([]float64, 100), make([]float64, 100)
	for i := range lo {
		lo[i], hi[i] = float64(i), float64(1000+i)
	}
	got, err := MannWhitneySamples(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	// z = (5000 − 0.5)/√(100·100·201/12) = 12.2163...; P(Z > z) ≈ 1.31e-34.
	wantZ := 4999.5 / math.Sqrt(100*100*201.0/12)
	if got.CliffsDelta != 1 || got.U != 10000 || !statsClose(got.Z, wantZ, 1e-12, 0) {
		t.Errorf("got %+v, want CliffsDelta 1, U 10000, Z %v", got, wantZ)
	}
	if !(got.PGreater > 1e-35 && got.PGreater < 1e-33) || got.PTwoSided != 2*got.PGreater || got.PLess != 1 {
		t.Errorf("p = %g/%g/%g, want PGreater ≈ 1.3e-34, PTwoSided = 2·PGreater, PLess 1",
			got.PTwoSided, got.PGreater, got.PLess)
	}
}

func TestMannWhitneyErrors(t *testing.T) {
	few := make([]float64, MannWhitneyMinSamples-1)
	enough := make([]float64, MannWhitneyMinSamples)
	for i := range enough {
		enough[i] = float64(i)
	}
	for _, tc := range []struct {
		name                string
		baseline, candidate []float64
	}{
		{"few_baseline", few, enough},
		{"few_candidate", enough, few},
		{"empty", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := MannWhitneySamples(tc.baseline, tc.candidate); !errors.Is(err, ErrTooFewSamples) {
				t.Errorf("MannWhitneySamples error = %v, want ErrTooFewSamples", err)
			}
		})
	}
	if _, err := MannWhitneySamples(enough, enough); err != nil {
		t.Errorf("%d a side: %v", MannWhitneyMinSamples, err)
	}
	h := hdr.New(1, HighestMicros, SignificantDigits)
	_ = h.RecordValues(100, MannWhitneyMinSamples)
	if _, err := MannWhitneyHist(nil, h); !errors.Is(err, ErrTooFewSamples) {
		t.Errorf("nil baseline histogram: error = %v, want ErrTooFewSamples", err)
	}
	small := hdr.New(1, HighestMicros, SignificantDigits)
	_ = small.RecordValues(100, MannWhitneyMinSamples-1)
	if _, err := MannWhitneyHist(h, small); !errors.Is(err, ErrTooFewSamples) {
		t.Errorf("small candidate histogram: error = %v, want ErrTooFewSamples", err)
	}
	nan := append([]float64{math.NaN()}, enough...)
	if _, err := MannWhitneySamples(enough, nan); err == nil || errors.Is(err, ErrTooFewSamples) {
		t.Errorf("NaN sample: error = %v, want a NaN error", err)
	}
}

func TestTwoProportionReference(t *testing.T) {
	ref := loadStatsReference(t)
	for _, c := range ref.Proportions {
		t.Run(c.Name, func(t *testing.T) {
			got, err := TwoProportion(c.XBaseline, c.NBaseline, c.XCandidate, c.NCandidate)
			if err != nil {
				t.Fatal(err)
			}
			w := c.Want
			for _, f := range []struct {
				name      string
				got, want float64
				rel       float64
			}{
				{"PBaseline", got.PBaseline, w.PBaseline, 1e-12},
				{"PCandidate", got.PCandidate, w.PCandidate, 1e-12},
				{"Diff", got.Diff, w.Diff, 1e-12},
				{"Z", got.Z, w.Z, 1e-9},
				{"PTwoSided", got.PTwoSided, w.PTwoSided, 1e-6},
				{"PGreater", got.PGreater, w.PGreater, 1e-6},
				{"PLess", got.PLess, w.PLess, 1e-6},
			} {
				if !statsClose(f.got, f.want, f.rel, 1e-15) {
					t.Errorf("%s = %.17g, want %.17g (scipy)", f.name, f.got, f.want)
				}
			}
		})
	}
}

func TestTwoProportionSymmetry(t *testing.T) {
	ab, err := TwoProportion(10, 10000, 25, 12000)
	if err != nil {
		t.Fatal(err)
	}
	ba, err := TwoProportion(25, 12000, 10, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if ba.Z != -ab.Z || ba.PGreater != ab.PLess || ba.PLess != ab.PGreater || ba.PTwoSided != ab.PTwoSided {
		t.Errorf("swapped = %+v, original %+v", ba, ab)
	}
}

func TestTwoProportionDegenerate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		x1, n1     int64
		x2, n2     int64
		p1, p2     float64
		wantZeroZ  bool
		wantErr    bool
		wantTooFew bool
	}{
		{name: "no_successes", x1: 0, n1: 100, x2: 0, n2: 200, wantZeroZ: true},
		{name: "all_successes", x1: 100, n1: 100, x2: 50, n2: 50, p1: 1, p2: 1, wantZeroZ: true},
		{name: "zero_baseline_n", x1: 0, n1: 0, x2: 1, n2: 10, wantErr: true, wantTooFew: true},
		{name: "zero_candidate_n", x1: 1, n1: 10, x2: 0, n2: 0, wantErr: true, wantTooFew: true},
		{name: "x_above_n", x1: 11, n1: 10, x2: 0, n2: 10, wantErr: true},
		{name: "negative_x", x1: 1, n1: 10, x2: -1, n2: 10, wantErr: true},
		{name: "negative_n", x1: 0, n1: -1, x2: 0, n2: 10, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TwoProportion(tc.x1, tc.n1, tc.x2, tc.n2)
			if tc.wantErr {
				if err == nil || errors.Is(err, ErrTooFewSamples) != tc.wantTooFew {
					t.Errorf("error = %v, want error (ErrTooFewSamples: %v)", err, tc.wantTooFew)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Proportions{PBaseline: tc.p1, PCandidate: tc.p2, PTwoSided: 1, PGreater: 1, PLess: 1}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// BenchmarkMannWhitneyHist tests two 1M-value lognormal latency histograms
// (median 45 ms and 46 ms, σ 0.35).
func BenchmarkMannWhitneyHist(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 5))
	base := hdr.New(1, HighestMicros, SignificantDigits)
	cand := hdr.New(1, HighestMicros, SignificantDigits)
	for range 1_000_000 {
		_ = base.RecordValue(int64(45000 * math.Exp(0.35*rng.NormFloat64())))
		_ = cand.RecordValue(int64(46000 * math.Exp(0.35*rng.NormFloat64())))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MannWhitneyHist(base, cand); err != nil {
			b.Fatal(err)
		}
	}
}
