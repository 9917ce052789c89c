package reports

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/rundir"
)

// TestLoadRunTokenIntervals records a streaming run whose TTFT steps from
// 20 ms to 80 ms at 5 s, and checks that LoadRun digests the TTFT and TPOT
// of every interval beside the latency's, with the values recorded.
func TestLoadRunTokenIntervals(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, rundir.IntervalLog))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, err := analyze.NewRecorder(analyze.Config{Start: htmlT0, IntervalLog: f})
	if err != nil {
		t.Fatal(err)
	}
	const secs = 10
	for sec := range secs {
		ttft := 20 * time.Millisecond
		if sec >= 5 {
			ttft = 80 * time.Millisecond
		}
		for i := range 10 {
			at := htmlT0.Add(time.Duration(sec)*time.Second + time.Duration(i)*100*time.Millisecond)
			// 11 tokens after the first, 5 ms apart: TPOT 5 ms.
			rec.Record(&gonogo.Result{Request: &gonogo.Request{Scenario: "chat", Intended: at}, Sent: at,
				TTFT: ttft, Done: at.Add(ttft + 50*time.Millisecond), OutputTokens: 11})
		}
		if err := rec.Flush(htmlT0.Add(time.Duration(sec+1) * time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	end := htmlT0.Add(secs * time.Second)
	if err := rec.Close(end); err != nil {
		t.Fatal(err)
	}
	run := &Run{ID: "tokens", Status: StatusComplete, Files: []string{rundir.IntervalLog}}
	run.SetSummary(rec.Summary(end))
	if err := WriteRunJSON(dir, run); err != nil {
		t.Fatal(err)
	}

	_, d, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	byTag := map[string][]analyze.IntervalStats{}
	for _, iv := range d.Intervals {
		if iv.Count > 0 { // the log may end with an empty interval
			byTag[iv.Tag] = append(byTag[iv.Tag], iv)
		}
	}
	for _, tag := range []string{analyze.MetricLatency, analyze.MetricTTFT, analyze.MetricTPOT} {
		if n := len(byTag[tag]); n != secs {
			t.Errorf("%d %s intervals, want %d", n, tag, secs)
		}
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= 0.01*want }
	if ttft := byTag[analyze.MetricTTFT]; len(ttft) == secs && (!near(ttft[0].P99, 20) || !near(ttft[secs-1].P50, 80)) {
		t.Errorf("ttft p99 %v ms in the first interval (want 20), p50 %v ms in the last (want 80)", ttft[0].P99, ttft[secs-1].P50)
	}
	if tpot := byTag[analyze.MetricTPOT]; len(tpot) == secs && !near(tpot[0].P50, 5) {
		t.Errorf("tpot p50 %v ms, want 5", tpot[0].P50)
	}
	if s := overTime(d.Intervals, analyze.MetricTTFT, newTimeAxis(htmlT0, secs)); len(s.x) != secs {
		t.Errorf("TTFT over time has %d points, want %d", len(s.x), secs)
	}
}
