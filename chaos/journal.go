package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gonogo-dev/gonogo/rundir"
)

// JournalSchema is the version of experiment.json (Journal.Schema).
const JournalSchema = 1

// Experiment statuses (Journal.Status), Chaos Toolkit's words.
const (
	StatusRunning     = "running"     // the experiment goes on (or its process was killed)
	StatusCompleted   = "completed"   // the method ran to its end and the hypothesis held
	StatusDeviated    = "deviated"    // the hypothesis failed during or after the method
	StatusAborted     = "aborted"     // no steady state before the method, or an abort condition fired
	StatusInterrupted = "interrupted" // SIGINT or SIGTERM
)

// Hypothesis verdicts (Journal.Verdict, Check.Status).
const (
	Held         = "held"
	Deviated     = "deviated"
	Inconclusive = "inconclusive" // too little data to judge: never held
)

// Phases of an experiment.
const (
	PhaseBefore = "before"
	PhaseDuring = "during"
	PhaseAfter  = "after"
)

// Journal is a chaos experiment's journal, experiment.json: the
// hypothesis before, during and after the method, every activity with its
// start, end and outcome, and the experiment's status.
type Journal struct {
	Schema      int    `json:"schema"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// File is the experiment file.
	File    string     `json:"file,omitempty"`
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
	// Status is running, completed, deviated, aborted or interrupted;
	// Verdict the hypothesis's: held, deviated or inconclusive. Reason
	// says in a sentence why when it is not held.
	Status  string `json:"status"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`

	Hypothesis Hypothesis `json:"hypothesis"`
	// Checks are the hypothesis's checks, one per interval, each over the
	// hypothesis's window.
	Checks []Check `json:"checks"`
	// Intervals are the hypothesis judged on each interval alone: the
	// resolution of time to detect and to recover.
	Intervals  []IntervalCheck `json:"intervals"`
	Activities []Activity      `json:"activities"`
	Rollbacks  []Activity      `json:"rollbacks,omitempty"`
	// BlastRadius is what the faults did to the load.
	BlastRadius BlastRadius `json:"blast_radius"`
}

// Hypothesis is the steady-state hypothesis and its verdict per phase.
type Hypothesis struct {
	Title string `json:"title,omitempty"`
	// WindowS is the span each check judges, in seconds.
	WindowS float64 `json:"window_s"`
	// Hold lists the phases in which a failure deviates the experiment.
	Hold  []string `json:"hold"`
	Gates []string `json:"gates"`
	// Before is the check just before the method; After the last check of
	// the run; During the worst check during the method.
	Before *Check `json:"before,omitempty"`
	During *Check `json:"during,omitempty"`
	After  *Check `json:"after,omitempty"`
}

// Check is the hypothesis judged once.
type Check struct {
	Time     time.Time `json:"time"`
	ElapsedS float64   `json:"elapsed_s"`
	Phase    string    `json:"phase"`
	// Status is held, deviated or inconclusive.
	Status string `json:"status"`
	// Gates are the gates that did not pass, with their reasons.
	Gates []GateOutcome `json:"gates,omitempty"`
}

// GateOutcome is one gate of a check that did not pass.
type GateOutcome struct {
	Name     string  `json:"name"`
	Status   string  `json:"status"`
	Observed float64 `json:"observed"`
	Reason   string  `json:"reason"`
}

// IntervalCheck is the hypothesis judged on one interval alone, with the
// interval's counts.
type IntervalCheck struct {
	// End is the interval's end; it began one interval earlier.
	End      time.Time `json:"end"`
	Status   string    `json:"status"`
	Requests int64     `json:"requests"`
	Failed   int64     `json:"failed"`
}

// Activity outcomes.
const (
	OutcomeOK      = "ok"      // applied and reverted
	OutcomeFailed  = "failed"  // could not be applied
	OutcomeSkipped = "skipped" // never started: the experiment stopped first
	OutcomeActive  = "active"  // in force (a journal written while it runs)
)

// Activity is one entry of the method (or of the rollbacks) as it ran.
type Activity struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
	// AtS and DurationS are the planned start and length, in seconds from
	// the run's time zero.
	AtS       float64 `json:"at_s"`
	DurationS float64 `json:"duration_s,omitempty"`
	// Start and End are when the fault was in force: applied, and
	// reverted or settled (a killed container running again).
	Start   *time.Time `json:"start,omitempty"`
	End     *time.Time `json:"end,omitempty"`
	Outcome string     `json:"outcome"`
	Error   string     `json:"error,omitempty"`
	// Matched and Affected count the requests a proxy fault selected and
	// acted on.
	Matched  *int64 `json:"matched,omitempty"`
	Affected *int64 `json:"affected,omitempty"`
	// DetectedAt is the end of the first interval from Start on whose
	// hypothesis failed; RecoveredAt the start of the first interval
	// after that, ending after End, that held again. Both nil when the
	// hypothesis never failed (or never held again).
	DetectedAt     *time.Time `json:"detected_at,omitempty"`
	TimeToDetectS  *float64   `json:"time_to_detect_s,omitempty"`
	RecoveredAt    *time.Time `json:"recovered_at,omitempty"`
	TimeToRecoverS *float64   `json:"time_to_recover_s,omitempty"`
	RevertError    string     `json:"revert_error,omitempty"`
}

// BlastRadius is what the faults did to the load.
type BlastRadius struct {
	// Requests and Failed count the whole run's finished requests;
	// DuringRequests and DuringFailed those of intervals overlapping a
	// fault's span.
	Requests       int64   `json:"requests"`
	Failed         int64   `json:"failed"`
	DuringRequests int64   `json:"during_requests"`
	DuringFailed   int64   `json:"during_failed"`
	DuringErrRate  float64 `json:"during_error_rate"`
	// Affected sums the requests the proxy faults acted on.
	Affected int64 `json:"affected"`
}

// ExitCode maps the journal to gonogo's exit codes: 0 held, 3 deviated,
// 4 aborted, interrupted or inconclusive.
func (j *Journal) ExitCode() int {
	switch {
	case j.Status == StatusCompleted && j.Verdict == Held:
		return 0
	case j.Status == StatusDeviated:
		return 3
	}
	return 4
}

// WriteJournal writes j as experiment.json into dir, atomically.
func WriteJournal(dir rundir.Dir, j *Journal) error {
	j.Schema = JournalSchema
	return dir.WriteAtomic(rundir.Experiment, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(j)
	})
}

// ReadJournal reads dir's experiment.json; os.ErrNotExist when the
// directory holds none.
func ReadJournal(dir rundir.Dir) (*Journal, error) {
	b, err := os.ReadFile(dir.Path(rundir.Experiment))
	if err != nil {
		return nil, err
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, &InputError{File: dir.Path(rundir.Experiment), Msg: err.Error()}
	}
	if j.Schema != JournalSchema {
		return nil, &InputError{File: dir.Path(rundir.Experiment), Field: "schema", Msg: fmt.Sprintf("%d: this gonogo reads schema %d", j.Schema, JournalSchema)}
	}
	return &j, nil
}
