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
)

// TestExitCodes asserts the exit code of every command, as a number: 0 go
// or success, 1 runtime error, 2 bad usage or input, 3 no-go, 4
// inconclusive (DESIGN.md, "Exit codes").
func TestExitCodes(t *testing.T) {
	cfg := modelserver.DefaultConfig()
	_, url := modelservertest.Start(t, cfg)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	write := func(name, content string) string {
		if err := os.WriteFile(p(name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p(name)
	}
	history := p("history.db")
	load := func(out string, extra ...string) []string {
		return append([]string{"load", "--target", url, "--protocol", "kserve", "--model", modelserver.DefaultClassifierModel,
			"--rate", "50", "--duration", "2s", "--out", p(out), "--history", history, "-q"}, extra...)
	}
	pass := write("pass.yaml", "minRequests: 20\ngates:\n  - {name: errors, metric: errors, expr: rate<0.01, critical: true}\n")
	fail := write("fail.yaml", "minRequests: 20\ngates:\n  - {name: p99, metric: latency, expr: p(99)<0.001, critical: true}\n")
	short := write("short.yaml", "minRequests: 100000\ngates:\n  - {name: errors, metric: errors, expr: rate<0.01, critical: true}\n")
	bad := write("bad.yaml", "gates:\n  - {name: x, metric: nope, expr: p(99)<1}\n")
	noGoScenario := write("nogo.yaml", "scenarios:\n  s:\n    executor: constant-arrival-rate\n    rate: 20\n    duration: 1s\nthresholds:\n  latency: [\"p(99)<0.001\"]\n")
	blocked := p("blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "histograms.hlog"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("blocked/histograms.hlog/keep", "")
	if code := run(context.Background(), quiet(), load("ok")); code != 0 {
		t.Fatalf("preparing a run: exit %d", code)
	}

	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"version", []string{"version"}, 0},
		{"--version", []string{"--version"}, 0},
		{"unknown command", []string{"frobnicate"}, 2},
		{"bad flag", []string{"load", "--rate", "fast"}, 2},
		{"extra argument", []string{"report"}, 2},
		{"load go", load("go"), 0},
		{"load no-go (threshold)", []string{"load", "--target", url, "--protocol", "kserve", "--model", modelserver.DefaultClassifierModel,
			"--scenario", noGoScenario, "--out", p("nogo"), "--history", "", "-q"}, 3},
		{"load with gates: go", load("g-go", "--gates", pass), 0},
		{"load with gates: no-go", load("g-nogo", "--gates", fail), 3},
		{"load with gates: inconclusive", load("g-short", "--gates", short), 4},
		{"load bad gates", load("g-bad", "--gates", bad), 2},
		{"load unreachable", []string{"load", "--target", "http://127.0.0.1:1", "--protocol", "kserve", "--model", "m", "--rate", "5", "--duration", "1s", "-q"}, 2},
		{"load unwritable results", []string{"load", "--target", url, "--protocol", "kserve", "--model", modelserver.DefaultClassifierModel,
			"--rate", "5", "--duration", "1s", "--out", blocked, "--history", "", "-q"}, 1},
		{"load missing trace", load("tr", "--trace", p("nope.csv")), 2},
		{"load spans without samples", load("sp", "--out-otlp-traces", "http://127.0.0.1:1/v1/traces", "--traceparent"), 2},
		{"load missing --tls-ca", load("tls1", "--tls-ca", p("nope.pem")), 2},
		{"load --tls-cert without --tls-key", load("tls2", "--tls-cert", bad), 2},
		{"load --tls-ca not PEM", load("tls3", "--tls-ca", bad), 2},
		{"load bad --resolve", load("rs", "--resolve", "h:80:not-an-ip"), 2},
		{"load bad --proxy", load("px", "--proxy", "ftp://x"), 2},
		{"load bad --max-conns", load("mc", "--max-conns", "0"), 2},
		{"sweep missing --tls-ca", []string{"sweep", "--target", url, "--rates", "5,10", "--tls-ca", p("nope.pem")}, 2},
		{"shadow without candidate", []string{"shadow", "--trace", p("t.csv"), "--primary", url}, 2},
		{"verdict go", []string{"verdict", "--gates", pass, "--history", "", p("ok")}, 0},
		{"verdict no-go", []string{"verdict", "--gates", fail, "--history", "", p("ok")}, 3},
		{"verdict inconclusive", []string{"verdict", "--gates", short, "--history", "", p("ok")}, 4},
		{"verdict bad gates", []string{"verdict", "--gates", bad, p("ok")}, 2},
		{"verdict no run", []string{"verdict", "--gates", pass, p("none")}, 2},
		{"report", []string{"report", p("ok"), "--history", ""}, 0},
		{"report unwritable", []string{"report", p("ok"), "--history", "", "--html", p("no/such/dir/r.html")}, 1},
		{"report no run", []string{"report", p("none")}, 2},
		{"analyze divergence of a load run", []string{"analyze", "divergence", p("ok")}, 2},
		{"trace inspect missing", []string{"trace", "inspect", p("nope.csv")}, 2},
		{"history list", []string{"history", "list", "--db", history}, 0},
		{"compare", []string{"compare", p("ok"), p("ok"), "--json", p("compare.json")}, 0},
		{"compare no run", []string{"compare", p("ok"), p("none")}, 2},
		{"compare bad alpha", []string{"compare", p("ok"), p("ok"), "--alpha", "2"}, 2},
		{"import k6 missing", []string{"import", "k6", p("nope.json"), "--out", p("k6")}, 2},
		{"import vegeta", []string{"import", "vegeta", "../../reports/vegeta/testdata/sample.bin", "--out", p("vg"), "--label", "version=v2"}, 0},
		{"import vegeta bad format", []string{"import", "vegeta", "../../reports/vegeta/testdata/sample.bin", "--format", "xml", "--out", p("vg2")}, 2},
		{"import vegeta not vegeta", []string{"import", "vegeta", bad, "--out", p("vg3")}, 2},
		{"mark", []string{"mark", p("ok"), "a marker"}, 0},
		{"mark no run", []string{"mark", p("none"), "a marker"}, 2},
		{"demo bad duration", []string{"demo", "--duration", "0s"}, 2},
		{"fixture bad flag", []string{"fixture", "serve", "--max-seqs", "x"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := quiet()
			if got := run(context.Background(), o, tc.args); got != tc.want {
				t.Errorf("gonogo %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), got, tc.want, o.Err)
			}
		})
	}
}

// quiet is options writing into buffers.
func quiet() *options {
	return &options{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}
}
