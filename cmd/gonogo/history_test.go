package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
	"github.com/gonogo-dev/gonogo/rundir"
)

// writeHistoryRunDir writes a run directory of scenario "stress" whose
// latency p99 is about p99Ms: run.json and latency.hlog, and verdict.json
// when verdict is set.
func writeHistoryRunDir(t *testing.T, dir, id string, started time.Time, p99Ms float64, verdict analyze.Decision) {
	t.Helper()
	h := hdr.New(1, analyze.HighestMicros, analyze.SignificantDigits)
	for i := 1; i <= 1000; i++ {
		if err := h.RecordValue(int64(float64(i) / 1000 * p99Ms / 0.99 * 1000)); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var hlog bytes.Buffer
	for _, tag := range []string{"latency", "stress/latency"} {
		fmt.Fprintf(&hlog, "Tag=%s,%.3f,20.000,%.3f,%s\n", tag, float64(started.Unix()), float64(h.Max())/1000, enc)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.IntervalLog), hlog.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1000 }
	st := analyze.Stats{
		Requests: analyze.Requests{Total: 1000, OK: 995, Failed: map[string]int64{"http_5xx": 5}},
		Rate:     analyze.Rate{AchievedPerSec: 50},
		Latency:  &analyze.MetricStats{Count: 1000, P50: ms(50), P90: ms(90), P95: ms(95), P99: ms(99), P999: ms(99.9), Max: ms(100)},
	}
	run := &reports.Run{
		ID: id, Started: started, Ended: started.Add(20 * time.Second), DurationS: 20,
		Target: "http://127.0.0.1:8000", Protocol: "openai",
		Labels:    map[string]string{"version": id},
		Scenarios: map[string]reports.Scenario{"stress": {Stats: st}},
		Overall:   st,
	}
	if err := reports.WriteRunJSON(dir, run); err != nil {
		t.Fatal(err)
	}
	if verdict == "" {
		return
	}
	b, err := json.Marshal(analyze.Verdict{Schema: analyze.VerdictSchema, Verdict: verdict, Score: 95, Run: id})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.Verdict), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runCLI runs gonogo with args and returns its exit code, stdout and
// stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), &options{Out: &out, Err: &errb}, args)
	return code, out.String(), errb.String()
}

func TestHistoryCommands(t *testing.T) {
	tmp := t.TempDir()
	db := filepath.Join(tmp, "h", "history.db")
	p99s := []float64{30, 31, 29, 30.5, 31, 48}
	verdicts := []analyze.Decision{"", analyze.Go, analyze.Go, "", "", analyze.NoGo}
	var dirs []string
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, p := range p99s {
		dir := filepath.Join(tmp, fmt.Sprintf("r%d", i))
		writeHistoryRunDir(t, dir, fmt.Sprintf("r%d", i), start.Add(time.Duration(i)*time.Hour), p, verdicts[i])
		dirs = append(dirs, dir)
	}

	// No database yet: list and trend say where runs come from.
	for _, args := range [][]string{{"list"}, {"trend", "--scenario", "stress"}} {
		code, _, stderr := runCLI(append([]string{"history", "--db", db}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, "no history at "+db) || !strings.Contains(stderr, "gonogo history record DIR") {
			t.Errorf("%v without a database: exit %d, stderr %q", args, code, stderr)
		}
	}

	code, stdout, stderr := runCLI(append([]string{"history", "record", "--db", db}, dirs...)...)
	if code != exitOK {
		t.Fatalf("record: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"recorded r0 (" + dirs[0] + "), not judged", "recorded r1 (" + dirs[1] + "), verdict go, score 95", "recorded r5 (" + dirs[5] + "), verdict no-go"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("record output lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = runCLI("history", "list", "--db", db, "--limit", "4")
	if code != exitOK {
		t.Fatalf("list: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 || !regexp.MustCompile(`^ID +STARTED +SCENARIOS +LABELS +REQUESTS +ERR% +P99 MS +VERDICT +SCORE$`).MatchString(lines[0]) {
		t.Fatalf("list: want a header and 4 runs:\n%s", stdout)
	}
	for i, re := range []string{
		`^r5 +2026-03-0\d \d\d:00 +stress +version=r5 +1000 +0\.50 +48 +no-go +95$`,
		`^r4 .* version=r4 +1000 +0\.50 +31 +- +-$`,
		`^r3 `, `^r2 .* go +95$`,
	} {
		if !regexp.MustCompile(re).MatchString(lines[i+1]) {
			t.Errorf("list line %d %q does not match %s", i+1, lines[i+1], re)
		}
	}

	code, stdout, _ = runCLI("history", "list", "--db", db, "--label", "version=r1", "--json")
	var entries []history.Entry
	if err := json.Unmarshal([]byte(stdout), &entries); code != exitOK || err != nil {
		t.Fatalf("list --json: exit %d, %v:\n%s", code, err, stdout)
	}
	if len(entries) != 1 || entries[0].ID != "r1" || entries[0].Verdict != analyze.Go || entries[0].Dir != dirs[1] {
		t.Errorf("list --label version=r1: %+v", entries)
	}
	code, stdout, _ = runCLI("history", "list", "--db", db, "--verdict", "go", "--scenario", "soak")
	if code != exitOK || !strings.Contains(stdout, "no recorded run matches") {
		t.Errorf("list with no match: exit %d:\n%s", code, stdout)
	}

	code, stdout, stderr = runCLI("history", "trend", "--db", db, "--scenario", "stress")
	if code != exitOK {
		t.Fatalf("trend: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "p99 latency of scenario stress, last 6 runs (ms)") || !strings.Contains(stdout, "▁▂▁▂▂█  29 … 48 ms") {
		t.Errorf("trend heading or sparkline:\n%s", stdout)
	}
	if n := strings.Count(stdout, "▲ regression"); n != 1 || !regexp.MustCompile(`(?m)^r5 .*▲ regression: p99 48 ms vs median 30\.5 ms$`).MatchString(stdout) {
		t.Errorf("trend: want one regression, on r5:\n%s", stdout)
	}

	code, stdout, _ = runCLI("history", "trend", "--db", db, "--scenario", "stress", "--last", "3", "--json")
	var trend struct {
		Unit   string
		Points []history.TrendPoint
	}
	if err := json.Unmarshal([]byte(stdout), &trend); code != exitOK || err != nil {
		t.Fatalf("trend --json: exit %d, %v:\n%s", code, err, stdout)
	}
	if trend.Unit != "ms" || len(trend.Points) != 3 || trend.Points[0].ID != "r3" || !trend.Points[2].Regression {
		t.Errorf("trend --json --last 3: %+v", trend)
	}

	// Bad usage and bad input: exit 2.
	for _, args := range [][]string{
		{"trend"},
		{"trend", "--scenario", "stress", "--metric", "nope"},
		{"trend", "--scenario", "stress", "--quantile", "0"},
		{"trend", "--scenario", "stress", "--last", "0"},
		{"list", "--label", "version"},
		{"list", "--verdict", "maybe"},
		{"record", tmp},
	} {
		if code, _, stderr := runCLI(append([]string{"history", "--db", db}, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
	}
}
