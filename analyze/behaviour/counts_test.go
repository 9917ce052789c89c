package behaviour

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func TestBins(t *testing.T) {
	for _, c := range []struct {
		conf float64
		want int
	}{{0, 0}, {0.049, 0}, {0.05, 1}, {0.5, 10}, {0.999, 19}, {1, 19}, {1.5, 19}, {-1, 0}, {math.NaN(), 0}} {
		if got := ConfidenceBin(c.conf); got != c.want {
			t.Errorf("ConfidenceBin(%g) = %d, want %d", c.conf, got, c.want)
		}
	}
	// Bin 1+⌊4 log₂ n⌋: 2^(k/4) starts bin k+1.
	for _, c := range []struct{ n, want int }{{0, 0}, {-3, 0}, {1, 1}, {2, 5}, {3, 7}, {4, 9}, {1000, 40}, {1 << 20, LengthBins - 1}, {1 << 30, LengthBins - 1}} {
		if got := LengthBin(c.n); got != c.want {
			t.Errorf("LengthBin(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	if ClassBin(3) != 3 || ClassBin(MaxClasses) != MaxClasses || ClassBin(1000) != MaxClasses {
		t.Errorf("ClassBin: %d %d %d", ClassBin(3), ClassBin(MaxClasses), ClassBin(1000))
	}
}

func TestCountsAdd(t *testing.T) {
	fs := []Features{
		{Predictions: []Prediction{{0.9, 2}, {0.6, 100}}, Tokens: -1},
		{Outcome: Empty, Tokens: -1, HasLength: true},
		{Tokens: 10, Chars: 55, HasLength: true, Predictions: []Prediction{{0.3, -1}}},
		{Tokens: -1, Chars: 7, HasLength: true},
		Failed("boom"),
	}
	var c Counts
	for i := range fs {
		c.Add(&fs[i])
	}
	if c.Responses != 5 || c.Errors != 1 || c.Empty != 1 || c.Predictions != 3 || c.Lengths != 3 {
		t.Fatalf("counts %+v", c)
	}
	if got, want := c.MeanConfidence(), (0.9+0.6+0.3)/3; math.Abs(got-want) > 1e-12 {
		t.Errorf("MeanConfidence = %g, want %g", got, want)
	}
	if got, want := c.MeanLength(), (0+10+7)/3.0; math.Abs(got-want) > 1e-12 {
		t.Errorf("MeanLength = %g, want %g (tokens when known, else characters)", got, want)
	}
	if c.EmptyRate() != 0.2 || c.ErrorRate() != 0.2 {
		t.Errorf("rates %g %g, want 0.2 0.2", c.EmptyRate(), c.ErrorRate())
	}
	if c.Classes[2] != 1 || c.Classes[MaxClasses] != 1 || c.ClassCount() != 2 {
		t.Errorf("classes: [2]=%d other=%d total=%d", c.Classes[2], c.Classes[MaxClasses], c.ClassCount())
	}
	if c.Confidence[18] != 1 || c.Confidence[12] != 1 || c.Confidence[6] != 1 {
		t.Errorf("confidence bins %v", c.Confidence)
	}
	var z Counts
	if !math.IsNaN(z.MeanConfidence()) || !math.IsNaN(z.EmptyRate()) || !math.IsNaN(z.ErrorRate()) || !math.IsNaN(z.MeanLength()) {
		t.Error("an empty Counts has NaN rates and means")
	}
}

// TestTrackerWindows: Window(n) is the merge of the last n closed
// intervals, the ring forgets the oldest, and the snapshot's totals count
// everything, the open interval too.
func TestTrackerWindows(t *testing.T) {
	tr := NewTracker(3)
	ok := Features{Predictions: []Prediction{{0.5, 1}}, Tokens: -1}
	bad := Failed("x")
	// Interval i holds i+1 responses, the last of them an error.
	for i := range 5 {
		for range i {
			tr.Observe("canary", &ok)
		}
		tr.Observe("canary", &bad)
		tr.Rotate()
	}
	tr.Observe("canary", &ok) // open
	for _, c := range []struct {
		n    int
		want int64
	}{{1, 5}, {2, 9}, {3, 12}, {10, 12}, {0, 0}} {
		w := tr.Window("canary", c.n)
		if w.Responses != c.want {
			t.Errorf("Window(%d).Responses = %d, want %d", c.n, w.Responses, c.want)
		}
	}
	if w := tr.Window("canary", 2); w.Errors != 2 || w.Predictions != 7 {
		t.Errorf("Window(2) = %d errors %d predictions, want 2 and 7", w.Errors, w.Predictions)
	}
	if w := tr.Window("nobody", 3); w.Responses != 0 {
		t.Errorf("unknown backend: %+v", w)
	}
	tr.Observe("stable", &ok)
	tr.Rotate()
	snap := tr.Snapshot(1)
	if len(snap) != 2 || snap[0].Backend != "canary" || snap[1].Backend != "stable" {
		t.Fatalf("Snapshot = %+v", snap)
	}
	c := snap[0]
	if c.Sampled != 1 || c.ErrorRate != 0 || c.MeanConfidence != 0.5 || c.TotalResponses != 16 || c.TotalErrors != 5 {
		t.Errorf("canary stats %+v, want 1 sampled, error rate 0, total 16 with 5 errors", c)
	}
	if !math.IsNaN(c.MeanLength) {
		t.Errorf("no lengths: MeanLength %g, want NaN", c.MeanLength)
	}
}

// TestTrackerConcurrent counts from many goroutines while rotating; run
// with -race.
func TestTrackerConcurrent(t *testing.T) {
	tr := NewTracker(0)
	f := Features{Predictions: []Prediction{{0.7, 3}}, Tokens: 4, HasLength: true}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 1000 {
				tr.Observe([]string{"stable", "canary"}[g%2], &f)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			tr.Rotate()
			tr.Snapshot(10)
		}
	})
	wg.Wait()
	var total int64
	for _, s := range tr.Snapshot(1) {
		total += s.TotalResponses
	}
	if total != 8000 {
		t.Errorf("total responses %d, want 8000", total)
	}
}

