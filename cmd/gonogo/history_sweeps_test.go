package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
)

// writeSweepDir writes a sweep directory whose sweep.json has this knee
// and status.
func writeSweepDir(t *testing.T, dir string, started time.Time, knee float64, status string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &reports.Sweep{ID: filepath.Base(dir), Status: status, Started: started, Target: "http://127.0.0.1:8000", Protocol: "openai",
		Labels:   map[string]string{"job": "nightly"},
		Analysis: &analyze.SweepAnalysis{Knee: analyze.Knee{RatePerSec: knee}, Saturation: analyze.Saturation{RatePerSec: knee * 1.2}}}
	f, err := os.Create(filepath.Join(dir, rundir.Sweep))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := reports.WriteSweepJSON(f, s); err != nil {
		t.Fatal(err)
	}
}

// TestHistorySweeps: sweep directories are recorded with history record,
// and history sweeps shows their knee over nights, the night whose knee
// fell flagged; an interrupted sweep is refused, naming its file.
func TestHistorySweeps(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "h.db")
	var dirs []string
	for i, knee := range []float64{40, 41, 39, 26} {
		d := filepath.Join(dir, "night"+string(rune('1'+i)))
		writeSweepDir(t, d, time.Date(2026, 3, 1+i, 2, 0, 0, 0, time.UTC), knee, reports.SweepComplete)
		dirs = append(dirs, d)
	}
	if code, out, errOut := runCLI(append([]string{"history", "record", "--db", db}, dirs...)...); code != 0 || strings.Count(out, "recorded sweep") != 4 {
		t.Fatalf("record: exit %d: %s%s", code, out, errOut)
	}
	code, out, errOut := runCLI("history", "sweeps", "--db", db, "--label", "job=nightly")
	if code != 0 {
		t.Fatalf("sweeps: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 8 || !strings.HasPrefix(lines[1], "██▇▁  26 … 41") || !strings.Contains(lines[7], "night4") ||
		!strings.Contains(lines[7], "▼ regression: knee 26/s vs median 40/s") || strings.Contains(lines[6], "regression") {
		t.Errorf("history sweeps:\n%s", out)
	}
	if _, out, _ := runCLI("history", "sweeps", "--db", db, "--label", "job=adhoc"); !strings.Contains(out, "no recorded sweep matches") {
		t.Errorf("no match: %s", out)
	}
	cut := filepath.Join(dir, "cut")
	writeSweepDir(t, cut, time.Now(), 10, reports.SweepInterrupted)
	if code, _, errOut := runCLI("history", "record", "--db", db, cut); code != 2 || !strings.Contains(errOut, filepath.Join(cut, rundir.Sweep)) {
		t.Errorf("interrupted sweep: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI("history", "sweeps", "--db", db, "--last", "0"); code != 2 || !strings.Contains(errOut, "--last 0") {
		t.Errorf("--last 0: exit %d: %s", code, errOut)
	}
}
