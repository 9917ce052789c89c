package rollout

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/rollout/haproxy"
	"github.com/gonogo-dev/gonogo/rollout/route"
)

// The sample-ratio check's statistic and p-value equal SciPy's
// (testdata/srm.py made testdata/srm.json), and a split off by what the
// reference calls significant fails at alpha 0.001.
func TestSRMMatchesSciPy(t *testing.T) {
	b, err := os.ReadFile("testdata/srm.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Observed   [2]int64   `json:"observed"`
		WeightsPct [2]float64 `json:"weights_pct"`
		ChiSquare  float64    `json:"chi_square"`
		PValue     float64    `json:"p_value"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		obs := map[string]int64{"canary": c.Observed[0], "stable": c.Observed[1]}
		w := map[string]int{"canary": buckets(c.WeightsPct[0]), "stable": buckets(c.WeightsPct[1])}
		r := srm(obs, w, DefaultSRMAlpha, "requests")
		if r == nil {
			t.Fatalf("%v at %v: not tested", c.Observed, c.WeightsPct)
		}
		if math.Abs(r.ChiSq-c.ChiSquare) > 1e-9*max(1, c.ChiSquare) {
			t.Errorf("%v at %v: chi-square %g, SciPy %g", c.Observed, c.WeightsPct, r.ChiSq, c.ChiSquare)
		}
		if math.Abs(r.PValue-c.PValue) > 1e-9+1e-6*c.PValue {
			t.Errorf("%v at %v: p %g, SciPy %g", c.Observed, c.WeightsPct, r.PValue, c.PValue)
		}
		if r.Mismatch != (c.PValue < DefaultSRMAlpha) {
			t.Errorf("%v at %v: mismatch %v at p %g", c.Observed, c.WeightsPct, r.Mismatch, c.PValue)
		}
	}
}

// A cell that expects fewer than five is not tested (the chi-square
// approximation does not hold), and neither is a split with one side.
func TestSRMNeedsEnoughData(t *testing.T) {
	w := map[string]int{"canary": buckets(1), "stable": buckets(99)}
	if r := srm(map[string]int64{"canary": 0, "stable": 300}, w, DefaultSRMAlpha, "users"); r != nil {
		t.Errorf("tested with 3 expected canary users: %+v", r)
	}
	if r := srm(map[string]int64{"canary": 0, "stable": 3000}, map[string]int{"canary": 0, "stable": buckets(100)}, DefaultSRMAlpha, "users"); r != nil {
		t.Errorf("tested a split with one side: %+v", r)
	}
}

// A router that splits 30/70 when 25/75 was configured fails the step:
// the judgement is a no-go whatever else the window shows.
func TestJudgeFailsOnSampleRatioMismatch(t *testing.T) {
	cfg, err := ParseConfig("r.yaml", []byte(`name: srm
backends:
  - {name: stable, url: "http://127.0.0.1:1", role: stable}
  - {name: canary, url: "http://127.0.0.1:2", role: canary}
strategy: {canary: {steps: [{setWeight: 25}]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := analyze.NewRecorder(analyze.Config{})
	if err != nil {
		t.Fatal(err)
	}
	j := newJudge(cfg, rec)
	w := map[string]int{"canary": buckets(25), "stable": buckets(75)}
	now := time.Now()
	got := j.evaluate(context.Background(), now, now.Add(-time.Minute), map[string]int64{"canary": 3000, "stable": 7000}, "users", w, "canary", "stable", false, nil)
	if got.Decision != string(analyze.NoGo) || got.SRM == nil || !got.SRM.Mismatch || !strings.Contains(got.Reason, "sample ratio mismatch") {
		t.Fatalf("30/70 for 25/75: %s: %s", got.Decision, got.Reason)
	}
	got = j.evaluate(context.Background(), now, now.Add(-time.Minute), map[string]int64{"canary": 2510, "stable": 7490}, "users", w, "canary", "stable", false, nil)
	if got.Decision != string(analyze.Go) || got.SRM == nil || got.SRM.Mismatch {
		t.Fatalf("25.1/74.9 for 25/75: %s: %s", got.Decision, got.Reason)
	}
}

// fakeCounter is an external router's counts and its realised weights,
// as haproxy.Router gives them.
type fakeCounter struct{ n map[string]int64 }

func (f *fakeCounter) Requests(context.Context) (map[string]int64, error) { return f.n, nil }

func (f *fakeCounter) Realised(b map[string]int) (map[string]int, error) { return haproxy.Weights(b) }

// With an external router the split is checked on the router's own
// counts since the step's first judgement, against the split it realises:
// a 0.001 % canary is 1/257 of HAProxy's traffic (weights 256 and 1), which
// is not a mismatch, while 1 % of its traffic is.
func TestRouterSplitAgainstRealisedWeights(t *testing.T) {
	started := time.Now()
	fc := &fakeCounter{n: map[string]int64{"canary": 100, "stable": 900}}
	rs := &routerSplit{rc: fc}
	if got := rs.counts(context.Background(), started); got != nil {
		t.Fatalf("the step's first judgement: %v, want no counts yet (the base)", got)
	}
	configured := map[string]int{"canary": 1, "stable": route.Buckets - 1}
	realised, _ := fc.Realised(configured)
	cfg, err := ParseConfig("r.yaml", []byte(`name: srm
backends:
  - {name: stable, url: "http://127.0.0.1:1", role: stable}
  - {name: canary, url: "http://127.0.0.1:2", role: canary}
strategy: {canary: {steps: [{setWeight: 0.001}]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := analyze.NewRecorder(analyze.Config{})
	if err != nil {
		t.Fatal(err)
	}
	j := newJudge(cfg, rec)
	j.external = true
	for _, tc := range []struct {
		canary   int64
		mismatch bool
	}{{100 + 78, false}, {100 + 200, true}} {
		fc.n = map[string]int64{"canary": tc.canary, "stable": 900 + 20_000 - (tc.canary - 100)}
		split := rs.counts(context.Background(), started)
		got := j.evaluate(context.Background(), time.Now(), started, split, "requests (router)", realised, "canary", "stable", false, nil)
		if got.SRM == nil || got.SRM.Mismatch != tc.mismatch {
			t.Errorf("split %v against %v: %+v, want mismatch %v (%s)", split, realised, got.SRM, tc.mismatch, got.Reason)
		}
	}
	// Another step starts from its own base.
	if got := rs.counts(context.Background(), started.Add(time.Minute)); got != nil {
		t.Errorf("a new step's first judgement: %v, want none", got)
	}
}
