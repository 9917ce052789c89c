// Package reports writes and reads what a run leaves in its output
// directory: run.json (a versioned summary, documented in docs/run-json.md)
// and a compact text summary for terminals and CI logs.
package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions/ndjson"
	"github.com/gonogo-dev/gonogo/rundir"
)

// SchemaVersion is the run.json schema this package writes and reads.
const SchemaVersion = 1

// ErrSchema is returned for a run.json of an unsupported schema version.
var ErrSchema = errors.New("reports: unsupported run.json schema")

// Run statuses, run.json's "status". Every status but StatusComplete is a
// run that ended early or never ended: its results are partial and never a
// pass.
const (
	// StatusRunning is written when the run starts; a reader that finds it
	// sees a run that is still going or was killed (its interval files hold
	// what was measured up to the last flushed interval).
	StatusRunning = "running"
	// StatusComplete is a run that ran its whole schedule.
	StatusComplete = "complete"
	// StatusInterrupted is a run stopped by SIGINT or SIGTERM.
	StatusInterrupted = "interrupted"
	// StatusAborted is a run stopped by an abortOnFail threshold or gate.
	StatusAborted = "aborted"
)

// Run is the content of run.json.
type Run struct {
	Schema int    `json:"schema"`
	ID     string `json:"id"`
	// Status says whether the run completed (StatusComplete) or ended
	// early; a run.json without it (written before the field existed) is
	// complete.
	Status    string    `json:"status,omitempty"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended"`
	DurationS float64   `json:"duration_s"`
	// Command is the command line that ran, as one string.
	Command  string `json:"command"`
	Target   string `json:"target"`
	Protocol string `json:"protocol"`
	// Labels identify what was tested, from --label (version=v2,
	// commit=abc123); the run history keys runs by them.
	Labels map[string]string `json:"labels,omitempty"`
	// Scenarios holds each scenario's stats and executor, by name.
	Scenarios map[string]Scenario `json:"scenarios"`
	Overall   analyze.Stats       `json:"overall"`
	// Tags holds stats per tag, keyed "key=value".
	Tags map[string]analyze.Stats `json:"tags,omitempty"`
	// TagOverflow counts tagged results not grouped because the tag group
	// cap was reached.
	TagOverflow int64                     `json:"tag_overflow,omitempty"`
	Thresholds  []analyze.ThresholdResult `json:"thresholds"`
	Aborted     bool                      `json:"aborted"`
	AbortReason string                    `json:"abort_reason,omitempty"`
	// Files names the other files of the run directory (latency.hlog, …).
	Files []string `json:"files"`
	// Mirrors counts, for a shadow run, what each secondary and candidate
	// was sent, dropped (queue full), skipped (unsafe method) and failed.
	Mirrors map[string]Mirror `json:"mirrors,omitempty"`
	// WarmupRequests counts the requests of closed-model warm-ups, left
	// out of the results.
	WarmupRequests int64 `json:"warmup_requests,omitempty"`
	// Capacity says, for a run that ramped its arrival rate (stress,
	// breakpoint), where the service broke.
	Capacity *analyze.Capacity `json:"capacity,omitempty"`
	// Percentiles are the percentiles (0–100) the text summary and the
	// HTML report show, from --percentiles; absent means DefaultPercentiles.
	Percentiles []float64 `json:"percentiles,omitempty"`
	// Slowest lists, when samples were recorded (--samples), the
	// ndjson.SlowestN slowest requests, slowest first, as their lines of
	// samples.ndjson.gz: with --traceparent each has its trace_id, to find
	// the request in the server's own traces.
	Slowest []ndjson.Sample `json:"slowest_requests,omitempty"`
}

// Partial reports whether the run ended early or never ended: killed,
// interrupted or aborted.
func (r *Run) Partial() bool { return r.Status != "" && r.Status != StatusComplete }

// Mirror is what a shadow run's secondary or candidate was asked to do.
type Mirror struct {
	Sent    int64 `json:"sent"`
	Dropped int64 `json:"dropped"`
	Skipped int64 `json:"skipped"`
	Failed  int64 `json:"failed"`
}

