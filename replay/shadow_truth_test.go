package replay_test

import (
	"context"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// divergenceSink feeds every pair straight into a Divergence.
type divergenceSink struct{ d *analyze.Divergence }

func (s divergenceSink) WritePair(p *gonogo.Pair) error { s.d.Add(p); return nil }

// shadowTruth runs n requests of protocol through v1 primary and v2
// candidate fixtures and returns the candidate's report.
func shadowTruth(t *testing.T, protocol string, n int, o extensions.Options, kind analyze.OutputKind) analyze.ComparisonReport {
	t.Helper()
	start := func(version string) string {
		cfg := modelserver.DefaultConfig()
		cfg.Addr, cfg.Version, cfg.Knobs.LatencyScale = "", version, 0.05
		_, url, stop, err := modelserver.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		return url
	}
	o.KeepOutput = true
	client := func(url string) gonogo.Client {
		o.Target = url
		c, err := extensions.New(protocol, o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	d := analyze.NewDivergence(analyze.DivergenceOptions{Kind: kind})
	fan := replay.NewFanout(client(start(modelserver.VersionV1)),
		[]replay.Mirror{{Name: "candidate", Client: client(start(modelserver.VersionV2))}},
		divergenceSink{d}, replay.FanoutOptions{QueueSize: n})
	s := &scenarios.Scenario{Name: "truth", Executor: scenarios.SharedIterations, VUs: 32, Iterations: n}
	if err := (&scenarios.File{Scenarios: map[string]*scenarios.Scenario{"truth": s}}).Validate(); err != nil {
		t.Fatal(err)
	}
	rec, _ := analyze.NewRecorder(analyze.Config{})
	scenarios.NewEngine(rec).Run(context.Background(), []scenarios.Plan{{Scenario: s, Client: fan}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fan.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep := d.Report()
	if len(rep.Candidates) != 1 || rep.Candidates[0].Raw.Compared != int64(n) {
		t.Fatalf("report: %+v", rep.Candidates)
	}
	return rep.Candidates[0].Raw
}

// TestShadowTruthKServeFlipRate: v2 flips the top class on a configured
// share of inputs (modelserver.DefaultDiffFraction); over 20 000 requests
// the measured flip rate is within 1 percentage point of it.
func TestShadowTruthKServeFlipRate(t *testing.T) {
	if testing.Short() {
		t.Skip("20 000 requests")
	}
	raw := shadowTruth(t, "kserve", 20000, extensions.Options{Model: "resnet"}, analyze.OutputAuto)
	c := raw.Classification
	if c == nil {
		t.Fatalf("no classification report: %+v", raw)
	}
	t.Logf("flip rate %.4f over %d pairs (truth %.4f)", c.FlipRate, c.Pairs, modelserver.DefaultDiffFraction)
	if d := c.FlipRate - modelserver.DefaultDiffFraction; d < -0.01 || d > 0.01 {
		t.Errorf("flip rate %.4f, truth %.4f ± 0.01", c.FlipRate, modelserver.DefaultDiffFraction)
	}
}

// TestShadowTruthTextExactMatch: v2's text differs from v1's on the same
// configured share of prompts; the exact-match rate is 1 − that within 1
// percentage point over 20 000 requests.
func TestShadowTruthTextExactMatch(t *testing.T) {
	if testing.Short() {
		t.Skip("20 000 requests")
	}
	raw := shadowTruth(t, "openai", 20000, extensions.Options{MaxTokens: 2, PromptTokens: 16}, analyze.OutputText)
	want := 1 - modelserver.DefaultDiffFraction
	t.Logf("exact-match rate %.4f over %d pairs (truth %.4f)", raw.Text.ExactMatchRate, raw.Text.Pairs, want)
	if d := raw.Text.ExactMatchRate - want; d < -0.01 || d > 0.01 {
		t.Errorf("exact-match rate %.4f, truth %.4f ± 0.01", raw.Text.ExactMatchRate, want)
	}
}
