//go:build !race

package analyze_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/openai"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
)

// One request at a time against the fixture: its decode step at a batch of
// one is StepBase + StepPerSeq, so the time to second token is one step
// and a user's output speed one token per step. The fixture's step is
// slowed to 20 ms so that the scheduling noise of a shared machine stays
// small beside it; medians must be within 15 % of the truth.
func TestFiguresMatchFixtureTruth(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.StepBase, cfg.StepPerSeq = 19*time.Millisecond, time.Millisecond
	step := cfg.StepBase + cfg.StepPerSeq
	_, url := modelservertest.Start(t, cfg)
	const requests, prompt, tokens = 13, 40, 8 // odd: the median of 1/x is 1/median(x)
	c, err := openai.New(extensions.Options{Target: url, PromptTokens: prompt, MaxTokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := analyze.NewRecorder(analyze.Config{Percentiles: []float64{99.99}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range requests {
		req := &gonogo.Request{ID: uint64(i), Scenario: "chat", Intended: time.Now()}
		res := &gonogo.Result{Request: req, Sent: time.Now()}
		c.Do(ctx, req, res)
		if res.Failed() {
			t.Fatalf("request %d failed: %s %s", i, res.Class, res.Err)
		}
		rec.Record(res)
	}
	sum := rec.Summary(time.Now())
	st := sum.Overall
	within := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*want {
			t.Errorf("%s = %.3f, want %.3f ± %.0f %%", name, got, want, 100*tol)
		}
	}
	stepMs := float64(step) / float64(time.Millisecond)
	if st.TTST == nil || st.TTST.Count != requests {
		t.Fatalf("ttst = %+v, want %d values", st.TTST, requests)
	}
	within("ttst p50 (ms)", st.TTST.P50, stepMs, 0.15)
	if st.TokensPerSecPerUser == nil || st.TokensPerSecPerUser.Count != requests {
		t.Fatalf("tokens_per_sec_per_user = %+v, want %d values", st.TokensPerSecPerUser, requests)
	}
	within("tokens_per_sec_per_user p50", st.TokensPerSecPerUser.P50, 1000/stepMs, 0.15)
	// The per-user speed is 1/tpot request by request.
	within("tokens_per_sec_per_user p50 × tpot p50", st.TokensPerSecPerUser.P50*st.TPOT.P50/1000, 1, 0.01)
	if in := st.InputTokens; in == nil || in.Min != prompt || in.Max != prompt || in.StdDev != 0 {
		t.Errorf("input_tokens = %+v, want every request %d tokens", in, prompt)
	}
	t.Logf("ttst p50 %.3f ms (truth %.3f) · tokens/s per user p50 %.3f (truth %.3f) · tpot p50 %.3f ms", st.TTST.P50, stepMs, st.TokensPerSecPerUser.P50, 1000/stepMs, st.TPOT.P50)
	if _, ok := st.Percentile(analyze.MetricTTST, 99.99); !ok {
		t.Errorf("ttst lacks p99.99, asked for in Config.Percentiles")
	}
}
