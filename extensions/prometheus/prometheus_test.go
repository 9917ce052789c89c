package promout

import (
	"io"
	"net/http/httptest"
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
	if ct := rec.Header().Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type = %q", ct)
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
		`gonogo_requests_total{scenario="chat",class="ok"} 2`,
		`gonogo_requests_total{scenario="chat",class="http_5xx"} 1`,
		`gonogo_requests_total{scenario="chat",class="timeout"} 0`,
		`gonogo_requests_total{scenario="we\"ird",class="other"} 1`,
		`gonogo_dropped_total{scenario="chat"} 2`,
		"# TYPE gonogo_latency_seconds histogram",
		`gonogo_latency_seconds_bucket{scenario="chat",le="0.005"} 1`, // 5ms lands in le=0.005 (inclusive)
		`gonogo_latency_seconds_bucket{scenario="chat",le="0.05"} 2`,
		`gonogo_latency_seconds_bucket{scenario="chat",le="2.5"} 3`,
		`gonogo_latency_seconds_bucket{scenario="chat",le="+Inf"} 3`,
		`gonogo_latency_seconds_sum{scenario="chat"} 2.045`,
		`gonogo_latency_seconds_count{scenario="chat"} 3`,
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
	if t.Failed() {
		t.Log(got)
	}
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
	for _, want := range []string{`gonogo_requests_total{scenario="s",class="ok"} 8000`, `gonogo_latency_seconds_count{scenario="s"} 8000`, "gonogo_inflight 0\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
