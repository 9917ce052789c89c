//go:build !race

package runner

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/promscrape"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// sweepFixture is a simulated server with a small batch, so that it
// saturates at tens of requests per second. Its steps are long (100 to
// 150 ms) so that what the timers and the HTTP stack add to each — a few
// hundred microseconds, a few milliseconds on a loaded machine — stays a
// small share of them.
func sweepFixture() modelserver.Config {
	cfg := modelserver.DefaultConfig()
	cfg.MaxSeqs = 16
	cfg.StepBase = 100 * time.Millisecond
	cfg.StepPerSeq = 3125 * time.Microsecond
	cfg.PrefillPerToken = 10 * time.Microsecond
	return cfg
}

// Request shape of the truth test: every request has this many prompt
// tokens and generates exactly this many tokens (the openai client sends
// ignore_eos with max_tokens).
const (
	sweepPromptTokens = 32
	sweepOutputTokens = 4
)

// saturationTruth is the fixture's saturating rate, from its batching
// parameters (fixtures/modelserver: scheduler.go). Past saturation every
// decode step runs a full batch and gives each sequence one token. The
// batch is full at S = min(MaxSeqs, ⌊KVTokens / (P + N)⌋) sequences: the
// slots, or as many requests as the KV budget holds when each reserves
// its P prompt and N output tokens. So so a request of N output tokens spends N steps in the batch,
// and S/N requests finish, and S/N are admitted, per step. A step takes
// StepBase + StepPerSeq × S + PrefillPerToken × (prompt tokens admitted
// since the last step) = B + c·S + p·P·S/N. The server therefore
// completes (S/N) / (B + c·S + p·P·S/N) = S / (N·(B + c·S) + p·P·S)
// requests per second: 16 / (4 × (100 + 50) ms + 10 µs × 32 × 16) = 26.4/s
// for sweepFixture, whose KV budget holds thousands of requests.
func saturationTruth(cfg modelserver.Config, promptTokens, outputTokens int) float64 {
	s := float64(min(cfg.MaxSeqs, cfg.KVTokens/(promptTokens+outputTokens)))
	n, p := float64(outputTokens), float64(promptTokens)
	perSec := func(d time.Duration) float64 { return d.Seconds() }
	return s / (n*(perSec(cfg.StepBase)+perSec(cfg.StepPerSeq)*s) + perSec(cfg.PrefillPerToken)*p*s)
}

// TestSweepFindsSaturation sweeps the fixture with --rates auto (a
// synchronous stage, a throughput stage and 6 rates between) and checks
// the saturating rate it finds against the one the fixture's batching
// parameters give (saturationTruth), within 10 %; and that the knee, the
// stages' results and the resource that saturated first (the running
// batch: the KV cache is far from full) are where they must be.
func TestSweepFindsSaturation(t *testing.T) {
	cfg := sweepFixture()
	_, url := modelservertest.Start(t, cfg)
	truth := saturationTruth(cfg, sweepPromptTokens, sweepOutputTokens)
	dir := filepath.Join(t.TempDir(), "sweep")
	metrics, err := promscrape.MetricsURL(url)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(context.Background(), SweepConfig{
		Workload: func() (*scenarios.File, error) { return scenarios.FromFlags(scenarios.Overrides{}) },
		Protocol: "openai", Target: url,
		Client:  extensions.Options{PromptTokens: sweepPromptTokens, MaxTokens: sweepOutputTokens},
		Command: []string{"gonogo", "sweep"}, Dir: dir,
		Auto: true, AutoRates: 6, Stage: 2 * time.Second, MaxConcurrency: 48,
		ServerMetrics: metrics, ScrapeEvery: 100 * time.Millisecond,
		TargetRatePerSec: 200, Headroom: analyze.DefaultHeadroom,
	})
	if res == nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Error(err)
	}
	doc := res.Sweep
	if doc.Status != reports.SweepComplete || len(doc.Stages) != 8 {
		t.Fatalf("status %s (%s), %d stages, want complete with 8", doc.Status, doc.Reason, len(doc.Stages))
	}
	a := doc.Analysis
	sat := a.Saturation.RatePerSec
	t.Logf("truth %.2f/s; synchronous %.2f/s, saturation %.2f/s (stage %d), knee %.2f/s, SLO %.2f/s",
		truth, doc.Rates.SynchronousPerSec, sat, a.Saturation.Stage, a.Knee.RatePerSec, a.SLO.MaxRatePerSec)
	for _, st := range doc.Stages {
		t.Logf("stage %d %s offered %.2f: %d ok, throughput %.2f, latency %+v ms, ttft %+v ms, running %+v, waiting %+v", st.Index, st.Kind, st.OfferedPerSec,
			st.OK, st.ThroughputPerSec, st.Latency, st.TTFT, st.Server[analyze.ResourceRunning], st.Server[analyze.ResourceWaiting])
	}
	if math.Abs(sat-truth) > 0.1*truth || !a.Saturation.Reached {
		t.Errorf("saturation %.2f/s (reached %v), want %.2f/s ± 10 %%", sat, a.Saturation.Reached, truth)
	}
	// One request at a time takes N steps of a batch of one, plus the
	// prefill: 4 × 103.125 ms + 0.32 ms, 2.42/s. Each request also pays
	// for its HTTP exchange and its wake-up of the scheduler, which the
	// model leaves out and a loaded machine stretches: 25 % is allowed.
	syncTruth := 1 / (float64(sweepOutputTokens)*(cfg.StepBase+cfg.StepPerSeq).Seconds() + (cfg.PrefillPerToken * sweepPromptTokens).Seconds())
	if r := doc.Rates.SynchronousPerSec; math.Abs(r-syncTruth) > 0.25*syncTruth {
		t.Errorf("synchronous rate %.2f/s, want %.2f/s ± 25 %%", r, syncTruth)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-3*b }
	if r := doc.Rates.PerSec; len(r) != 6 || !near(r[0], doc.Rates.SynchronousPerSec) || !near(r[5], doc.Rates.SaturatingPerSec) {
		t.Errorf("auto rates %v: want 6 from %v to %v", r, doc.Rates.SynchronousPerSec, doc.Rates.SaturatingPerSec)
	}
	if k := a.Knee.RatePerSec; k <= 0 || k > 1.1*truth {
		t.Errorf("knee %.2f/s, want in (0, %.2f]", k, 1.1*truth)
	}
	if r := a.Resources; r == nil || r.First != analyze.ResourceRunning {
		t.Errorf("first to saturate: %+v, want the running batch", r)
	} else if e := r.Each; len(e) < 3 || e[1].Resource != analyze.ResourceRunning || e[1].Limit != float64(cfg.MaxSeqs) || e[1].LimitSource != analyze.LimitServer ||
		e[2].Resource != analyze.ResourceKVCache || e[2].Stage != 0 {
		t.Errorf("resource limits %+v: want running at the %d slots the server states, the KV cache never full", e, cfg.MaxSeqs)
	} else if r.AtPerSec < 0.75*truth || r.AtPerSec > 1.1*truth {
		t.Errorf("running reached its limit at %.2f/s, want near the saturating rate %.2f/s (0.75 to 1.1 times)", r.AtPerSec, truth)
	}
	if ad := a.Advice; ad == nil || ad.Replicas != int(math.Ceil(200/(ad.CapacityPerSec*(1-analyze.DefaultHeadroom))-1e-9)) || ad.Replicas < 5 {
		t.Errorf("advice %+v", ad)
	}
	// Every stage is a run of its own, and the sweep's files are there.
	for _, st := range doc.Stages {
		if _, err := reports.ReadRunJSON(filepath.Join(dir, st.Dir)); err != nil {
			t.Errorf("stage %d: %v", st.Index, err)
		}
	}
	for _, f := range []string{rundir.Sweep, rundir.SweepHTML, rundir.Summary} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	back, err := reports.ReadSweepJSON(filepath.Join(dir, rundir.Sweep))
	if err != nil || back.Analysis == nil || back.Analysis.Saturation.RatePerSec != sat {
		t.Errorf("sweep.json reads back %+v, %v", back, err)
	}
}

