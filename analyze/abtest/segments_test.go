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

func TestCompareSegments(t *testing.T) {
	segs := []Segment{
		{Name: "eu", Control: conv(20000, 0.05), Treatment: conv(20000, 0.058)},
		{Name: "us", Control: conv(20000, 0.05), Treatment: conv(20000, 0.051)},
		{Name: "apac", Control: conv(5000, 0.05), Treatment: conv(5000, 0.049)},
		{Name: "free", Control: conv(8000, 0.03), Treatment: conv(8000, 0.0345)},
	}
	for _, c := range []struct {
		corr   Correction
		caveat string
	}{{Holm, "4 segments compared: p-values Holm-adjusted over 4"}, {BH, "Benjamini–Hochberg-adjusted over 4"}, {NoCorrection, "4 segments compared without correction: about 0.2 of them"}} {
		rep, err := CompareSegments(segs, Binomial, Config{Correction: c.corr})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Count != 4 || rep.Correction != c.corr || !strings.Contains(rep.Caveat, c.caveat) {
			t.Errorf("count %d correction %s caveat %q", rep.Count, rep.Correction, rep.Caveat)
		}
		var raw []float64
		for _, s := range rep.Segments {
			raw = append(raw, s.Result.Relative.PValue)
		}
		want, _ := Adjust(raw, c.corr)
		for i, s := range rep.Segments {
			near(t, s.Name+" adjusted p", s.AdjustedP, want[i], 0)
			if s.Significant != (want[i] < DefaultAlpha) {
				t.Errorf("%s significant %v with adjusted p %g", s.Name, s.Significant, want[i])
			}
		}
		if !rep.Segments[0].Significant || rep.Segments[1].Significant {
			t.Errorf("%s: eu significant %v, us significant %v", c.corr, rep.Segments[0].Significant, rep.Segments[1].Significant)
		}
	}
	for _, bad := range [][]Segment{nil, {{Name: ""}}, {{Name: "a", Control: conv(10, 0.5)}, {Name: "a"}}, {{Name: "a", Control: Summary{Users: -2}}}} {
		if _, err := CompareSegments(bad, Binomial, Config{}); !errors.Is(err, input.ErrInput) {
			t.Errorf("segments %+v: err = %v, want an input error", bad, err)
		}
	}
}

// TestSegmentsAA: with no effect anywhere, 20 segments make "some
// segment is significant" common unless corrected; Holm keeps it at α.
func TestSegmentsAA(t *testing.T) {
	runs := 500
	if testing.Short() {
		runs = 200
	}
	src := rand.NewPCG(9, 9)
	count := map[Correction]int{}
	for range runs {
		segs := make([]Segment, 20)
		for i := range segs {
			c := distuv.Binomial{N: 5000, P: 0.1, Src: src}.Rand()
			tr := distuv.Binomial{N: 5000, P: 0.1, Src: src}.Rand()
			segs[i] = Segment{Name: fmt.Sprint(i), Control: Summary{Users: 5000, Sum: c}, Treatment: Summary{Users: 5000, Sum: tr}}
		}
		for _, corr := range []Correction{Holm, NoCorrection} {
			rep, err := CompareSegments(segs, Binomial, Config{Correction: corr})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range rep.Segments {
				if s.Significant {
					count[corr]++
					break
				}
			}
		}
	}
	holm, none := float64(count[Holm])/float64(runs), float64(count[NoCorrection])/float64(runs)
	t.Logf("A/A, 20 segments, %d runs: some segment significant in %.3f (Holm), %.3f (uncorrected; 1 − 0.95^20 = %.3f)", runs, holm, none, 1-math.Pow(0.95, 20))
	if tol := binomialTolerance(DefaultAlpha, runs); holm > DefaultAlpha+tol || none < 0.5 {
		t.Errorf("Holm %.3f (want ≤ %.3f), uncorrected %.3f (want ≥ 0.5)", holm, DefaultAlpha+tol, none)
	}
}
