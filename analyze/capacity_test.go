package analyze

import (
	"bytes"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// rampRun records a ramp from 10 to 100 requests a second over 90 s
// (rate 10 + s): latency 10 ms up to 50 req/s, then 100 ms; from 80 req/s
// on, every 10th request fails.
func rampRun(t *testing.T) []*Slice {
	t.Helper()
	var hlog, tl bytes.Buffer
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	r, err := NewRecorder(Config{Start: start, IntervalLog: &hlog, Timeline: &tl})
	if err != nil {
		t.Fatal(err)
	}
	for sec := range 90 {
		rate := 10 + sec
		for i := range rate {
			at := start.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Second/time.Duration(rate))
			lat := 10 * time.Millisecond
			if rate > 50 {
				lat = 100 * time.Millisecond
			}
			res := &gonogo.Result{Request: &gonogo.Request{Scenario: "ramp", Intended: at}, Sent: at, Done: at.Add(lat)}
			if rate >= 80 && i%10 == 0 {
				res.Class = gonogo.ErrHTTP5xx
			}
			r.Record(res)
		}
		_ = r.Flush(start.Add(time.Duration(sec+1) * time.Second))
	}
	points, err := ReadTimeline(&tl)
	if err != nil {
		t.Fatal(err)
	}
	slices, err := ReadSlices(points, start, &hlog, func(g, m string) bool { return g == Overall && m == MetricLatency })
	if err != nil {
		t.Fatal(err)
	}
	return slices
}

func TestCapacityOf(t *testing.T) {
	check, err := ThresholdCheck(Thresholds{MetricErrors: {{Threshold: "rate<0.05"}}, MetricLatency: {{Threshold: "p(99)<1000"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := CapacityOf(rampRun(t), 10*time.Second, 10, check)
	// Errors start at 70 s (80 req/s). A window holding four such seconds
	// (64–74 s, about 78 req/s) has about 4.2 % errors and holds; the
	// first to break holds five (65–75 s, 5.5 %).
	if c.At == nil || c.BrokeAt == nil {
		t.Fatalf("capacity %+v", c)
	}
	if c.HeldPerSec < 70 || c.HeldPerSec > 80 {
		t.Errorf("held %.1f req/s, want 70–80 (the errors start at 80)", c.HeldPerSec)
	}
	if c.BrokeAt.EndS != 75 || c.Broke == "" {
		t.Errorf("broke at %+v (%s), want the window ending at 75 s", c.BrokeAt, c.Broke)
	}
	// The knee: latency is 10 ms up to 50 req/s, ten times that above;
	// a window with one slow second in ten already has a p99 of 100 ms.
	if c.KneePerSec < 40 || c.KneePerSec > 50 || c.BaseP99Ms < 9 || c.BaseP99Ms > 11 {
		t.Errorf("knee %.1f req/s at base p99 %.2f ms, want 40–50 and 10 ms", c.KneePerSec, c.BaseP99Ms)
	}
}
