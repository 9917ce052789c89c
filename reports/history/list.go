package history

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
)

// Filter selects runs. Its zero value selects every run; each field set
// narrows the selection.
type Filter struct {
	// Scenario keeps runs that ran a scenario of this name.
	Scenario string
	// Target keeps runs against this target, compared exactly; Protocol
	// runs of this protocol.
	Target   string
	Protocol string
	// Labels keeps runs carrying every one of these labels.
	Labels map[string]string
	// Verdict keeps runs judged with this decision.
	Verdict analyze.Decision
	// StartedBefore, when set, keeps runs that started before it, and
	// Except drops the run with this ID: a baseline is older than the run
	// it judges, and never that run.
	StartedBefore time.Time
	Except        string
	// Limit caps the number of runs listed; zero or less lists all.
	Limit int
}

// conds returns f's SQL conditions on the runs table and their arguments.
func (f Filter) conds() ([]string, []any) {
	var conds []string
	var args []any
	if f.Scenario != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM run_scenarios WHERE run_scenarios.run_id = runs.id AND run_scenarios.name = ?)`)
		args = append(args, f.Scenario)
	}
	if f.Target != "" {
		conds = append(conds, `runs.target = ?`)
		args = append(args, f.Target)
	}
	if f.Protocol != "" {
		conds = append(conds, `runs.protocol = ?`)
		args = append(args, f.Protocol)
	}
	for _, k := range slices.Sorted(maps.Keys(f.Labels)) {
		switch k {
		case "version", "commit": // indexed columns
			conds = append(conds, `runs.label_`+k+` = ?`)
			args = append(args, f.Labels[k])
		default:
			conds = append(conds, `EXISTS (SELECT 1 FROM json_each(runs.labels) WHERE json_each.key = ? AND json_each.value = ?)`)
			args = append(args, k, f.Labels[k])
		}
	}
	if f.Verdict != "" {
		conds = append(conds, `runs.verdict = ?`)
		args = append(args, string(f.Verdict))
	}
	if !f.StartedBefore.IsZero() {
		conds = append(conds, `runs.started_ns < ?`)
		args = append(args, f.StartedBefore.UnixNano())
	}
	if f.Except != "" {
		conds = append(conds, `runs.id != ?`)
		args = append(args, f.Except)
	}
	return conds, args
}

// where joins conditions into a WHERE clause, empty for none.
func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// describe says in words which runs f selects, for error messages:
// " matching scenario=stress, version=v2", or "" for every run.
func (f Filter) describe() string {
	var parts []string
	if f.Scenario != "" {
		parts = append(parts, "scenario="+f.Scenario)
	}
	if f.Target != "" {
		parts = append(parts, "target="+f.Target)
	}
	if f.Protocol != "" {
		parts = append(parts, "protocol="+f.Protocol)
	}
	for _, k := range slices.Sorted(maps.Keys(f.Labels)) {
		parts = append(parts, k+"="+f.Labels[k])
	}
	if len(parts) == 0 {
		return ""
	}
	return " matching " + strings.Join(parts, ", ")
}

// limit is the SQL LIMIT of n, where n ≤ 0 means none.
func limit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// Entry is one recorded run, as listed.
type Entry struct {
	ID string `json:"id"`
	// Dir is the run directory the run was recorded from; it may have
	// been deleted since.
	Dir      string            `json:"dir,omitempty"`
	Started  time.Time         `json:"started"`
	Target   string            `json:"target"`
	Protocol string            `json:"protocol"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Scenarios are the run's scenario names, sorted.
	Scenarios []string `json:"scenarios"`
	// Verdict is empty, and Score zero, for a run never judged.
	Verdict analyze.Decision `json:"verdict,omitempty"`
	Score   float64          `json:"score"`
	// Requests counts finished requests, failures included; ErrorRate is
	// the failed share of them, 0..1.
	Requests       int64   `json:"requests"`
	ErrorRate      float64 `json:"error_rate"`
	AchievedPerSec float64 `json:"achieved_per_sec"`
	// P50Ms and P99Ms are the overall latency percentiles in
	// milliseconds, zero when the run measured no latency.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// List returns the runs that match f, newest first (by start time), at
// most f.Limit of them.
func (db *DB) List(f Filter) ([]Entry, error) {
	conds, args := f.conds()
	rows, err := db.db.Query(`SELECT id, dir, started_ns, target, protocol, labels,
			(SELECT json_group_array(name) FROM run_scenarios WHERE run_scenarios.run_id = runs.id),
			verdict, score, requests, error_rate, achieved_per_sec, p50_ms, p99_ms
		FROM runs`+where(conds)+` ORDER BY started_ns DESC, id DESC LIMIT ?`,
		append(args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("history: list %s: %w", db.path, err)
	}
	defer rows.Close()
	entries := []Entry{}
	for rows.Next() {
		var (
			e                 Entry
			startedNs         int64
			labels, scenarios string
			verdict           sql.NullString
			score, p50, p99   sql.NullFloat64
		)
		if err := rows.Scan(&e.ID, &e.Dir, &startedNs, &e.Target, &e.Protocol, &labels, &scenarios,
			&verdict, &score, &e.Requests, &e.ErrorRate, &e.AchievedPerSec, &p50, &p99); err != nil {
			return nil, fmt.Errorf("history: list %s: %w", db.path, err)
		}
		e.Started = time.Unix(0, startedNs).UTC()
		if err := json.Unmarshal([]byte(labels), &e.Labels); err != nil {
			return nil, fmt.Errorf("history: run %s: labels: %w", e.ID, err)
		}
		if err := json.Unmarshal([]byte(scenarios), &e.Scenarios); err != nil {
			return nil, fmt.Errorf("history: run %s: scenarios: %w", e.ID, err)
		}
		slices.Sort(e.Scenarios)
		e.Verdict, e.Score = analyze.Decision(verdict.String), score.Float64
		e.P50Ms, e.P99Ms = p50.Float64, p99.Float64
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: list %s: %w", db.path, err)
	}
	return entries, nil
}
