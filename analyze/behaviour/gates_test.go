package behaviour

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/input"
	"gonum.org/v1/gonum/stat/distuv"
)

func TestParseGates(t *testing.T) {
	src := `min_samples: 500
gates:
  - {name: confidence drift, metric: confidence_psi, max: 0.2}
  - name: confidence floor
    metric: mean_confidence
    min: 0.6
    max: 1
`
	g, err := ParseGates("g.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if g.MinSamples != 500 || len(g.Gates) != 2 || g.Gates[0].Metric != ConfidencePSI || *g.Gates[0].Max != 0.2 ||
		g.Gates[1].Max == nil || *g.Gates[1].Min != 0.6 {
		t.Errorf("parsed %+v", g)
	}
	path := filepath.Join(t.TempDir(), "gates.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGates(path); err != nil {
		t.Errorf("LoadGates: %v", err)
	}
	if _, err := LoadGates(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || errors.Is(err, input.ErrInput) {
		t.Errorf("missing file: %v, want an error that is not bad input", err)
	}
}

func TestParseGatesErrors(t *testing.T) {
	for _, c := range []struct{ name, src, want string }{
		{"empty", ``, "g.yaml: empty"},
		{"no gates", "min_samples: 5\n", "gates: want at least one gate"},
		{"unknown metric", "gates:\n  - name: a\n    metric: confidence\n    max: 1\n", "g.yaml:3: gates[0].metric: unknown metric \"confidence\""},
		{"no bound", "gates:\n  - name: a\n    metric: error_rate\n  - name: b\n    metric: empty_rate\n", "g.yaml:2: gates[0].max: want max, min or both"},
		{"min above max", "gates:\n  - {name: a, metric: error_rate, max: 0.01}\n  - {name: b, metric: error_rate, min: 2, max: 1}\n", "g.yaml:3: gates[1].min: min 2 is above max 1"},
		{"duplicate", "gates:\n  - {name: a, metric: error_rate, max: 0.01}\n  - {name: a, metric: empty_rate, max: 0.01}\n", "gates[1].name: duplicate gate \"a\""},
		{"no name", "gates:\n  - {metric: error_rate, max: 0.01}\n", "gates[0].name: required"},
		{"unknown field", "gates:\n  - {name: a, metric: error_rate, maximum: 0.01}\n", "g.yaml:2: gates[0].maximum: unknown field"},
		{"negative min samples", "min_samples: -1\ngates:\n  - {name: a, metric: error_rate, max: 0.01}\n", "g.yaml:1: min_samples: want ≥ 0"},
		{"not a number", "gates:\n  - {name: a, metric: error_rate, max: low}\n", "g.yaml:2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseGates("g.yaml", []byte(c.src))
			if err == nil || !errors.Is(err, input.ErrInput) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want bad input containing %q", err, c.want)
			}
		})
	}
}

