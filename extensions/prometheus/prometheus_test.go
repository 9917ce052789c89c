package promout

import (
	"io"
	"math"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

func scrape(t *testing.T, o *Output) string {
	t.Helper()
	rec := httptest.NewRecorder()
	o.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q, want the Prometheus text format", ct)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func result(scenario string, class gonogo.ErrorClass, latency, lag, ttft time.Duration) *gonogo.Result {
	t0 := time.Unix(1000, 0)
	req := &gonogo.Request{Scenario: scenario, Intended: t0}
	return &gonogo.Result{Request: req, Sent: t0.Add(lag), Done: t0.Add(latency), Class: class, TTFT: ttft}
}

func TestOutput(t *testing.T) {
	inflight := 3.0
	o := New(func() float64 { return inflight })
	o.Record(result("chat", gonogo.ErrNone, 40*time.Millisecond, 200*time.Microsecond, 10*time.Millisecond))
	o.Record(result("chat", gonogo.ErrNone, 2*time.Second, 0, 0))
	o.Record(result("chat", gonogo.ErrHTTP5xx, 5*time.Millisecond, 0, 0))
	o.Record(result(`we"ird`, gonogo.ErrorClass("novel"), time.Millisecond, 0, 0))
	o.Drop(&gonogo.Request{Scenario: "chat"})
	o.Drop(&gonogo.Request{Scenario: "chat"})

	got := scrape(t, o)
	for _, want := range []string{
		"# TYPE gonogo_requests_total counter",
		// client_golang sorts labels by name: class before scenario.
		`gonogo_requests_total{class="ok",scenario="chat"} 2`,
		`gonogo_requests_total{class="http_5xx",scenario="chat"} 1`,
		`gonogo_requests_total{class="timeout",scenario="chat"} 0`,
		`gonogo_requests_total{class="other",scenario="we\"ird"} 1`,
		`gonogo_dropped_total{scenario="chat"} 2`,
		"# TYPE gonogo_latency_seconds histogram",
		// Latency is of the two successes; the failure's apart.
		`gonogo_latency_seconds_bucket{scenario="chat",le="0.005"} 0`,
		`gonogo_latency_seconds_bucket{scenario="chat",le="0.05"} 1`,
		`gonogo_latency_seconds_bucket{scenario="chat",le="2.5"} 2`,
		`gonogo_latency_seconds_bucket{scenario="chat",le="+Inf"} 2`,
		`gonogo_latency_seconds_count{scenario="chat"} 2`,
		`gonogo_latency_failed_seconds_bucket{scenario="chat",le="0.005"} 1`, // 5ms lands in le=0.005 (inclusive)
		`gonogo_latency_failed_seconds_count{scenario="chat"} 1`,
		`gonogo_ttft_seconds_count{scenario="chat"} 1`,
		`gonogo_ttft_seconds_bucket{scenario="chat",le="0.01"} 1`,
		`gonogo_scheduling_lag_seconds_bucket{scenario="chat",le="0.0001"} 2`,
		`gonogo_scheduling_lag_seconds_bucket{scenario="chat",le="0.00025"} 3`,
		"# TYPE gonogo_inflight gauge",
		"gonogo_inflight 3\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	// The sum is a float64 sum of seconds: compare it within rounding.
	if m := regexp.MustCompile(`(?m)^gonogo_latency_seconds_sum\{scenario="chat"\} (\S+)$`).FindStringSubmatch(got); m == nil {
		t.Error("exposition lacks gonogo_latency_seconds_sum for chat")
	} else if v, err := strconv.ParseFloat(m[1], 64); err != nil || math.Abs(v-2.04) > 1e-9 {
		t.Errorf("gonogo_latency_seconds_sum = %s, want 2.04", m[1])
	}
	if t.Failed() {
		t.Log(got)
	}
}

// TestRecordNoAllocs checks that Record and Drop allocate nothing once the
// scenario's children are cached.
func TestRecordNoAllocs(t *testing.T) {
	o := New(nil)
	res := result("chat", gonogo.ErrHTTP5xx, 40*time.Millisecond, 200*time.Microsecond, 10*time.Millisecond)
	req := &gonogo.Request{Scenario: "chat"}
	o.Record(res)
	if n := testing.AllocsPerRun(1000, func() { o.Record(res); o.Drop(req) }); n != 0 {
		t.Errorf("Record+Drop allocate %v times per call in steady state, want 0", n)
	}
}

// BenchmarkRecord records from many goroutines over a few scenarios and
// classes, as a load run does.
func BenchmarkRecord(b *testing.B) {
	o := New(func() float64 { return 1 })
	var results []*gonogo.Result
	for _, sc := range []string{"chat", "completions", "infer", "embed"} {
		for _, c := range []gonogo.ErrorClass{gonogo.ErrNone, gonogo.ErrNone, gonogo.ErrNone, gonogo.ErrHTTP5xx} {
			results = append(results, result(sc, c, 40*time.Millisecond, 200*time.Microsecond, 10*time.Millisecond))
		}
	}
	for _, r := range results {
		o.Record(r) // create the children outside the timed loop
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			o.Record(results[i%len(results)])
			i++
		}
	})
}

func TestOutputConcurrent(t *testing.T) {
	o := New(nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 1000; i++ {
				o.Record(result("s", gonogo.ErrNone, time.Millisecond, 0, 0))
				if i%100 == 0 {
					o.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
				}
			}
		})
	}
	wg.Wait()
	got := scrape(t, o)
	for _, want := range []string{`gonogo_requests_total{class="ok",scenario="s"} 8000`, `gonogo_latency_seconds_count{scenario="s"} 8000`, "gonogo_inflight 0\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
