package reports

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/rundir"
)

// writeBenchRun writes a run directory of n requests over n/rate seconds
// (1 s intervals), latency base × (1 + Exp(1)), as gonogo load would.
func writeBenchRun(b *testing.B, dir string, n, ratePerSec int, base time.Duration, seed uint64) {
	b.Helper()
	hf, err := os.Create(filepath.Join(dir, rundir.IntervalLog))
	if err != nil {
		b.Fatal(err)
	}
	defer hf.Close()
	w := bufio.NewWriter(hf)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec, err := analyze.NewRecorder(analyze.Config{Start: start, IntervalLog: w})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	step := time.Second / time.Duration(ratePerSec)
	req := &gonogo.Request{Scenario: "default"}
	res := &gonogo.Result{Request: req, Status: 200}
	for i := range n {
		at := start.Add(time.Duration(i) * step)
		req.Intended, res.Sent = at, at
		res.Done = at.Add(time.Duration(float64(base) * (1 + rng.ExpFloat64())))
		rec.Record(res)
		if (i+1)%ratePerSec == 0 {
			if err := rec.Flush(at.Add(step)); err != nil {
				b.Fatal(err)
			}
		}
	}
	end := start.Add(time.Duration(n) * step)
	if err := rec.Close(end); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	cf, err := os.Create(filepath.Join(dir, rundir.Cumulative))
	if err != nil {
		b.Fatal(err)
	}
	defer cf.Close()
	if err := rec.WriteCumulative(cf); err != nil {
		b.Fatal(err)
	}
	run := &Run{ID: filepath.Base(dir), Files: []string{rundir.IntervalLog, rundir.Cumulative}}
	run.SetSummary(rec.Summary(end))
	if err := WriteRunJSON(dir, run); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkVerdict1M loads two stored 1 M-request runs (1 000 intervals
// each) and judges one against the other with absolute and relative
// gates: the target is under 2 s.
func BenchmarkVerdict1M(b *testing.B) {
	root := b.TempDir()
	baseDir, candDir := filepath.Join(root, "base"), filepath.Join(root, "cand")
	for _, d := range []string{baseDir, candDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	writeBenchRun(b, baseDir, 1_000_000, 1000, 10*time.Millisecond, 1)
	writeBenchRun(b, candDir, 1_000_000, 1000, 13*time.Millisecond, 2)
	gates, err := analyze.ParseGates("bench.yaml", []byte(`gates:
  - {name: p99, metric: latency, expr: p(99)<500, critical: true}
  - {name: errors, metric: errors, expr: rate<0.01}
  - {name: latency vs baseline, metric: latency, compare: baseline, allowed: 5%}
  - {name: service vs baseline, metric: latency_service, compare: baseline, allowed: 5%}
  - {name: errors vs baseline, metric: errors, compare: baseline, allowed: 0.5pp}
`))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		// As gonogo verdict does: the two runs load concurrently.
		var base *analyze.RunData
		var berr error
		done := make(chan struct{})
		go func() { _, base, berr = LoadRun(baseDir); close(done) }()
		_, cand, err := LoadRun(candDir)
		<-done
		if err = errors.Join(err, berr); err != nil {
			b.Fatal(err)
		}
		v, err := analyze.Judge(gates, cand, base)
		if err != nil {
			b.Fatal(err)
		}
		if v.Verdict != analyze.NoGo {
			b.Fatalf("verdict %s, want no-go (latency +30 %%): %q", v.Verdict, v.Reasons)
		}
	}
}

// BenchmarkReport3600 loads a stored 1 h run (3 600 one-second intervals,
// 100 req/s) and writes its HTML report, as gonogo report does: the
// issue's target is under 5 s and 2 MB.
func BenchmarkReport3600(b *testing.B) {
	dir := b.TempDir()
	writeBenchRun(b, dir, 360_000, 100, 10*time.Millisecond, 3)
	var size int
	b.ResetTimer()
	for b.Loop() {
		run, data, err := LoadRun(dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(data.Intervals) < 3600 {
			b.Fatalf("%d intervals, want 3600", len(data.Intervals))
		}
		var buf bytes.Buffer
		if err := WriteHTML(&buf, Input{Run: run, Data: data}); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes/report")
}
