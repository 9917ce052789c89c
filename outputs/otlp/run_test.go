package otlp_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/gonogo-dev/gonogo/extensions/all"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/outputs/otlp"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// receiver is a loopback OTLP/HTTP receiver: it decodes every request with
// the official schema (no OTLP receiver is packaged in Debian) and keeps
// them, failing the first fail requests with 503.
type receiver struct {
	t    *testing.T
	mu   sync.Mutex
	reqs []map[string]any
	fail int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/metrics" || r.Header.Get("Content-Type") != otlp.ContentType {
		http.Error(w, "want POST /v1/metrics of application/x-protobuf", http.StatusBadRequest)
		return
	}
	if rc.fail > 0 {
		rc.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	rc.reqs = append(rc.reqs, otlp.DecodeOfficial(rc.t, body))
	w.Header().Set("Content-Type", otlp.ContentType)
}

func (rc *receiver) requests() []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]map[string]any(nil), rc.reqs...)
}

// point finds the data point of metric name whose attributes hold want.
func point(t *testing.T, req map[string]any, name string, want map[string]string) map[string]any {
	t.Helper()
	dp := findPoint(req, name, want)
	if dp == nil {
		t.Fatalf("no %s point with %v", name, want)
	}
	return dp
}

// findPoint is point, nil when there is none.
func findPoint(req map[string]any, name string, want map[string]string) map[string]any {
	ms, _ := otlp.Path(req, "resource_metrics", 0, "scope_metrics", 0, "metrics").([]any)
	for _, m := range ms {
		if otlp.Path(m, "name") != name {
			continue
		}
		for _, kind := range []string{"sum", "gauge", "histogram"} {
			dps, _ := otlp.Path(m, kind, "data_points").([]any)
			for _, dp := range dps {
				a := otlp.Attrs(otlp.Path(dp, "attributes"))
				match := true
				for k, v := range want {
					match = match && a[k] == v
				}
				if match {
					return dp.(map[string]any)
				}
			}
		}
	}
	return nil
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
	if err != nil {
		t.Fatalf("%v is not a number", v)
	}
	return f
}

// TestRun runs against the simulated inference server with an OTLP
// output and checks the last request the receiver decoded against
// run.json; the receiver refuses the first push, which is retried.
func TestRun(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	cfg.Seed, cfg.Knobs.ErrorRate = 5, 0.1
	_, target := modelservertest.Start(t, cfg)
	rc := &receiver{t: t, fail: 1}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	out, err := otlp.New(outputs.Config{URL: srv.URL + "/v1/metrics"})
	if err != nil {
		t.Fatal(err)
	}
	rate, d := 30.0, 2*time.Second
	file, err := scenarios.FromFlags(scenarios.Overrides{Executor: ptr(scenarios.ConstantArrivalRate), Rate: &rate, Duration: &d})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, err := runner.New(runner.Config{File: file, Protocol: "openai", Target: target, Dir: dir, Command: []string{"gonogo", "load"},
		Labels: map[string]string{"version": "v3"}, Outputs: []outputs.Output{out}, OutputInterval: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	run, err := reports.ReadRunJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	sc := run.Scenarios["default"]
	reqs := rc.requests()
	if len(reqs) < 3 {
		t.Fatalf("%d requests decoded, want ≥ 3 (live pushes and the last)", len(reqs))
	}
	last := reqs[len(reqs)-1]
	res := otlp.Attrs(otlp.Path(last, "resource_metrics", 0, "resource", "attributes"))
	if res["service.name"] != "gonogo" || res["gonogo.run.id"] != run.ID || res["gonogo.scenario"] != "default" || res["version"] != "v3" {
		t.Errorf("resource %v, want service.name gonogo, the run's id, scenario and labels", res)
	}
	startNs := strconv.FormatInt(run.Started.UnixNano(), 10)
	scen := map[string]string{"scenario": "default"}
	for _, tc := range []struct {
		name  string
		attrs map[string]string
		field string
		want  float64
	}{
		{"gonogo.requests", map[string]string{"scenario": "default", "class": "ok"}, "as_int", float64(sc.Requests.OK)},
		{"gonogo.requests", map[string]string{"scenario": "default", "class": "http_5xx"}, "as_int", float64(sc.Requests.Failed["http_5xx"])},
		{"gonogo.dropped", scen, "as_int", float64(sc.Requests.Dropped)},
		{"gonogo.latency", scen, "count", float64(sc.Latency.Count)},
		{"gonogo.latency_failed", scen, "count", float64(sc.LatencyFailed.Count)},
		{"gonogo.ttft", scen, "count", float64(sc.TTFT.Count)},
		{"gonogo.chunk_gap", scen, "count", float64(sc.ChunkGap.Count)},
		{"gonogo.run_quantile", map[string]string{"group": "scenario:default", "metric": "latency", "quantile": "0.99"}, "as_double", sc.Latency.P99 / 1000},
		{"gonogo.run_quantile", map[string]string{"group": "scenario:default", "metric": "ttft", "quantile": "0.5"}, "as_double", sc.TTFT.P50 / 1000},
	} {
		t.Run(fmt.Sprint(tc.name, tc.attrs), func(t *testing.T) {
			dp := point(t, last, tc.name, tc.attrs)
			if got := num(t, dp[tc.field]); math.Abs(got-tc.want) > 5e-7 {
				t.Errorf("%s = %v, want %v (run.json)", tc.field, got, tc.want)
			}
			if _, cumulative := dp["start_time_unix_nano"]; cumulative && dp["start_time_unix_nano"] != startNs {
				t.Errorf("start %v, want the run's time zero %s", dp["start_time_unix_nano"], startNs)
			}
		})
	}
	lat := point(t, last, "gonogo.latency", scen)
	if mean := num(t, lat["sum"]) / num(t, lat["count"]) * 1000; math.Abs(mean-sc.Latency.Mean) > 0.002*sc.Latency.Mean {
		t.Errorf("latency mean %.3f ms, want %.3f (run.json) within 0.2 %%", mean, sc.Latency.Mean)
	}
	// Pushes came during the run, with fewer requests than the last.
	live := false
	for _, req := range reqs[:len(reqs)-1] {
		if dp := findPoint(req, "gonogo.requests", map[string]string{"scenario": "default", "class": "ok"}); dp != nil {
			live = live || num(t, dp["as_int"]) < float64(sc.Requests.OK)
		}
	}
	if !live {
		t.Errorf("no push before the last counted fewer than the %d successes: no live pushes", sc.Requests.OK)
	}
}

func ptr[T any](v T) *T { return &v }
