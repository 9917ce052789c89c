package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver/modelservertest"
	"github.com/gonogo-dev/gonogo/reports"
)

// A streamed run with --percentiles and --slo reports the LLM figures,
// and gonogo export csv writes them as run.json holds them.
func TestLoadFiguresAndExportCSV(t *testing.T) {
	_, url := modelservertest.Start(t, modelserver.DefaultConfig())
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	o := quiet()
	code := run(context.Background(), o, []string{"load", "--target", url, "--protocol", "openai", "--max-tokens", "8",
		"--rate", "20", "--duration", "1s", "--out", out, "--history", "", "-q", "--samples",
		"--percentiles", "50,99.99", "--slo", "ttft=10s,tpot=1s", "--slo", "ttft=1us"})
	if code != 0 {
		t.Fatalf("load: exit %d\n%s", code, o.Err)
	}
	summary := o.Out.(*bytes.Buffer).String()
	for _, want := range []string{" p99.99 ", "ttst", "tokens/s per user", "input_tokens",
		"goodput ttft<=10000ms,tpot<=1000ms: 20 met · 100.00 % of arrivals", "goodput ttft<=0.001ms: 0 met"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	rj, err := reports.ReadRunJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rj.Percentiles, []float64{50, 99.99}) {
		t.Errorf("run.json percentiles = %v", rj.Percentiles)
	}
	if st := rj.Overall.TTST; st == nil || st.Count != 20 || rj.Overall.Percentiles[analyze.MetricTTST]["99.99"] == 0 {
		t.Errorf("run.json ttst = %+v, %v; want 20 values with p99.99", st, rj.Overall.Percentiles)
	}

	csvPath, samplesPath := filepath.Join(dir, "summary.csv"), filepath.Join(dir, "samples.csv")
	if code := run(context.Background(), quiet(), []string{"export", "csv", out, "--out", csvPath, "--samples", samplesPath}); code != 0 {
		t.Fatalf("export csv: exit %d", code)
	}
	rows := readCSV(t, csvPath)
	found := 0
	for _, row := range rows[1:] {
		if row[0] != "overall" {
			continue
		}
		ms := rj.Overall.Metric(row[1])
		p99, _ := strconv.ParseFloat(row[slices.Index(reports.SummaryCSVHeader, "p99")], 64)
		sd, _ := strconv.ParseFloat(row[slices.Index(reports.SummaryCSVHeader, "stddev")], 64)
		if ms == nil || p99 != ms.P99 || sd != ms.StdDev {
			t.Errorf("csv %v: p99 %g stddev %g; run.json %+v", row[:3], p99, sd, ms)
		}
		found++
	}
	if found < len([]string{analyze.MetricLatency, analyze.MetricTTFT, analyze.MetricTTST, analyze.MetricTokensPerSecPerUser}) {
		t.Errorf("only %d overall rows", found)
	}
	if samples := readCSV(t, samplesPath); len(samples) != 21 {
		t.Errorf("samples.csv: %d rows, want a header and 20 requests", len(samples))
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: %d rows, %v", path, len(rows), err)
	}
	return rows
}

func TestFigureFlagsBadInput(t *testing.T) {
	dir := t.TempDir()
	runDir := filepath.Join(dir, "r")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteRunJSON(runDir, &reports.Run{Schema: reports.SchemaVersion, ID: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"load", "--target", "http://127.0.0.1:1", "--percentiles", "50,abc"}, "--percentiles"},
		{[]string{"load", "--target", "http://127.0.0.1:1", "--percentiles", "100"}, "--percentiles"},
		{[]string{"load", "--target", "http://127.0.0.1:1", "--slo", "ttft=fast"}, "--slo"},
		{[]string{"load", "--target", "http://127.0.0.1:1", "--slo", "bytes=1s"}, "--slo"},
		{[]string{"report", runDir, "--percentiles", "0"}, "--percentiles"},
		{[]string{"sweep", "--target", "http://127.0.0.1:1", "--rates", "5,10", "--percentiles", "50,50"}, "--percentiles"},
		{[]string{"sweep", "--target", "http://127.0.0.1:1", "--rates", "5,10", "--slo", "ttft"}, "--slo"},
		{[]string{"export", "csv", filepath.Join(dir, "none")}, "run.json"},
		{[]string{"export", "csv", runDir, "--samples", filepath.Join(dir, "s.csv")}, "--samples"},
	} {
		o := quiet()
		if code := run(context.Background(), o, tc.args); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", tc.args, code, exitUsage)
		}
		if msg := o.Err.(*bytes.Buffer).String(); !strings.Contains(msg, tc.want) || strings.Count(strings.TrimSpace(msg), "\n") > 2 {
			t.Errorf("%v: stderr %q, want one line naming %s", tc.args, msg, tc.want)
		}
	}
}
