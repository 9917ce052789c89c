package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
)

// TestSweepExitCodes asserts gonogo sweep's exit codes as numbers, and
// that bad input names its flag or file before any request.
func TestSweepExitCodes(t *testing.T) {
	_, url := modelservertest.Start(t, modelserver.DefaultConfig())
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	write := func(name, content string) string {
		if err := os.WriteFile(p(name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p(name)
	}
	two := write("two.yaml", "scenarios:\n  a: {executor: constant-arrival-rate, rate: 5, duration: 1s}\n  b: {executor: constant-arrival-rate, rate: 5, duration: 1s}\n")
	strict := write("strict.yaml", "scenarios:\n  s: {executor: constant-arrival-rate, rate: 5, duration: 1s}\nthresholds:\n  latency: [\"p(99)<0.001\"]\n")
	if err := os.WriteFile(p("file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sweep := func(out string, extra ...string) []string {
		return append([]string{"sweep", "--target", url, "--protocol", "kserve", "--model", modelserver.DefaultClassifierModel,
			"--rates", "20,40", "--duration", "1s", "--out", p(out), "--scrape-interval", "100ms", "--history", ""}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"no rate meets the SLO: no advice", sweep("none", "--scenario", strict, "--target-rate", "100"), 4, "no scaling advice"},
		{"rates do not parse", sweep("x", "--rates", "5,x"), 2, `--rates: rate 2 "x" is not a number`},
		{"rates decrease", sweep("x", "--rates", "10,5"), 2, `--rates: rate 2 "5": rates must increase`},
		{"zero rate", sweep("x", "--rates", "0,5"), 2, `--rates: rate 1 "0": must be > 0`},
		{"negative rate", sweep("x", "--rates=-5"), 2, `--rates: rate 1 "-5": must be > 0`},
		{"no rates", []string{"sweep", "--target", url}, 2, "--rates is required"},
		{"no target", []string{"sweep", "--rates", "5"}, 2, "--target is required"},
		{"headroom of 1", sweep("x", "--headroom", "1"), 2, "--headroom: 1"},
		{"one auto rate", sweep("x", "--rates", "auto", "--rate-count", "1"), 2, "--rate-count: 1"},
		{"bad stage length", sweep("x", "--duration", "0s"), 2, "--duration: 0s"},
		{"two scenarios", sweep("x", "--scenario", two), 2, "two.yaml: a sweep runs one scenario at each rate; the workload has 2"},
		{"unreachable", []string{"sweep", "--target", "http://127.0.0.1:1", "--protocol", "kserve", "--model", "m", "--rates", "5", "--out", p("x")}, 2, "unreachable"},
		{"unwritable results", sweep("file/sub"), 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := quiet()
			if got := run(context.Background(), o, tc.args); got != tc.want {
				t.Errorf("gonogo %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), got, tc.want, o.Err)
			}
			if errOut := o.Err.(*bytes.Buffer).String(); !strings.Contains(errOut, tc.msg) {
				t.Errorf("stderr %q, want %q in it", errOut, tc.msg)
			}
		})
	}
	// Exit 0: the text summary on stdout, the report and every stage on
	// disk, the sweep in the history.
	o := quiet()
	if code := run(context.Background(), o, sweep("text", "--target-rate", "100", "--history", p("h.db"))); code != 0 {
		t.Fatalf("exit %d: %s", code, o.Err)
	}
	out := o.Out.(*bytes.Buffer).String()
	for _, want := range []string{"rates 20, 40/s", "highest rate meeting the default SLO", "replicas for 100/s with 30 % headroom", "results: " + p("text")} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	s, err := reports.ReadSweepJSON(p("text/sweep.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Stages) != 2 || s.Stages[0].Dir != "01-rate-20" || s.ServerMetrics != url+"/metrics" || !strings.Contains(s.Command, "gonogo sweep") {
		t.Errorf("sweep.json: %d stages, dir %q, metrics %q, command %q", len(s.Stages), s.Stages[0].Dir, s.ServerMetrics, s.Command)
	}
	for _, f := range []string{"text/sweep.html", "text/summary.txt", "text/01-rate-20/run.json", "text/02-rate-40/run.json"} {
		if _, err := os.Stat(p(f)); err != nil {
			t.Error(err)
		}
	}
	// The history lists the sweep with the knee of its sweep.json; a
	// sweep directory recorded again replaces it.
	code, stdout, stderr := runCLI("history", "sweeps", "--db", p("h.db"), "--json")
	var entries []history.SweepEntry
	if err := json.Unmarshal([]byte(stdout), &entries); code != 0 || err != nil {
		t.Fatalf("history sweeps: exit %d, %v: %s", code, err, stderr)
	}
	if len(entries) != 1 || entries[0].ID != s.ID || entries[0].KneePerSec != s.Analysis.Knee.RatePerSec || entries[0].Dir != p("text") {
		t.Errorf("history sweeps %+v, want sweep %s with knee %v", entries, s.ID, s.Analysis.Knee.RatePerSec)
	}
	if code, stdout, stderr := runCLI("history", "record", "--db", p("h.db"), p("text")); code != 0 || !strings.Contains(stdout, "recorded sweep "+s.ID) {
		t.Errorf("history record of a sweep: exit %d: %s%s", code, stdout, stderr)
	}
	if code, stdout, _ := runCLI("history", "sweeps", "--db", p("h.db")); code != 0 || strings.Count(stdout, s.ID) != 1 || !strings.Contains(stdout, "KNEE/S") {
		t.Errorf("history sweeps after recording again: exit %d:\n%s", code, stdout)
	}
}

// TestSweepDryRun: --dry-run prints the plan and the first stage's first
// requests, and sends nothing: not a request, not a readiness check, not a
// metrics read reaches the server; no results and no history are written.
func TestSweepDryRun(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	dir := t.TempDir()
	for _, tc := range []struct {
		rates string
		want  []string
	}{
		{"5,10", []string{"dry run: nothing is sent", "#1 at 0s: POST " + srv.URL + "/v1/completions", "#2 at 200ms: POST",
			"stage 1: 5/s for 2s", "stage 2: 10/s for 2s", "about 4s in all", "judged by the default SLO: error rate ≤ 1 %",
			"server metrics: " + srv.URL + "/metrics every 1s", "replicas for 50/s with 30 % headroom", "history: a complete sweep is recorded in"}},
		{"auto", []string{"constant-vus", "requests: POST " + srv.URL + "/v1/completions", "stage 1: synchronous, 1 request in flight, for 2s after a 500ms warm-up",
			"stage 2: throughput, 512 requests in flight", "stages 3–8: 6 rates", "about 17s in all"}},
	} {
		code, stdout, stderr := runCLI("sweep", "--dry-run", "--dry-run-requests", "2", "--rates", tc.rates, "--target", srv.URL, "--protocol", "openai",
			"--duration", "2s", "--target-rate", "50", "--out", filepath.Join(dir, "out"), "--history", filepath.Join(dir, "h.db"))
		if code != 0 {
			t.Fatalf("--rates %s: exit %d: %s", tc.rates, code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("--rates %s: stdout lacks %q:\n%s", tc.rates, w, stdout)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests", n)
	}
	for _, f := range []string{"out", "h.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s written by a dry run", f)
		}
	}
	if code, _, stderr := runCLI("sweep", "--dry-run", "--dry-run-requests", "-1", "--rates", "5", "--target", srv.URL); code != 2 || !strings.Contains(stderr, "--dry-run-requests") {
		t.Errorf("negative --dry-run-requests: exit %d: %s", code, stderr)
	}
}
