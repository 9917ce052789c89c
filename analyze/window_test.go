package analyze

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// burstRun records 60 s at 100 requests per second, flushed every second:
// latency 10 ms, except 50 ms from 30 s to 40 s; every 20th request fails
// from 40 s to 50 s (5 %). Tags alternate version=v1 and version=v2; with
// slowV2 the v2 requests take 20 % longer. It returns the recorder (closed)
// and the run as a finished run directory gives it back: summary,
// cumulative histograms and slices read from its interval log and timeline.
func burstRun(t testing.TB, slowV2 bool, slos ...SLO) (*Recorder, *RunData) {
	t.Helper()
	var hlog, tl bytes.Buffer
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	r, err := NewRecorder(Config{Start: start, IntervalLog: &hlog, Timeline: &tl, SLOs: slos})
	if err != nil {
		t.Fatal(err)
	}
	for sec := range 60 {
		for i := range 100 {
			at := start.Add(time.Duration(sec)*time.Second + time.Duration(i)*10*time.Millisecond)
			lat := 10 * time.Millisecond
			if sec >= 30 && sec < 40 {
				lat = 50 * time.Millisecond
			}
			version := "v1"
			if i%2 == 1 {
				version = "v2"
				if slowV2 {
					lat = lat * 12 / 10
				}
			}
			res := &gonogo.Result{Request: &gonogo.Request{Scenario: "main", Intended: at, Tags: map[string]string{"version": version}},
				Sent: at, Done: at.Add(lat + time.Duration(i%7)*100*time.Microsecond), Status: 200}
			if sec >= 40 && sec < 50 && i%20 == 0 {
				res.Status, res.Class, res.Err = 503, gonogo.ErrHTTP5xx, "HTTP 503"
			}
			r.Record(res)
		}
		if err := r.Flush(start.Add(time.Duration(sec+1) * time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	end := start.Add(60 * time.Second)
	if err := r.Close(end); err != nil {
		t.Fatal(err)
	}
	var cum bytes.Buffer
	if err := r.WriteCumulative(&cum); err != nil {
		t.Fatal(err)
	}
	hists, err := ReadCumulative(&cum)
	if err != nil {
		t.Fatal(err)
	}
	points, err := ReadTimeline(&tl)
	if err != nil {
		t.Fatal(err)
	}
	d := &RunData{ID: "burst", Summary: r.Summary(end), Hists: hists, SLOs: slos}
	d.Summary.AttachHistograms(hists)
	logBytes := hlog.Bytes()
	d.Slices = func(keep func(group, metric string) bool) ([]*Slice, error) {
		return ReadSlices(points, start, bytes.NewReader(logBytes), keep)
	}
	return r, d
}

func TestWindowTruth(t *testing.T) {
	r, _ := burstRun(t, false)
	for _, tc := range []struct {
		span          time.Duration
		requests      int64
		failed        int64
		p99Ms, p99Tol float64
	}{
		{10 * time.Second, 1000, 0, 10.6, 0.02},
		{15 * time.Second, 1500, 25, 10.6, 0.02}, // 45–60 s: half of the error burst
		{0, 3000, 50, 10.6, 0.02},                // the whole ring: its last 30 intervals (30–60 s)
	} {
		w := r.Window(tc.span)
		st := w.Summary.Overall
		if st.Requests.Total != tc.requests || st.Requests.FailedTotal() != tc.failed {
			t.Errorf("window %s: %d requests, %d failed; want %d, %d", tc.span, st.Requests.Total, st.Requests.FailedTotal(), tc.requests, tc.failed)
		}
		h := w.Histogram(Overall, MetricLatency)
		if got := float64(h.ValueAtPercentile(99)) / 1000; !near(got, tc.p99Ms, tc.p99Tol) && tc.span != 0 {
			t.Errorf("window %s: p99 %.3f ms, want %.1f", tc.span, got, tc.p99Ms)
		}
		if tc.span > 0 && !near(w.Summary.DurationS, tc.span.Seconds(), 1e-9) {
			t.Errorf("window %s spans %v s", tc.span, w.Summary.DurationS)
		}
	}
	// A window is the same input Judge takes: a gate over the last 10 s.
	g := mustGates(t, "minRequests: 50\ngates:\n  - {name: p99, metric: latency, expr: p(99)<20}\n  - {name: v2, metric: 'latency{version:v2}', expr: p(99)<20}\n")
	v, err := Judge(g, r.Window(10*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Verdict != Go {
		t.Errorf("last 10 s: %s %q", v.Verdict, v.Reasons)
	}
}

func TestWindowedGates(t *testing.T) {
	_, burst := burstRun(t, false)
	for _, tc := range []struct {
		gate       string
		want       GateStatus
		worst      WindowSpan
		failed     int
		observed   float64
		reasonPart string
	}{
		// Every window holding a slow second has 10 % slow requests or more:
		// the first of them is the worst.
		{"{name: g, metric: latency, expr: p(99)<20, window: 10s}", GateFail, WindowSpan{StartS: 21, EndS: 31}, 19, 50.6, "worst 10s window +21s–+31s"},
		// A window fails from two seconds of the burst on (1 %).
		{"{name: g, metric: errors, expr: rate<0.01, window: 10s}", GateFail, WindowSpan{StartS: 40, EndS: 50}, 17, 0.05, "17 of 51 windows failed"},
		{"{name: g, metric: errors, expr: rate<0.06, window: 10s}", GatePass, WindowSpan{StartS: 40, EndS: 50}, 0, 0.05, "0 of 51 windows failed"},
		{"{name: g, metric: errors, expr: rate<0.01}", GatePass, WindowSpan{}, 0, 50.0 / 6000, "errors is"},
		{"{name: g, metric: requests, expr: count>900, window: 10s}", GatePass, WindowSpan{StartS: 0, EndS: 10}, 0, 1000, "of 51"},
	} {
		t.Run(tc.gate, func(t *testing.T) {
			g := mustGates(t, "gates:\n  - "+tc.gate+"\n")
			r, err := g.Evaluate(g.Gates[0], burst, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.want || !strings.Contains(r.Reason, tc.reasonPart) || !near(r.Observed, tc.observed, 0.02) {
				t.Errorf("%s observed %v: %s; want %s, observed %v, reason with %q", r.Status, r.Observed, r.Reason, tc.want, tc.observed, tc.reasonPart)
			}
			if tc.worst != (WindowSpan{}) && (r.Worst == nil || *r.Worst != tc.worst || r.WindowsFailed != tc.failed) {
				t.Errorf("worst %+v, %d failed; want %+v, %d", r.Worst, r.WindowsFailed, tc.worst, tc.failed)
			}
		})
	}
}

func TestWindowedGoodput(t *testing.T) {
	slo, err := NewSLO(map[string]float64{MetricLatency: 20})
	if err != nil {
		t.Fatal(err)
	}
	_, burst := burstRun(t, false, slo)
	// Counted live: 5 000 of the 6 000 requests were fast and did not fail
	// (1 000 slow in 30–40 s, 50 failed in 40–50 s).
	st := burst.Summary.Overall
	if met := st.Goodput[slo.Key]; met != 6000-1000-50 {
		t.Fatalf("goodput %s counted %d, want %d", slo.Key, met, 6000-1000-50)
	}
	g := mustGates(t, "gates:\n  - {name: g, goodput: {latency: 20ms}, expr: rate>0.9, window: 10s}\n  - {name: whole, goodput: {latency: 20ms}, expr: rate>0.8}\n")
	v, err := Judge(g, burst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := gate(v, "g"); r.Status != GateFail || r.Worst == nil || *r.Worst != (WindowSpan{StartS: 30, EndS: 40}) || r.Observed != 0 {
		t.Errorf("windowed goodput: %s %v %+v %s", r.Status, r.Observed, r.Worst, r.Reason)
	}
	if r := gate(v, "whole"); r.Status != GatePass || !near(r.Observed, 4950.0/6000, 1e-6) {
		t.Errorf("goodput over the run: %s %v %s", r.Status, r.Observed, r.Reason)
	}
	// Not counted live: one metric comes from the histogram, the same
	// answer to its resolution.
	_, uncounted := burstRun(t, false)
	r, err := g.Evaluate(g.Gates[1], uncounted, nil)
	if err != nil || r.Status != GatePass || !near(r.Observed, 4950.0/6000, 1e-3) {
		t.Errorf("goodput from the histogram: %v %s %v %s", err, r.Status, r.Observed, r.Reason)
	}
}

// TestRelativeTagGroups compares two versions on the same traffic at the
// same time: identical ones pass (symmetry), a 20 % slower one fails.
func TestRelativeTagGroups(t *testing.T) {
	g := mustGates(t, `gates:
  - {name: p99, metric: 'latency{version:v2}', compare: 'version:v1', allowed: 5%}
  - {name: median, metric: 'latency{version:v2}', compare: 'version:v1', stat: med, allowed: 5%}
  - {name: errors, metric: 'errors{version:v2}', compare: 'version:v1', allowed: 1pp}
`)
	for _, tc := range []struct {
		name   string
		slowV2 bool
		want   map[string]GateStatus
	}{
		{"same version", false, map[string]GateStatus{"p99": GatePass, "median": GatePass, "errors": GatePass}},
		{"v2 20% slower", true, map[string]GateStatus{"p99": GateFail, "median": GateFail, "errors": GatePass}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, d := burstRun(t, tc.slowV2)
			v, err := Judge(g, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tc.want {
				if r := gate(v, name); r.Status != want {
					t.Errorf("%s: %s (%s), want %s", name, r.Status, r.Reason, want)
				}
			}
		})
	}
}

func TestWatch(t *testing.T) {
	var hlog bytes.Buffer
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	r, err := NewRecorder(Config{Start: start, IntervalLog: &hlog})
	if err != nil {
		t.Fatal(err)
	}
	g := mustGates(t, `gates:
  - {name: errors, metric: errors, expr: rate<0.01, window: 5s, abortOnFail: true}
  - {name: p99, metric: latency, expr: p(99)<100, window: 5s}
  - {name: flips, divergence: flip_rate, expr: rate<0.1}
`)
	w := NewWatch(g, nil)
	if w.Len() != 2 {
		t.Fatalf("watching %d gates, want 2 (divergence waits for the end)", w.Len())
	}
	firstAbort := -1
	for sec := range 20 {
		for i := range 50 {
			at := start.Add(time.Duration(sec)*time.Second + time.Duration(i)*20*time.Millisecond)
			res := &gonogo.Result{Request: &gonogo.Request{Scenario: "main", Intended: at}, Sent: at, Done: at.Add(5 * time.Millisecond)}
			if sec >= 12 && i%10 == 0 {
				res.Class = gonogo.ErrTimeout
			}
			r.Record(res)
		}
		now := start.Add(time.Duration(sec+1) * time.Second)
		_ = r.Flush(now)
		res, err := w.Check(r, now)
		if err != nil {
			t.Fatal(err)
		}
		if sec < 4 && len(res) != 0 {
			t.Errorf("+%ds: %d results before the first full window", sec+1, len(res))
		}
		for _, lr := range res {
			if lr.Abort && firstAbort < 0 {
				firstAbort = sec + 1
			}
		}
	}
	if firstAbort != 13 {
		t.Errorf("first abort at +%ds, want +13s (the first window holding a failing second)", firstAbort)
	}
}

func TestJudgePartialAndErrors(t *testing.T) {
	_, d := burstRun(t, false)
	g := mustGates(t, "gates:\n  - {name: ok, metric: errors, expr: rate<0.5}\n")
	d.Partial = "interrupted"
	v, err := Judge(g, d, nil)
	if err != nil || v.Verdict != Inconclusive || !strings.Contains(v.Reasons[0], "ended early") {
		t.Errorf("a passing partial run: %v %s %q, want inconclusive", err, v.Verdict, v.Reasons)
	}
	bad := mustGates(t, "gates:\n  - {name: bad, metric: errors, expr: rate<0.001, critical: true}\n")
	if v, err := Judge(bad, d, nil); err != nil || v.Verdict != NoGo {
		t.Errorf("a failing partial run: %v %s, want no-go", err, v.Verdict)
	}
	// A read error is not the gates file's fault.
	disk := errors.New("read samples: input/output error")
	d.Goodput = func(string, SLO) (int64, int64, error) { return 0, 0, disk }
	gp := mustGates(t, "gates:\n  - {name: gp, goodput: {latency: 1s, latency_service: 1s}, expr: rate>0.9}\n")
	_, err = Judge(gp, d, nil)
	var ge *GateError
	if !errors.Is(err, disk) || errors.As(err, &ge) {
		t.Errorf("err = %v, want the read error, not a GateError", err)
	}
}

func TestReadSlicesSkipsUnknown(t *testing.T) {
	pts := []TimelinePoint{{StartS: 0, EndS: 1, Counts: Counts{Requests: 3}}}
	sl, err := ReadSlices(pts, time.Unix(100, 0), strings.NewReader(""), func(string, string) bool { return true })
	if err != nil || len(sl) != 1 || sl[0].Groups[Overall].Requests != 3 {
		t.Errorf("slices %v, err %v", sl, err)
	}
	if _, err := ReadSlices(pts, time.Unix(100, 0), strings.NewReader("garbage,line\n"), func(string, string) bool { return true }); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("a bad log: err %v", err)
	}
}

// BenchmarkWindow30s measures a live 30 s window snapshot of a 1 M-request
// run (10 000 requests a second for 100 s) and the p99 of its latency, as a
// gate or the metrics endpoint asks for it.
func BenchmarkWindow30s(b *testing.B) {
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	r, err := NewRecorder(Config{Start: start, IntervalLog: io.Discard, Ring: 120})
	if err != nil {
		b.Fatal(err)
	}
	res := &gonogo.Result{Request: &gonogo.Request{Scenario: "main", Tags: map[string]string{"model": "m"}}}
	for sec := range 100 {
		for i := range 10_000 {
			at := start.Add(time.Duration(sec)*time.Second + time.Duration(i)*100*time.Microsecond)
			res.Request.Intended, res.Sent = at, at
			res.Done = at.Add(time.Duration(1000+(i*7919)%20000) * time.Microsecond)
			r.Record(res)
		}
		_ = r.Flush(start.Add(time.Duration(sec+1) * time.Second))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := r.Window(30 * time.Second)
		if w.Summary.Overall.Requests.Total != 300_000 || w.Histogram(Overall, MetricLatency).ValueAtPercentile(99) <= 0 {
			b.Fatal("bad window")
		}
	}
}