// Scenario is one scenario of a run.
type Scenario struct {
	// Executor describes the executor, e.g. "constant-arrival-rate 50/s for 1m".
	Executor string `json:"executor,omitempty"`
	// ExpectedRequests is the number of requests the plan expected (0 when
	// unknown), RequestsRSE its relative standard error: above 0.1, a
	// short window of bursty arrivals says little about the trace's
	// long-run rate.
	ExpectedRequests float64 `json:"expected_requests,omitempty"`
	RequestsRSE      float64 `json:"requests_rse,omitempty"`
	// Traffic describes the recorded traffic the scenario replayed.
	Traffic *Traffic `json:"traffic,omitempty"`
	analyze.Stats
}

// Traffic is what a scenario replayed and what it skipped.
type Traffic struct {
	Trace  string `json:"trace"`
	Replay string `json:"replay"`
	// Skipped counts malformed trace rows; FirstSkipped says which and why
	// ("file:line: field: reason").
	Skipped      int64    `json:"skipped"`
	FirstSkipped []string `json:"first_skipped,omitempty"`
	// Error is a trace error that ended the replay early (a malformed row
	// under --strict, an unreadable file).
	Error string `json:"error,omitempty"`
}

// RunID names a run by its directory and start time, so that runs written
// to the same directory on different days (results/nightly) stay apart in
// the run history: "nightly-20261126-030000". A directory already named
// with its start time, as gonogo names them by default, keeps its name.
func RunID(dir string, start time.Time) string {
	base := filepath.Base(dir)
	stamp := start.Format("20060102-150405")
	if strings.Contains(base, stamp) {
		return base
	}
	return base + "-" + stamp
}

// SetSummary copies a recorder summary into r (times, overall, scenarios,
// tags), keeping executors already set.
func (r *Run) SetSummary(s *analyze.Summary) {
	r.Started, r.Ended, r.DurationS = s.Started, s.Ended, s.DurationS
	r.Overall = s.Overall
	r.Tags = s.Tags
	r.TagOverflow = s.TagOverflow
	if r.Scenarios == nil {
		r.Scenarios = make(map[string]Scenario, len(s.Scenarios))
	}
	for name, st := range s.Scenarios {
		sc := r.Scenarios[name]
		sc.Stats = st
		r.Scenarios[name] = sc
	}
}

// Summary rebuilds an analyze.Summary from r, for evaluating thresholds
// against a stored run (only the stored percentiles are available).
func (r *Run) Summary() *analyze.Summary {
	s := &analyze.Summary{
		Started: r.Started, Ended: r.Ended, DurationS: r.DurationS,
		Overall: r.Overall, Tags: r.Tags, TagOverflow: r.TagOverflow,
	}
	if len(r.Scenarios) > 0 {
		s.Scenarios = make(map[string]analyze.Stats, len(r.Scenarios))
		for name, sc := range r.Scenarios {
			s.Scenarios[name] = sc.Stats
		}
	}
	return s
}

func (r *Run) marshal() ([]byte, error) {
	c := *r
	c.Schema = SchemaVersion
	c.Started, c.Ended = c.Started.UTC(), c.Ended.UTC()
	if c.Scenarios == nil {
		c.Scenarios = map[string]Scenario{}
	}
	if c.Thresholds == nil {
		c.Thresholds = []analyze.ThresholdResult{}
	}
	if c.Files == nil {
		c.Files = []string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep p(99)<500 readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteRunJSON writes dir/run.json atomically (a temporary file renamed
// into place), with Schema set to SchemaVersion.
func WriteRunJSON(dir string, run *Run) error {
	b, err := run.marshal()
	if err != nil {
		return fmt.Errorf("reports: encode %s: %w", rundir.Run, err)
	}
	return rundir.Dir(dir).WriteAtomic(rundir.Run, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// ReadRunJSON reads dir/run.json. A missing or corrupt file is an error
// naming the path; a schema other than SchemaVersion wraps ErrSchema.
func ReadRunJSON(dir string) (*Run, error) {
	path := filepath.Join(dir, rundir.Run)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reports: %s not found: is %s a run directory (--out)? %w", path, dir, err)
		}
		return nil, fmt.Errorf("reports: read %s: %w", path, err)
	}
	var head struct {
		Schema *int `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("reports: %s is not valid JSON: %w", path, err)
	}
	switch {
	case head.Schema == nil:
		return nil, fmt.Errorf("%w: %s has no schema field", ErrSchema, path)
	case *head.Schema != SchemaVersion:
		return nil, fmt.Errorf("%w: %s has schema %d, this gonogo reads schema %d", ErrSchema, path, *head.Schema, SchemaVersion)
	}
	var run Run
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, fmt.Errorf("reports: %s: %w", path, err)
	}
	return &run, nil
}
