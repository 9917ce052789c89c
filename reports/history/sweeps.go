package history

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/gonogo-dev/gonogo/reports"
)

// ErrIncompleteSweep is returned by RecordSweep for a sweep that did not
// run every stage: its knee is not a knee.
var ErrIncompleteSweep = errors.New("history: the sweep did not complete")

// RecordSweep stores a complete sweep, replacing any sweep of the same ID:
// its sweep.json document, labels, dir (made absolute) and the figures
// Sweeps follows. A sweep that is not complete, or has no analysis, wraps
// ErrIncompleteSweep.
func (db *DB) RecordSweep(s *reports.Sweep, dir string) error {
	switch {
	case s.ID == "":
		return errors.New("history: record sweep: the sweep has no id")
	case s.Started.IsZero():
		return fmt.Errorf("history: record sweep %s: no start time", s.ID)
	case s.Status != reports.SweepComplete || s.Analysis == nil:
		return fmt.Errorf("%w: sweep %s is %s", ErrIncompleteSweep, s.ID, s.Status)
	}
	doc := *s
	doc.Schema = reports.SweepSchemaVersion
	sweepJSON, err := json.Marshal(&doc)
	if err != nil {
		return fmt.Errorf("history: record sweep %s: %w", s.ID, err)
	}
	labels := doc.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	labelsJSON, err := json.Marshal(labels)
	if err != nil {
		return fmt.Errorf("history: record sweep %s: %w", s.ID, err)
	}
	if dir != "" {
		if dir, err = filepath.Abs(dir); err != nil {
			return fmt.Errorf("history: record sweep %s: %w", s.ID, err)
		}
	}
	a := doc.Analysis
	var first string
	var firstAt float64
	if r := a.Resources; r != nil {
		first, firstAt = r.First, r.AtPerSec
	}
	err = db.write(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO sweeps (id, started_ns, target, protocol, labels,
				label_version, label_commit, dir, sweep_json, knee_per_sec,
				slo_max_per_sec, saturation_per_sec, first_resource, first_at_per_sec)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET started_ns = excluded.started_ns,
				target = excluded.target, protocol = excluded.protocol,
				labels = excluded.labels, label_version = excluded.label_version,
				label_commit = excluded.label_commit, dir = excluded.dir,
				sweep_json = excluded.sweep_json, knee_per_sec = excluded.knee_per_sec,
				slo_max_per_sec = excluded.slo_max_per_sec,
				saturation_per_sec = excluded.saturation_per_sec,
				first_resource = excluded.first_resource,
				first_at_per_sec = excluded.first_at_per_sec`,
			doc.ID, doc.Started.UnixNano(), doc.Target, doc.Protocol, string(labelsJSON),
			labels["version"], labels["commit"], dir, sweepJSON, a.Knee.RatePerSec,
			a.SLO.MaxRatePerSec, a.Saturation.RatePerSec, first, firstAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("history: record sweep %s in %s: %w", s.ID, db.path, err)
	}
	return nil
}

// SweepEntry is one recorded sweep, as Sweeps lists it.
type SweepEntry struct {
	ID       string            `json:"id"`
	Dir      string            `json:"dir,omitempty"`
	Started  time.Time         `json:"started"`
	Target   string            `json:"target"`
	Protocol string            `json:"protocol"`
	Labels   map[string]string `json:"labels,omitempty"`
	// KneePerSec, SLOMaxPerSec and SaturationPerSec are the sweep's knee,
	// highest rate meeting the SLO and saturating throughput, per second.
	KneePerSec       float64 `json:"knee_per_sec"`
	SLOMaxPerSec     float64 `json:"slo_max_per_sec"`
	SaturationPerSec float64 `json:"saturation_per_sec"`
	// FirstResource is the server resource that reached its limit first
	// ("" when none did or no metrics were read), at FirstAtPerSec.
	FirstResource string  `json:"first_resource,omitempty"`
	FirstAtPerSec float64 `json:"first_at_per_sec,omitempty"`
	// Median is the median knee of the sweeps KneePerSec was judged
	// against, zero when fewer than three precede it; Regression is true
	// when the knee fell beyond the rule of Sweeps.
	Median     float64 `json:"median,omitempty"`
	Regression bool    `json:"regression"`
}

// Sweeps returns the last n recorded sweeps that match f, oldest first.
// Sweeps are selected by target, protocol and labels (f.Scenario and
// f.Verdict select runs only and are an error here; f.Limit is ignored).
//
// A sweep's knee is flagged as a Regression when it falls below the median
// knee of the up to n sweeps before it (older sweeps than those listed
// count too) by more than the larger of 10 % of that median and 3 median
// absolute deviations: Trend's rule, mirrored, since a lower knee is the
// worse one. A sweep with fewer than three before it is not judged.
func (db *DB) Sweeps(f Filter, n int) ([]SweepEntry, error) {
	switch {
	case f.Scenario != "" || f.Verdict != "":
		return nil, errors.New("history: sweeps: a sweep has no scenario or verdict to select by")
	case n <= 0:
		return nil, fmt.Errorf("history: sweeps: %d sweeps asked for", n)
	}
	// The runs' conditions read target, protocol, labels, label_version,
	// label_commit, started_ns and id, which sweeps has too.
	conds, args := f.conds()
	rows, err := db.db.Query(`SELECT id, dir, started_ns, target, protocol, labels, knee_per_sec,
			slo_max_per_sec, saturation_per_sec, first_resource, first_at_per_sec
		FROM sweeps AS runs`+where(conds)+` ORDER BY started_ns DESC, id DESC LIMIT ?`,
		append(args, 2*n)...)
	if err != nil {
		return nil, fmt.Errorf("history: sweeps %s: %w", db.path, err)
	}
	defer rows.Close()
	var out []SweepEntry
	for rows.Next() {
		var (
			e         SweepEntry
			startedNs int64
			labels    string
		)
		if err := rows.Scan(&e.ID, &e.Dir, &startedNs, &e.Target, &e.Protocol, &labels, &e.KneePerSec,
			&e.SLOMaxPerSec, &e.SaturationPerSec, &e.FirstResource, &e.FirstAtPerSec); err != nil {
			return nil, fmt.Errorf("history: sweeps %s: %w", db.path, err)
		}
		e.Started = time.Unix(0, startedNs).UTC()
		if err := json.Unmarshal([]byte(labels), &e.Labels); err != nil {
			return nil, fmt.Errorf("history: sweep %s: labels: %w", e.ID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: sweeps %s: %w", db.path, err)
	}
	slices.Reverse(out)
	knees := make([]float64, len(out))
	for i, e := range out {
		knees[i] = e.KneePerSec
	}
	judgeSeries(knees, n, true, func(i int, med float64, flagged bool) {
		out[i].Median, out[i].Regression = med, flagged
	})
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}