func TestEvaluateBounds(t *testing.T) {
	var stable, canary Counts
	stable.Responses, stable.Empty, stable.Predictions, stable.ConfidenceSum = 100, 1, 100, 80
	canary.Responses, canary.Empty, canary.Errors, canary.Predictions, canary.ConfidenceSum = 100, 3, 2, 100, 70
	g := &Gates{MinSamples: 100, Gates: []Gate{
		{Name: "empty at max", Metric: EmptyRate, Max: ptr(0.03)},                // 0.03 ≤ 0.03
		{Name: "empty delta", Metric: EmptyRateDelta, Max: ptr(0.01)},            // 0.02 > 0.01
		{Name: "errors", Metric: ErrorRate, Max: ptr(0.01)},                      // 0.02 > 0.01
		{Name: "error delta", Metric: ErrorRateDelta, Max: ptr(0.05)},            // 0.02
		{Name: "confidence", Metric: MeanConfidence, Min: ptr(0.7)},              // 0.7 ≥ 0.7
		{Name: "confidence delta", Metric: MeanConfidenceDelta, Min: ptr(-0.05)}, // -0.1
		{Name: "no lengths", Metric: LengthJS, Max: ptr(0.1)},                    // no data: hold
	}}
	want := []struct {
		status Status
		value  float64
	}{{Pass, 0.03}, {Fail, 0.02}, {Fail, 0.02}, {Pass, 0.02}, {Pass, 0.7}, {Fail, -0.1}, {Hold, 0}}
	res := g.Evaluate(&stable, &canary)
	for i, r := range res {
		if r.Status != want[i].status || !near(r.Value, want[i].value) {
			t.Errorf("%s: %s %g, want %s %g", r.Gate.Name, r.Status, r.Value, want[i].status, want[i].value)
		}
	}
	if Overall(res) != Fail || Overall(nil) != Hold || Overall(res[:1]) != Pass || Overall(res[6:]) != Hold {
		t.Error("Overall: fail beats hold beats pass; nothing holds")
	}
	// The default sample minimum (1000) holds all of them.
	g.MinSamples = 0
	for _, r := range g.Evaluate(&stable, &canary) {
		if r.Status != Hold {
			t.Errorf("%s with 100 of %d samples: %s, want hold", r.Gate.Name, DefaultMinSamples, r.Status)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }

func FuzzParseGates(f *testing.F) {
	f.Add([]byte("min_samples: 10\ngates:\n  - {name: a, metric: confidence_psi, max: 0.2}\n"))
	f.Add([]byte("gates:\n  - name: b\n    metric: mean_confidence_delta\n    min: -0.1\n"))
	f.Add([]byte("gates: [{name: c, metric: x}]"))
	f.Add([]byte("gates:\n  - !!int"))
	f.Fuzz(func(t *testing.T, src []byte) {
		g, err := ParseGates("f.yaml", src)
		if err != nil {
			if !errors.Is(err, input.ErrInput) {
				t.Fatalf("error %v is not bad input", err)
			}
			return
		}
		if field, msg := g.Check(); msg != "" {
			t.Fatalf("parsed gates fail their check: %s: %s", field, msg)
		}
		var c Counts
		if len(g.Evaluate(&c, &c)) != len(g.Gates) {
			t.Fatal("one result per gate")
		}
	})
}

// The exact interval against statsmodels 0.13.5 (SciPy's beta quantiles):
//
//	from statsmodels.stats.proportion import proportion_confint
//	from scipy.stats import norm
//	proportion_confint(k, n, alpha=2*norm.sf(4), method='beta')
func TestExactBounds(t *testing.T) {
	if a := distuv.UnitNormal.Survival(4); math.Abs(a-earlyAlpha) > 1e-15 {
		t.Errorf("earlyAlpha %g, want the normal tail beyond 4, %g", earlyAlpha, a)
	}
	for _, c := range []struct {
		k, n   int64
		lo, hi float64
	}{
		{17, 50, 0.1172900767087185, 0.6291810219199301},
		{2, 100, 8.01987101581624e-05, 0.1427538238136315},
		{0, 30, 0, 0.29201807566709936},
		{30, 30, 0.7079819243329006, 1},
		{1, 1, 3.167124183311986e-05, 1},
	} {
		lo, hi := exactBounds(c.k, c.n, earlyAlpha)
		if math.Abs(lo-c.lo) > 1e-9*max(c.lo, 1e-6) || math.Abs(hi-c.hi) > 1e-9 {
			t.Errorf("exactBounds(%d, %d) = [%g, %g], want [%g, %g]", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

// A rate gate fails before MinSamples when the rate is clearly beyond its
// bound; one near its bound holds; other gates always hold.
func TestEarlyFail(t *testing.T) {
	g := &Gates{Gates: []Gate{
		{Name: "errors", Metric: ErrorRate, Max: ptr(0.01)},
		{Name: "empty", Metric: EmptyRate, Max: ptr(0.01)},
		{Name: "answers", Metric: EmptyRate, Min: ptr(0.9)},
		{Name: "confidence", Metric: MeanConfidence, Min: ptr(0.99)},
	}}
	var stable, canary Counts
	canary.Responses, canary.Errors, canary.Empty, canary.Predictions, canary.ConfidenceSum = 50, 17, 2, 33, 10
	want := []struct {
		status Status
		early  bool
	}{{Fail, true}, {Hold, false}, {Fail, true}, {Hold, false}}
	for i, r := range g.Evaluate(&stable, &canary) {
		if r.Status != want[i].status || r.Early != want[i].early {
			t.Errorf("%s at 50 responses: %s early %v, want %s early %v", r.Gate.Name, r.Status, r.Early, want[i].status, want[i].early)
		}
	}
	// At the bound exactly, looked at after every 5th response up to the
	// sample minimum, 1 000 canaries: hardly any fails early.
	r := rand.New(rand.NewPCG(1, 2))
	g = &Gates{Gates: []Gate{{Name: "errors", Metric: ErrorRate, Max: ptr(0.01)}}}
	early := 0
	for range 1000 {
		var c Counts
		for c.Responses < DefaultMinSamples-1 {
			c.Responses++
			if r.Float64() < 0.01 {
				c.Errors++
			}
			if c.Responses%5 == 0 && g.Evaluate(&stable, &c)[0].Status == Fail {
				early++
				break
			}
		}
	}
	if early > 2 {
		t.Errorf("%d of 1000 canaries at the bound failed early, want at most 2", early)
	}
	t.Logf("%d of 1000 canaries at the bound failed early", early)
}
