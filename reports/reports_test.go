package reports

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/rundir"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixtureRun records a small synthetic run with two scenarios.
func fixtureRun(t *testing.T) *Run {
	t.Helper()
	rec, err := analyze.NewRecorder(analyze.Config{Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	rec.SetTargetRate("chat", 20)
	for i := range 40 {
		at := t0.Add(time.Duration(i) * 50 * time.Millisecond)
		req := &gonogo.Request{Scenario: "chat", Intended: at, Tags: map[string]string{"model": "m1"}}
		res := &gonogo.Result{Request: req, Sent: at.Add(time.Millisecond), Done: at.Add(time.Duration(100+i*5) * time.Millisecond)}
		switch {
		case i%10 == 9:
			res.Class = gonogo.ErrHTTP5xx
		case i == 4:
			res.Class = gonogo.ErrTimeout
		default:
			res.TTFT = 40 * time.Millisecond
			res.ChunkGaps = []time.Duration{5 * time.Millisecond, 9 * time.Millisecond}
			res.OutputTokens = 3
		}
		rec.Record(res)
	}
	for i := range 10 {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		req := &gonogo.Request{Scenario: "warmup", Intended: at}
		rec.Record(&gonogo.Result{Request: req, Sent: at, Done: at.Add(20 * time.Millisecond)})
	}
	rec.Drop(&gonogo.Request{Scenario: "chat"})
	end := t0.Add(2 * time.Second)
	_ = rec.Close(end)
	sum := rec.Summary(end)
	th, err := analyze.Evaluate(analyze.Thresholds{
		"latency":                 {{Threshold: "p(99)<500"}},
		"errors":                  {{Threshold: "rate<0.01", AbortOnFail: true}},
		"ttft{scenario:warmup}":   {{Threshold: "p(99)<100"}},
		"requests{scenario:chat}": {{Threshold: "count>=40"}},
	}, sum)
	if err != nil {
		t.Fatal(err)
	}
	run := &Run{
		ID:         "20260301T120000-abc",
		Command:    "gonogo run --out out scenario.yaml",
		Target:     "http://127.0.0.1:8000",
		Protocol:   "openai",
		Scenarios:  map[string]Scenario{"chat": {Executor: "constant-arrival-rate 20/s for 2s"}},
		Thresholds: th,
		Files:      []string{rundir.IntervalLog},
	}
	run.SetSummary(sum)
	return run
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n%s", path, got)
	}
}

func TestRunJSONRoundTrip(t *testing.T) {
	run := fixtureRun(t)
	dir := t.TempDir()
	if err := WriteRunJSON(dir, run); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, rundir.Run))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "run.golden.json", b)
	if !bytes.Contains(b, []byte(`"p(99)<500"`)) {
		t.Error("expressions are HTML-escaped")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	back, err := ReadRunJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Schema != SchemaVersion || back.ID != run.ID || back.Overall.Requests.Total != 50 ||
		back.Scenarios["chat"].Executor == "" || back.Scenarios["chat"].Requests.Total != 40 ||
		len(back.Thresholds) != 4 || !back.Started.Equal(run.Started) {
		t.Errorf("read back differs: %+v", back)
	}
	// Re-evaluating against the stored run gives the same verdicts.
	res, err := analyze.Evaluate(analyze.Thresholds{"latency": {{Threshold: "p(99)<500"}}}, back.Summary())
	if err != nil || len(res) != 1 || res[0] != run.Thresholds[1] {
		t.Errorf("re-evaluation: %+v %v, want %+v", res, err, run.Thresholds[1])
	}
}

func TestReadRunJSONErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, rundir.Run)
	if _, err := ReadRunJSON(dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("missing: %v", err)
	}
	for name, c := range map[string]struct {
		body   string
		schema bool
	}{
		"corrupt":   {body: `{"schema": 1, `},
		"no schema": {body: `{"id": "x"}`, schema: true},
		"future":    {body: `{"schema": 2}`, schema: true},
		"bad field": {body: `{"schema": 1, "duration_s": "long"}`},
	} {
		if err := os.WriteFile(path, []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadRunJSON(dir)
		if err == nil || !strings.Contains(err.Error(), path) || errors.Is(err, ErrSchema) != c.schema {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWriteText(t *testing.T) {
	run := fixtureRun(t)
	run.Aborted, run.AbortReason = true, "threshold errors rate<0.01 failed"
	var buf bytes.Buffer
	if err := WriteText(&buf, run); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.golden.txt", buf.Bytes())
}
