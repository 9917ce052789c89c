package history

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
)

// nightlySweep is a complete sweep of the night after t0 plus day days,
// whose knee is knee per second.
func nightlySweep(id string, day int, knee float64, labels map[string]string) *reports.Sweep {
	return &reports.Sweep{
		ID: id, Status: reports.SweepComplete, Started: t0.Add(time.Duration(day) * 24 * time.Hour),
		Target: "http://127.0.0.1:8000", Protocol: "openai", Labels: labels,
		Analysis: &analyze.SweepAnalysis{
			Knee:       analyze.Knee{RatePerSec: knee},
			SLO:        analyze.SweepSLO{MaxRatePerSec: knee - 1},
			Saturation: analyze.Saturation{RatePerSec: knee + 5, Reached: true},
			Resources:  &analyze.ResourceReport{First: analyze.ResourceKVCache, AtPerSec: knee + 4},
		},
	}
}

// TestSweeps: sweeps are recorded one entry each and listed oldest first
// with their knee, filtered by labels; a knee that falls below the ones
// before it is flagged, one that rises is not; a sweep that did not
// complete is refused.
func TestSweeps(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "h.db"))
	nightly := map[string]string{"job": "nightly"}
	knees := []float64{20, 21, 19.5, 20.5, 14, 26}
	for i, k := range knees {
		if err := db.RecordSweep(nightlySweep("n"+string(rune('a'+i)), i, k, nightly), "results/n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RecordSweep(nightlySweep("other", 3, 1, map[string]string{"job": "adhoc"}), ""); err != nil {
		t.Fatal(err)
	}
	// Recording again replaces.
	if err := db.RecordSweep(nightlySweep("na", 0, 20, nightly), "results/n"); err != nil {
		t.Fatal(err)
	}
	got, err := db.Sweeps(Filter{Labels: nightly}, 5)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var flagged []bool
	for _, e := range got {
		ids, flagged = append(ids, e.ID), append(flagged, e.Regression)
	}
	// 14 is below the median of 20, 21, 19.5, 20.5 (20.25) by more than
	// 10 %; 26 is a rise, not a regression.
	if !slices.Equal(ids, []string{"nb", "nc", "nd", "ne", "nf"}) || !slices.Equal(flagged, []bool{false, false, false, true, false}) {
		t.Fatalf("sweeps %v, regressions %v", ids, flagged)
	}
	e := got[3]
	if e.KneePerSec != 14 || e.Median != 20.25 || e.SLOMaxPerSec != 13 || e.SaturationPerSec != 19 ||
		e.FirstResource != analyze.ResourceKVCache || e.FirstAtPerSec != 18 || !filepath.IsAbs(e.Dir) || e.Labels["job"] != "nightly" {
		t.Errorf("entry %+v", e)
	}
	if all, err := db.Sweeps(Filter{}, 10); err != nil || len(all) != 7 {
		t.Errorf("every sweep: %d, %v; want 7", len(all), err)
	}

	bad := nightlySweep("cut", 9, 3, nil)
	bad.Status = reports.SweepInterrupted
	if err := db.RecordSweep(bad, ""); !errors.Is(err, ErrIncompleteSweep) {
		t.Errorf("interrupted sweep recorded: %v", err)
	}
	if _, err := db.Sweeps(Filter{Scenario: "x"}, 3); err == nil {
		t.Error("a scenario filter selected sweeps")
	}
}

// TestSweepsTableAdded: a history written before sweeps were recorded
// (no sweeps table) gains the table when opened.
func TestSweepsTableAdded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	db := open(t, path)
	if _, err := db.db.Exec(`DROP TABLE sweeps`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	if err := db.RecordSweep(nightlySweep("n", 0, 10, nil), ""); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Sweeps(Filter{}, 1); err != nil || len(got) != 1 || got[0].KneePerSec != 10 {
		t.Errorf("sweeps %+v, %v", got, err)
	}
}
