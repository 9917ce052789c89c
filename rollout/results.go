package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/runner"
)

// results is a rollout's results directory, laid out as a load run's so
// that gonogo report and verdict read it: the journal (every transition),
// the interval log and timeline of the routed traffic, and at the end
// run.json and the cumulative histograms.
type results struct {
	dir     rundir.Dir
	journal *runner.Journal
	hlog    *os.File
	tl      *os.File
	command []string
}

// openResults creates dir's files.
func openResults(dir string, command []string) (*results, error) {
	r := &results{dir: rundir.Dir(dir), command: command}
	if err := r.dir.Make(); err != nil {
		return nil, err
	}
	var err error
	if r.journal, err = runner.OpenJournal(r.dir); err != nil {
		return nil, err
	}
	if r.hlog, err = r.dir.Create(rundir.IntervalLog); err != nil {
		r.journal.Close()
		return nil, err
	}
	if r.tl, err = r.dir.Create(rundir.Timeline); err != nil {
		r.journal.Close()
		r.hlog.Close()
		return nil, err
	}
	return r, nil
}

// finish writes run.json and the cumulative histograms of c's routed
// traffic, and closes the files. The run is complete when the rollout
// ended (promoted, rolled back, aborted), interrupted otherwise.
func (r *results) finish(c *Controller, end time.Time) error {
	st := c.State()
	run := &reports.Run{
		ID: reports.RunID(string(r.dir), c.rec.Start()), Started: c.rec.Start(),
		Command: runner.CommandLine(runner.RedactArgs(r.command)), Target: "http://" + c.cfg.Listen, Protocol: "rollout",
		Labels:    map[string]string{"rollout": c.cfg.Name, "phase": st.Phase},
		Scenarios: map[string]reports.Scenario{Scenario: {Executor: "traffic routed by the rollout proxy"}},
		Files:     []string{rundir.IntervalLog, rundir.Timeline, rundir.Events, rundir.Cumulative},
		Status:    reports.StatusComplete,
	}
	if !Terminal(st.Phase) {
		run.Status, run.Aborted, run.AbortReason = reports.StatusInterrupted, true, fmt.Sprintf("stopped at step %d (%s)", st.Step, st.Phase)
	}
	run.SetSummary(c.rec.Summary(end))
	if r.writeReadout(c, end) {
		run.Files = append(run.Files, rundir.ABReadout, rundir.ABHTML)
	}
	errs := []error{
		r.dir.WriteAtomic(rundir.Cumulative, c.rec.WriteCumulative),
		reports.WriteRunJSON(string(r.dir), run),
		r.journal.Close(), r.hlog.Close(), r.tl.Close(),
	}
	return errors.Join(errs...)
}

// finishEmpty closes the files of a rollout that never started.
func (r *results) finishEmpty() error {
	return errors.Join(r.journal.Close(), r.hlog.Close(), r.tl.Close())
}

// writeReadout writes the experiment's readout (ab.json, ab.html) when
// the rollout runs one and it has begun; it reports whether it did.
func (r *results) writeReadout(c *Controller, end time.Time) bool {
	spec := c.cfg.Experiment
	if spec == nil {
		return false
	}
	var split float64
	for _, s := range c.steps {
		if s.Experiment != nil {
			split = s.Experiment.Weight
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := c.db.Experiment(ctx, spec.Name)
	if err != nil {
		return false // no exposure yet
	}
	rd, err := BuildABReport(ctx, c.db, spec, c.backends[1].name, c.backends[0].name, split, ex.Created, end, true)
	if err == nil {
		err = errors.Join(
			r.dir.WriteAtomic(rundir.ABReadout, func(w io.Writer) error {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rd)
			}),
			r.dir.WriteAtomic(rundir.ABHTML, func(w io.Writer) error { return reports.ABHTML(w, rd) }))
	}
	if err != nil {
		c.logf("experiment %s: the readout: %v", spec.Name, err)
		return false
	}
	return true
}
