package remotewrite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	_ "github.com/gonogo-dev/gonogo/extensions/all"
	promout "github.com/gonogo-dev/gonogo/extensions/prometheus"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/internal/promtest"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/outputs/remotewrite"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// sample is one element of an instant vector.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) value(t *testing.T) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// query runs an instant PromQL query and returns its vector.
func query(t *testing.T, base, q string) []sample {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, body.Error)
	}
	return body.Data.Result
}

// one runs a query that must return one series and returns its value.
func one(t *testing.T, base, q string) float64 {
	t.Helper()
	r := query(t, base, q)
	if len(r) != 1 {
		t.Fatalf("%s: %d series, want 1: %v", q, len(r), r)
	}
	return r[0].value(t)
}

// TestRealPrometheus pushes a real run against the simulated inference
// server (streaming completions, a fifth of them failing) into Debian's
// Prometheus and reads it back through the HTTP API: every count the run
// wrote to run.json, the percentiles, the means and the labels must be
// there, and the live pushes must have come while the run went.
func TestRealPrometheus(t *testing.T) {
	prom := promtest.Start(t, nil, "--web.enable-remote-write-receiver").URL
	cfg := modelserver.DefaultConfig()
	cfg.Seed, cfg.Knobs.ErrorRate = 11, 0.2
	_, target := modelservertest.Start(t, cfg)

	out, err := remotewrite.New(outputs.Config{URL: prom + "/api/v1/write"})
	if err != nil {
		t.Fatal(err)
	}
	rate, d := 40.0, 3*time.Second
	file, err := scenarios.FromFlags(scenarios.Overrides{Executor: ptr(scenarios.ConstantArrivalRate), Rate: &rate, Duration: &d})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var errw promtest.SyncBuffer
	r, err := runner.New(runner.Config{File: file, Protocol: "openai", Target: target, Dir: dir,
		Command: []string{"gonogo", "load"}, Labels: map[string]string{"version": "v1"},
		Outputs: []outputs.Output{out}, OutputInterval: 500 * time.Millisecond, Err: &errw})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A live push may time out on a loaded machine; the last must arrive.
	if got := errw.String(); !strings.Contains(got, "pushes sent") || strings.Contains(got, "did NOT arrive") {
		t.Errorf("the run said:\n%s\nwant the pushes sent, the last one included", got)
	}

	// The truth: the run's own results.
	run, err := reports.ReadRunJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := run.Scenarios["default"]
	if !ok || sc.Latency == nil || sc.TTFT == nil || sc.ChunkGap == nil || sc.LatencyFailed == nil || sc.Requests.Failed["http_5xx"] == 0 {
		t.Fatalf("run.json lacks what the test checks: %+v", sc)
	}
	sel := fmt.Sprintf(`job="gonogo",run_id=%q,version="v1",scenario="default"`, run.ID)

	for _, tc := range []struct {
		name string
		q    string
		want float64
	}{
		{"ok", `gonogo_requests_total{` + sel + `,class="ok"}`, float64(sc.Requests.OK)},
		{"http_5xx", `gonogo_requests_total{` + sel + `,class="http_5xx"}`, float64(sc.Requests.Failed["http_5xx"])},
		{"every class", `sum(gonogo_requests_total{` + sel + `})`, float64(sc.Requests.Total)},
		{"dropped", `gonogo_dropped_total{` + sel + `}`, float64(sc.Requests.Dropped)},
		{"latency count", `gonogo_latency_seconds_count{` + sel + `}`, float64(sc.Latency.Count)},
		{"latency +Inf bucket", `gonogo_latency_seconds_bucket{` + sel + `,le="+Inf"}`, float64(sc.Latency.Count)},
		{"failed latency count", `gonogo_latency_failed_seconds_count{` + sel + `}`, float64(sc.LatencyFailed.Count)},
		{"ttft count", `gonogo_ttft_seconds_count{` + sel + `}`, float64(sc.TTFT.Count)},
		{"chunk gaps", `gonogo_chunk_gap_seconds_count{` + sel + `}`, float64(sc.ChunkGap.Count)},
		{"tpot count", `gonogo_tpot_seconds_count{` + sel + `}`, float64(sc.TPOT.Count)},
		{"lag of every request", `gonogo_scheduling_lag_seconds_count{` + sel + `}`, float64(sc.Requests.Total)},
		{"in flight at the end", `gonogo_inflight{job="gonogo",run_id="` + run.ID + `"}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := one(t, prom, tc.q); got != tc.want {
				t.Errorf("%s = %v, want %v (run.json)", tc.q, got, tc.want)
			}
		})
	}

	// Percentiles: run.json's in ms, rounded to the µs; Prometheus's in s.
	for _, tc := range []struct {
		group, metric, q string
		wantMs           float64
	}{
		{`group="scenario:default"`, "latency", "0.5", sc.Latency.P50},
		{`group="scenario:default"`, "latency", "0.99", sc.Latency.P99},
		{`group="scenario:default"`, "ttft", "0.9", sc.TTFT.P90},
		{`group="scenario:default"`, "chunk_gap", "0.999", sc.ChunkGap.P999},
		{`group=""`, "latency", "0.95", run.Overall.Latency.P95},
		{`group=""`, "latency_failed", "0.5", run.Overall.LatencyFailed.P50},
	} {
		q := fmt.Sprintf(`gonogo_run_quantile{job="gonogo",run_id=%q,%s,metric=%q,quantile=%q}`, run.ID, tc.group, tc.metric, tc.q)
		if got := one(t, prom, q) * 1000; math.Abs(got-tc.wantMs) > 0.0005+1e-9 {
			t.Errorf("%s = %.4f ms, want %.3f ms (run.json)", q, got, tc.wantMs)
		}
	}

	// Means: the pushed sums are exact to the µs, run.json's means are the
	// HDR histograms' (3 significant digits).
	for _, tc := range []struct {
		metric string
		st     *analyze.MetricStats
	}{{"latency", sc.Latency}, {"ttft", sc.TTFT}, {"chunk_gap", sc.ChunkGap}} {
		q := fmt.Sprintf(`gonogo_%s_seconds_sum{%s} / gonogo_%s_seconds_count{%s}`, tc.metric, sel, tc.metric, sel)
		if got := one(t, prom, q) * 1000; math.Abs(got-tc.st.Mean) > 0.002*tc.st.Mean+0.001 {
			t.Errorf("mean %s = %.3f ms, want %.3f ms (run.json) within 0.2 %%", tc.metric, got, tc.st.Mean)
		}
	}
	tokens := sc.OutputTokens.Mean * float64(sc.OutputTokens.Count)
	if got := one(t, prom, `gonogo_output_tokens_total{`+sel+`}`); math.Abs(got-tokens) > 0.001*tokens+1 {
		t.Errorf("output tokens %v, want %v (run.json's count × mean)", got, tokens)
	}

	// The histogram agrees with the percentiles to within a bucket.
	p50 := one(t, prom, `histogram_quantile(0.5, gonogo_latency_seconds_bucket{`+sel+`})`)
	if lo, hi := bucketAround(sc.Latency.P50 / 1000); p50 < lo || p50 > hi {
		t.Errorf("histogram_quantile(0.5) = %v s, want within the bucket of run.json's p50 %v ms: [%v, %v]", p50, sc.Latency.P50, lo, hi)
	}

	// The live pushes: several samples, growing, before the last.
	pushes := one(t, prom, `count_over_time(gonogo_requests_total{`+sel+`,class="ok"}[10m])`)
	first := one(t, prom, `min_over_time(gonogo_requests_total{`+sel+`,class="ok"}[10m])`)
	if pushes < 4 || first >= float64(sc.Requests.OK) {
		t.Errorf("%v pushes, the first with %v successes of %d: want ≥ 4 pushes during a 3 s run at 500 ms", pushes, first, sc.Requests.OK)
	}
}

// bucketAround returns the bounds of the LatencyBuckets bucket holding v.
func bucketAround(v float64) (lo, hi float64) {
	for _, b := range promout.LatencyBuckets {
		if v <= b {
			return lo, b
		}
		lo = b
	}
	return lo, math.Inf(1)
}

func ptr[T any](v T) *T { return &v }