// TestSweepNamesKVCache: with long prompts and a large batch, the
// fixture's KV budget holds fewer requests than it has slots, so the KV
// cache fills first. The sweep must name kv_cache, at the limit the
// server states, not the running batch (whose 64 slots are never
// reached), and find the saturating rate of a batch of as many requests
// as the budget holds (saturationTruth) within 10 %.
func TestSweepNamesKVCache(t *testing.T) {
	const prompt, output, fit = 200, 4, 8
	cfg := sweepFixture()
	cfg.MaxSeqs = 64
	// Exactly 8 reservations of 204 tokens: a budget with room to spare
	// would never be filled, each request reserving its tokens whole.
	cfg.KVTokens = fit * (prompt + output)
	_, url := modelservertest.Start(t, cfg)
	truth := saturationTruth(cfg, prompt, output)
	metrics, err := promscrape.MetricsURL(url)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(context.Background(), SweepConfig{
		Workload: func() (*scenarios.File, error) { return scenarios.FromFlags(scenarios.Overrides{}) },
		Protocol: "openai", Target: url,
		Client:  extensions.Options{PromptTokens: prompt, MaxTokens: output},
		Command: []string{"gonogo", "sweep"}, Dir: filepath.Join(t.TempDir(), "sweep"),
		Auto: true, AutoRates: 2, Stage: 2 * time.Second, MaxConcurrency: 24,
		ServerMetrics: metrics, ScrapeEvery: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Sweep.Analysis
	for _, st := range res.Sweep.Stages {
		t.Logf("stage %d %s offered %.2f: throughput %.2f, running %+v, kv %+v", st.Index, st.Kind, st.OfferedPerSec,
			st.ThroughputPerSec, st.Server[analyze.ResourceRunning], st.Server[analyze.ResourceKVCache])
	}
	if sat := a.Saturation.RatePerSec; math.Abs(sat-truth) > 0.1*truth {
		t.Errorf("saturation %.2f/s, want %.2f/s ± 10 %% (a batch of %d)", sat, truth, fit)
	}
	r := a.Resources
	if r == nil || r.First != analyze.ResourceKVCache {
		t.Fatalf("first to saturate: %+v, want the KV cache", r)
	}
	if r.AtPerSec < 0.75*truth || r.AtPerSec > 1.1*truth {
		t.Errorf("the KV cache reached its limit at %.2f/s, want near the saturating rate %.2f/s (0.75 to 1.1 times)", r.AtPerSec, truth)
	}
	for _, e := range r.Each {
		switch e.Resource {
		case analyze.ResourceKVCache:
			if e.LimitSource != analyze.LimitServer || e.Limit != float64(cfg.KVTokens) || e.Peak != float64(cfg.KVTokens) {
				t.Errorf("kv_cache %+v: want the server's limit of %d tokens, reached", e, cfg.KVTokens)
			}
		case analyze.ResourceRunning:
			if e.LimitSource != analyze.LimitServer || e.Limit != float64(cfg.MaxSeqs) || e.Stage != 0 || e.Peak != fit {
				t.Errorf("running %+v: want %d slots stated, never reached, a peak of %d", e, cfg.MaxSeqs, fit)
			}
		}
	}
}
