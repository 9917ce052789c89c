//go:build !race

// Truth tests compare measurements with the simulated server's known
// latency: they are timing-sensitive, so they stay out of -race builds
// (which slow everything several times) and run in the plain test pass.

package scenarios_test

import (
	"context"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	_ "github.com/gonogo-dev/gonogo/extensions/all"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// These tests check the engine's measurements end to end — schedule,
// protocol client, recorder — against the simulated server, which knows
// the truth: its latency distribution, its stalls, its output lengths.

func startFixture(t *testing.T, mutate func(*modelserver.Config)) (*modelserver.Server, string) {
	t.Helper()
	cfg := modelserver.DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	srv, url := modelservertest.Start(t, cfg)
	return srv, url
}

// measure runs one scenario against url and returns the overall stats.
func measure(t *testing.T, s *scenarios.Scenario, protocol string, o extensions.Options) analyze.Stats {
	t.Helper()
	f := &scenarios.File{Scenarios: map[string]*scenarios.Scenario{"truth": s}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := extensions.New(protocol, o)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := analyze.NewRecorder(analyze.Config{})
	if err != nil {
		t.Fatal(err)
	}
	scenarios.NewEngine(rec).Run(context.Background(), []scenarios.Plan{{Scenario: s, Client: c}})
	end := time.Now()
	if err := rec.Close(end); err != nil {
		t.Fatal(err)
	}
	return rec.Summary(end).Overall
}

// TestStallTruth: a server that stalls 400 ms every 2 s, at 200 req/s open
// model with only 2 VUs and queueing. Arrivals during a stall wait for its
// end, so latency from the intended send must show the stall (p99 near
// 400 ms), while latency from the actual send — what a closed-loop tool
// reports — hides it: only the 2 requests in flight per stall see it.
func TestStallTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("6 s timing test")
	}
	_, url := startFixture(t, func(c *modelserver.Config) {
		c.Knobs.StallEvery, c.Knobs.StallFor = 2*time.Second, 400*time.Millisecond
	})
	st := measure(t, &scenarios.Scenario{
		Executor: scenarios.ConstantArrivalRate, Rate: 200, Duration: 6 * time.Second,
		MaxVUs: 2, PreAllocatedVUs: 2, Saturation: scenarios.SaturationQueue,
	}, "kserve", extensions.Options{Target: url, Model: "resnet"})
	if st.Requests.Total != 1200 || st.Requests.OK != 1200 {
		t.Fatalf("requests %+v, want 1200 ok", st.Requests)
	}
	t.Logf("latency p99 %.1f ms, latency_service p99 %.1f ms, queued %d", st.Latency.P99, st.LatencyService.P99, st.Requests.Queued)
	// ~20 % of arrivals fall in a stall and wait U(0, 400 ms): p99 ≈ 380 ms.
	if p99 := st.Latency.P99; p99 < 300 || p99 > 700 {
		t.Errorf("latency p99 = %.1f ms, want ≈380 ms (the stall)", p99)
	}
	if p99 := st.LatencyService.P99; p99 > 100 {
		t.Errorf("latency_service p99 = %.1f ms, want a few ms: the stall is hidden from the actual send", p99)
	}
	if st.Requests.Queued < 100 {
		t.Errorf("queued = %d, want the arrivals of every stall queued", st.Requests.Queued)
	}
}

// TestInferLatencyTruth: with a server that never queues, the measured
// service time follows the fixture's known distribution
// InferLatency × (1 + Exp(jitter)) plus a little loopback overhead.
func TestInferLatencyTruth(t *testing.T) {
	_, url := startFixture(t, func(c *modelserver.Config) {
		c.InferLatency, c.InferJitter = 5*time.Millisecond, 0.5
	})
	cfg := modelserver.DefaultConfig()
	cfg.InferLatency, cfg.InferJitter = 5*time.Millisecond, 0.5
	st := measure(t, &scenarios.Scenario{
		Executor: scenarios.ConstantArrivalRate, Rate: 100, Duration: 3 * time.Second, Arrival: scenarios.ArrivalPoisson,
	}, "kserve", extensions.Options{Target: url, Model: "resnet"})
	for _, q := range []struct {
		name string
		got  float64
		q    float64
	}{{"p50", st.LatencyService.P50, 0.5}, {"p90", st.LatencyService.P90, 0.9}} {
		want := float64(modelserver.InferLatencyQuantile(cfg, q.q)) / float64(time.Millisecond)
		// Timers fire late, never early; loopback adds well under 3 ms.
		if q.got < want*0.97 || q.got > want+3 {
			t.Errorf("latency_service %s = %.2f ms, true %.2f ms", q.name, q.got, want)
		}
	}
}

// TestLLMStreamingTruth: at low load every request runs in a batch of one
// or two, so the fixture's decode step is StepBase + StepPerSeq×batch
// (8.15–8.3 ms) and each request emits exactly max_tokens tokens.
func TestLLMStreamingTruth(t *testing.T) {
	_, url := startFixture(t, nil)
	st := measure(t, &scenarios.Scenario{
		Executor: scenarios.ConstantArrivalRate, Rate: 10, Duration: 2 * time.Second,
	}, "openai", extensions.Options{Target: url, MaxTokens: 12, PromptTokens: 100})
	if st.Requests.OK != 20 {
		t.Fatalf("requests %+v", st.Requests)
	}
	if ot := st.OutputTokens; ot == nil || ot.Min != 12 || ot.Max != 12 {
		t.Fatalf("output_tokens = %+v, want exactly 12", ot)
	}
	step := float64(modelserver.DefaultStepBase+modelserver.DefaultStepPerSeq) / float64(time.Millisecond)
	if p50 := st.TPOT.P50; p50 < step*0.98 || p50 > step*1.3 {
		t.Errorf("tpot p50 = %.2f ms, true step ≈ %.2f ms", p50, step)
	}
	if p50 := st.ChunkGap.P50; p50 < step*0.9 || p50 > step*1.3 {
		t.Errorf("chunk_gap p50 = %.2f ms, true step ≈ %.2f ms", p50, step)
	}
	// First token: wait for the running step to end (≤ 1 step), then one
	// step with 100 prompt tokens of prefill.
	prefill := 100 * float64(modelserver.DefaultPrefillPerToken) / float64(time.Millisecond)
	if p50 := st.TTFT.P50; p50 < step+prefill*0.9 || p50 > 2*step+prefill+5 {
		t.Errorf("ttft p50 = %.2f ms, want between one and two steps plus %.1f ms prefill", p50, prefill)
	}
	if st.TokensPerSec == nil || *st.TokensPerSec < 100 {
		t.Errorf("tokens/s = %v, want ≈ 10 req/s × 12 tokens", st.TokensPerSec)
	}
}

// TestErrorRateTruth: the fixture fails a known share of requests with 500;
// every failure is classified http_5xx and none is lost.
func TestErrorRateTruth(t *testing.T) {
	_, url := startFixture(t, func(c *modelserver.Config) { c.Knobs.ErrorRate = 0.2 })
	st := measure(t, &scenarios.Scenario{
		Executor: scenarios.SharedIterations, VUs: 8, Iterations: 2000,
	}, "kserve", extensions.Options{Target: url, Model: "resnet"})
	failed := st.Requests.Failed["http_5xx"]
	if st.Requests.Total != 2000 || st.Requests.OK+failed != 2000 {
		t.Fatalf("requests %+v", st.Requests)
	}
	if share := float64(failed) / 2000; share < 0.17 || share > 0.23 {
		t.Errorf("http_5xx share = %.3f, want 0.2 ± 0.03", share)
	}
}
