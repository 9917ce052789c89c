package mirror_test

import (
	"context"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// divergenceSink feeds every pair straight into a divergence Accumulator.
type divergenceSink struct{ d *divergence.Accumulator }

func (s divergenceSink) WritePair(p *gonogo.Pair) error { s.d.Add(p); return nil }

// truthShadow is a shadow run against fixture servers: a v1 primary, a
// candidate of version candidate, with secondary a v1 secondary; every
// server gives noisy answers at the share noise, each from its own seed,
// and v2 differs from v1 on the share diff of inputs (0: the default).
// segmentAlpha is the report's Options.SegmentAlpha.
type truthShadow struct {
	protocol     string
	n            int
	opts         extensions.Options
	kind         divergence.OutputKind
	candidate    string
	secondary    bool
	noise, diff  float64
	segmentAlpha float64
}

// shadowTruth runs the shadow replay of s and returns its divergence
// report, with exactly one candidate that compared every pair.
func shadowTruth(t *testing.T, s truthShadow) *divergence.Report {
	t.Helper()
	seed := int64(0)
	start := func(version string) string {
		seed++
		cfg := modelserver.DefaultConfig()
		cfg.Addr, cfg.Version, cfg.Seed, cfg.Knobs.LatencyScale, cfg.Knobs.Noise = "", version, seed, 0.05, s.noise
		if s.diff > 0 {
			cfg.DiffFraction = s.diff
		}
		_, url := modelservertest.Start(t, cfg)
		return url
	}
	o := s.opts
	o.KeepOutput = true
	client := func(url string) gonogo.Client {
		o.Target = url
		c, err := extensions.New(s.protocol, o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	d := divergence.New(divergence.Options{Kind: s.kind, SegmentAlpha: s.segmentAlpha})
	primary := client(start(modelserver.VersionV1))
	var targets []mirror.Target
	if s.secondary {
		targets = append(targets, mirror.Target{Name: "secondary", Client: client(start(modelserver.VersionV1))})
	}
	targets = append(targets, mirror.Target{Name: "candidate", Client: client(start(s.candidate))})
	fan := newClient(t, primary, targets, divergenceSink{d}, mirror.Options{})
	sc := &scenarios.Scenario{Name: "truth", Executor: scenarios.SharedIterations, VUs: 32, Iterations: s.n}
	if err := (&scenarios.File{Scenarios: map[string]*scenarios.Scenario{"truth": sc}}).Validate(); err != nil {
		t.Fatal(err)
	}
	rec, _ := analyze.NewRecorder(analyze.Config{})
	scenarios.NewEngine(rec).Run(context.Background(), []scenarios.Plan{{Scenario: sc, Client: fan}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fan.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep := d.Report()
	if len(rep.Candidates) != 1 || rep.Candidates[0].Raw.Compared != int64(s.n) {
		t.Fatalf("report: %+v", rep.Candidates)
	}
	return rep
}

// TestShadowTruthKServeFlipRate: v2 flips the top class on a configured
// share of inputs (modelserver.DefaultDiffFraction); over 20 000 requests
// the measured flip rate is within 1 percentage point of it.
func TestShadowTruthKServeFlipRate(t *testing.T) {
	if testing.Short() {
		t.Skip("20 000 requests")
	}
	raw := shadowTruth(t, truthShadow{protocol: "kserve", n: 20000, opts: extensions.Options{Model: "resnet"},
		kind: divergence.OutputAuto, candidate: modelserver.VersionV2}).Candidates[0].Raw
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
	raw := shadowTruth(t, truthShadow{protocol: "openai", n: 20000, opts: extensions.Options{MaxTokens: 2, PromptTokens: 16},
		kind: divergence.OutputText, candidate: modelserver.VersionV2}).Candidates[0].Raw
	want := 1 - modelserver.DefaultDiffFraction
	t.Logf("exact-match rate %.4f over %d pairs (truth %.4f)", raw.Text.ExactMatchRate, raw.Text.Pairs, want)
	if d := raw.Text.ExactMatchRate - want; d < -0.01 || d > 0.01 {
		t.Errorf("exact-match rate %.4f, truth %.4f ± 0.01", raw.Text.ExactMatchRate, want)
	}
}
