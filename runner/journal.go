package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
)

// Journal is a run's event journal, events.ndjson: what happened during
// the run (a fault injected, traffic flipped, a person's marker), one
// gonogo.Event per line. It is safe for concurrent use. Every event is one
// write of one line to a file opened for appending, so that other writers
// (gonogo mark, from another terminal) can append to the same file while
// the run goes; the run never rewrites or deletes what they wrote.
type Journal struct {
	mu     sync.Mutex
	w      io.WriteCloser
	err    error
	closed bool
	n      int
}

// OpenJournal opens the journal of the results directory dir for
// appending, creating it when missing.
func OpenJournal(dir rundir.Dir) (*Journal, error) {
	f, err := dir.Append(rundir.Events)
	if err != nil {
		return nil, err
	}
	return &Journal{w: f}, nil
}

// ErrJournalClosed is returned by Emit after Close.
var ErrJournalClosed = errors.New("runner: journal closed")

// Emit appends e, filling its schema, its time (now when zero) and its
// source ("run" when empty). The journal is append-only: write a span
// once it has ended, with its start (Time) and End.
func (j *Journal) Emit(e gonogo.Event) error {
	e.Schema = gonogo.EventSchema
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Source == "" {
		e.Source = SourceRun
	}
	if e.Kind == "" {
		return fmt.Errorf("runner: event without a kind")
	}
	if e.End != nil && e.End.Before(e.Time) {
		return fmt.Errorf("runner: event %s: end before start", e.Kind)
	}
	e.Attrs = maps.Clone(e.Attrs)
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("runner: event %s: %w", e.Kind, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrJournalClosed
	}
	if j.err != nil {
		return j.err
	}
	if _, err := j.w.Write(append(b, '\n')); err != nil {
		j.err = fmt.Errorf("runner: write %s: %w", rundir.Events, err)
		return j.err
	}
	j.n++
	return nil
}

// Len is the number of events this journal wrote.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n
}

// Close closes the journal's file and returns the first write error.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return j.err
	}
	j.closed = true
	if err := j.w.Close(); err != nil && j.err == nil {
		j.err = fmt.Errorf("runner: close %s: %w", rundir.Events, err)
	}
	return j.err
}

// Sources of the events the runner writes.
const (
	SourceRun    = "run"
	SourceMarker = "marker"
)

// Mark appends a person's marker to the journal of the results directory
// dir, from outside the run (gonogo mark): it works while the run goes and
// after it.
func Mark(dir rundir.Dir, message string, attrs map[string]string) error {
	if message == "" {
		return inputf("a marker needs a message")
	}
	if !dir.Exists(rundir.Run) {
		return inputf("%s is not a run directory (no %s)", dir, rundir.Run)
	}
	j, err := OpenJournal(dir)
	if err != nil {
		return err
	}
	err = j.Emit(gonogo.Event{Kind: gonogo.EventMarker, Source: SourceMarker, Message: message, Attrs: attrs})
	return errors.Join(err, j.Close())
}

// eventsForNextRun returns the events of dir's journal written after the
// run that left the directory had ended (by its run.json; every event
// when there was no run): a marker put there for the run about to start
// ("deploy started"), which clearing the directory must not lose. Events of
// the earlier run are not kept; an unreadable journal keeps nothing.
func eventsForNextRun(dir rundir.Dir) []gonogo.Event {
	f, err := os.Open(dir.Path(rundir.Events))
	if err != nil {
		return nil
	}
	defer f.Close()
	events, err := analyze.ReadEvents(f)
	if err != nil {
		return nil
	}
	var after time.Time
	if run, err := reports.ReadRunJSON(string(dir)); err == nil {
		after = run.Ended
		if after.IsZero() { // killed: it ran until its files last changed
			if st, err := os.Stat(dir.Path(rundir.Timeline)); err == nil {
				after = st.ModTime()
			}
		}
	}
	var out []gonogo.Event
	for _, e := range events {
		if e.Time.After(after) {
			out = append(out, e)
		}
	}
	return out
}
