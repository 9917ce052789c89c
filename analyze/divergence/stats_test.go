package divergence

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

// divergenceReference is testdata/divergence_reference.json, made by
// testdata/divergence_reference.py (plain Python, textbook definitions).
type divergenceReference struct {
	Drift map[string]struct {
		P, Q                   []float64
		PSI, JS, KS, W1, W1Nrm float64
	} `json:"drift"`
	RBO []struct {
		A, B    []string
		P       float64
		RBO     float64 `json:"rbo"`
		Jaccard float64 `json:"jaccard"`
	} `json:"rbo"`
	Levenshtein []struct {
		A, B, Unit string
		Distance   int
	} `json:"levenshtein"`
}

func loadDivergenceReference(t *testing.T) divergenceReference {
	t.Helper()
	b, err := os.ReadFile("testdata/divergence_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Drift map[string]map[string]json.RawMessage `json:"drift"`
	}
	var ref divergenceReference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for name, fields := range raw.Drift { // w1_norm does not map by name
		c := ref.Drift[name]
		if err := json.Unmarshal(fields["w1_norm"], &c.W1Nrm); err != nil {
			t.Fatal(err)
		}
		ref.Drift[name] = c
	}
	return ref
}

func divNear(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestDriftReference(t *testing.T) {
	ref := loadDivergenceReference(t)
	if len(ref.Drift) == 0 {
		t.Fatal("no drift cases in reference")
	}
	for name, c := range ref.Drift {
		t.Run(name, func(t *testing.T) {
			p, q := slices.Clone(c.P), slices.Clone(c.Q)
			slices.Sort(p)
			slices.Sort(q)
			d := computeDrift(p, q)
			for _, m := range []struct {
				name      string
				got, want float64
			}{
				{"psi", d.PSI, c.PSI}, {"js", d.JS, c.JS}, {"ks", d.KSD, c.KS},
				{"w1", d.Wasserstein, c.W1}, {"w1_norm", d.WassersteinNorm, c.W1Nrm},
			} {
				if !divNear(m.got, m.want, 1e-6) {
					t.Errorf("%s = %.9f, want %.9f", m.name, m.got, m.want)
				}
			}
		})
	}
}

func TestDriftLevels(t *testing.T) {
	same := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if d := computeDrift(same, same); d.Verdict != DriftNone || d.PSI != 0 || d.KSD != 0 || d.Wasserstein != 0 || d.KSPValue != 1 {
		t.Errorf("identical samples: %+v", d)
	}
	var p, q []float64
	for i := range 1000 {
		p = append(p, float64(i))
		q = append(q, float64(i)+500)
	}
	if d := computeDrift(p, q); d.Verdict != DriftSignificant || d.KSLevel != DriftSignificant || d.KSPValue > 1e-6 {
		t.Errorf("shifted samples: %+v", d)
	}
	if computeDrift(nil, q) != nil {
		t.Error("drift of an empty sample is not nil")
	}
}

func TestRankingReference(t *testing.T) {
	for _, c := range loadDivergenceReference(t).RBO {
		if got := rbo(c.A, c.B, c.P); !divNear(got, c.RBO, 1e-9) {
			t.Errorf("rbo(%v, %v) = %.9f, want %.9f", c.A, c.B, got, c.RBO)
		}
		if got := jaccard(c.A, c.B); !divNear(got, c.Jaccard, 1e-9) {
			t.Errorf("jaccard(%v, %v) = %.9f, want %.9f", c.A, c.B, got, c.Jaccard)
		}
	}
	if got := rbo(nil, nil, 0.9); got != 1 {
		t.Errorf("rbo of two empty rankings = %v, want 1", got)
	}
	if got := topIndices([]float64{0.1, 0.5, 0.2, 0.5}, 3); !slices.Equal(got, []string{"1", "3", "2"}) {
		t.Errorf("topIndices = %v", got)
	}
}

func TestLevenshteinReference(t *testing.T) {
	split := func(s, unit string) []string {
		if unit == "rune" {
			return strings.Split(s, "")
		}
		w, _ := words(s, 100)
		return w
	}
	for _, c := range loadDivergenceReference(t).Levenshtein {
		a, b := split(c.A, c.Unit), split(c.B, c.Unit)
		if got := levenshtein(a, b); got != c.Distance {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", c.A, c.B, got, c.Distance)
		}
		if got := levenshtein(b, a); got != c.Distance {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", c.B, c.A, got, c.Distance)
		}
	}
	if got := normEdit([]string{"the", "cat", "sat", "on", "the", "mat"}, []string{"the", "cat", "sat", "on", "a", "mat"}); !divNear(got, 1.0/6, 1e-12) {
		t.Errorf("normEdit = %v, want 1/6", got)
	}
	toks, total := words("  a  b\tc\nd ", 2)
	if !slices.Equal(toks, []string{"a", "b"}) || total != 4 {
		t.Errorf("words capped = %v, %d", toks, total)
	}
}

func TestQuantile(t *testing.T) {
	s := []float64{1, 2, 3, 4}
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.5, 2.5}, {0.9, 3.7}, {1, 4}} {
		if got := quantileSorted(s, c.q); !divNear(got, c.want, 1e-12) {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestInputBucket(t *testing.T) {
	for _, c := range []struct {
		n      int
		bounds []int
		want   string
	}{
		{0, nil, "unknown"}, {1, nil, "1"}, {2, nil, "2-3"}, {3, nil, "2-3"}, {300, nil, "256-511"},
		{512, nil, "512-1023"}, {100, []int{128, 512}, "1-128"}, {129, []int{128, 512}, "129-512"},
		{513, []int{128, 512}, "513+"},
	} {
		if got := inputBucket(c.n, c.bounds); got != c.want {
			t.Errorf("inputBucket(%d, %v) = %q, want %q", c.n, c.bounds, got, c.want)
		}
	}
}