// feed observes n predictions with confidences from Beta(a, b), classes
// from the confidence (so a shift moves both), and lengths from a
// Poisson(meanLen) text.
func feed(tr *Tracker, backend string, r *rand.Rand, a, b, meanLen float64, n int) {
	conf := distuv.Beta{Alpha: a, Beta: b, Src: r}
	length := distuv.Poisson{Lambda: meanLen, Src: r}
	for range n {
		c := conf.Rand()
		f := Features{Predictions: []Prediction{{c, int(c * 5)}}, Tokens: int(length.Rand()), HasLength: true}
		tr.Observe(backend, &f)
	}
}

// TestGatesOnBetaTraffic: gates fed from known distributions. A/A: two
// backends with the same behaviour pass every gate, whichever is called
// stable. A canary with lower confidence fails the confidence gates.
// Too few samples hold.
func TestGatesOnBetaTraffic(t *testing.T) {
	g := &Gates{MinSamples: 2000, Gates: []Gate{
		{Name: "confidence drift", Metric: ConfidencePSI, Max: ptr(0.2)},
		{Name: "confidence js", Metric: ConfidenceJS, Max: ptr(0.05)},
		{Name: "class mix", Metric: ClassPSI, Max: ptr(0.2)},
		{Name: "length", Metric: LengthPSI, Max: ptr(0.2)},
		{Name: "confidence floor", Metric: MeanConfidenceDelta, Min: ptr(-0.05)},
	}}
	r := rand.New(rand.NewPCG(5, 6))
	tr := NewTracker(10)
	feed(tr, "stable", r, 8, 2, 40, 5000)
	feed(tr, "twin", r, 8, 2, 40, 5000)
	feed(tr, "worse", r, 5, 2, 40, 5000)
	feed(tr, "few", r, 8, 2, 40, 500)
	tr.Rotate()
	stable, twin, worse, few := tr.Window("stable", 1), tr.Window("twin", 1), tr.Window("worse", 1), tr.Window("few", 1)

	for _, pair := range [][2]*Counts{{&stable, &twin}, {&twin, &stable}} {
		res := g.Evaluate(pair[0], pair[1])
		for _, r := range res {
			if r.Status != Pass {
				t.Errorf("A/A %s = %g (%s), want pass", r.Gate.Name, r.Value, r.Status)
			}
		}
		if Overall(res) != Pass {
			t.Errorf("A/A overall %s", Overall(res))
		}
	}
	res := g.Evaluate(&stable, &worse)
	want := map[string]Status{"confidence drift": Fail, "confidence js": Fail, "class mix": Fail, "length": Pass, "confidence floor": Fail}
	for _, r := range res {
		if r.Status != want[r.Gate.Name] {
			t.Errorf("shifted %s = %g (%s), want %s", r.Gate.Name, r.Value, r.Status, want[r.Gate.Name])
		}
	}
	if Overall(res) != Fail {
		t.Errorf("shifted overall %s, want fail", Overall(res))
	}
	for _, r := range g.Evaluate(&stable, &few) {
		if r.Status != Hold || r.Samples != 500 {
			t.Errorf("500 samples: %s %s with %d samples, want hold on 500", r.Gate.Name, r.Status, r.Samples)
		}
	}
}

func ptr(v float64) *float64 { return &v }
