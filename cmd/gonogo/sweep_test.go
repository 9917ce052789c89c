package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/reports"
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
			"--rates", "20,40", "--duration", "1s", "--out", p(out), "--scrape-interval", "100ms"}, extra...)
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
	// disk.
	o := quiet()
	if code := run(context.Background(), o, sweep("text", "--target-rate", "100")); code != 0 {
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
}
