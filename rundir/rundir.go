// Package rundir is the one owner of a results directory's layout: the name
// of every file a run, a verdict or a report writes there, and the ways they
// are written.
//
// Two kinds of files live in a results directory:
//
//   - streams (the interval log, the timeline, the samples, the pairs, the
//     event journal) grow while the run goes and are flushed at every
//     interval, so that a run killed at any moment leaves what it measured
//     up to its last interval (Dir.Create, Dir.Append);
//   - documents (run.json, summary.txt, histograms.hlog, divergence.json,
//     verdict.json, reports) are written whole to a temporary file in the
//     same directory, synced and renamed into place (WriteAtomic): a reader
//     never sees half of one.
//
// A run starts by removing what an earlier run left (Dir.Clear), so that
// last night's files never pass for tonight's, and by writing a run.json
// that says it is running: a run that is killed leaves that run.json,
// which readers take as a partial run.
package rundir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The files of a results directory.
const (
	// Run is the run's summary (reports.Run, docs/run-json.md).
	Run = "run.json"
	// Summary is the text summary, as printed.
	Summary = "summary.txt"
	// IntervalLog holds per-interval HDR histograms of every group and
	// metric (HdrHistogram interval log format).
	IntervalLog = "latency.hlog"
	// Cumulative holds the whole run's histogram of every group and metric
	// (same format).
	Cumulative = "histograms.hlog"
	// Timeline holds per-interval counts of every group, one JSON line per
	// interval.
	Timeline = "timeline.ndjson"
	// Events is the run's journal: faults, flips, markers (gonogo.Event).
	Events = "events.ndjson"
	// Samples holds every request (--samples), gzipped JSON lines.
	Samples = "samples.ndjson.gz"
	// Pairs holds every target's answer to every request of a shadow run.
	Pairs = "pairs.ndjson.gz"
	// Divergence is a shadow run's divergence report.
	Divergence = "divergence.json"
	// Verdict is the go / no-go verdict (analyze.Verdict).
	Verdict = "verdict.json"
	// HTML, JUnit and Markdown are the reports of gonogo report.
	HTML     = "report.html"
	JUnit    = "junit.xml"
	Markdown = "summary.md"
	// Ledger holds every fault of a chaos experiment, written before the
	// fault is applied and again once it is reverted (chaos.Ledger). It
	// outlives the run, so that what a killed run left can be reverted:
	// Clear keeps it, and every run appends to it.
	Ledger = "chaos-ledger.ndjson"
	// Lease is the lease a chaos run holds on its ledger and renews; a
	// guard process reverts the ledger's faults when it lapses.
	Lease = "chaos-lease.json"
	// GuardLog is what the guard process of a chaos run said.
	GuardLog = "chaos-guard.log"
	// Experiment is a chaos experiment's journal: the hypothesis before,
	// during and after the method, every activity, the status.
	Experiment = "experiment.json"
	// Fuzz is the findings of a malformed-input run (gonogo chaos fuzz).
	Fuzz = "fuzz.json"
	// ABReadout and ABHTML are a rollout's A/B experiment readout, as
	// JSON and as a page (gonogo ab report writes the same).
	ABReadout = "ab.json"
	ABHTML    = "ab.html"
	// Sweep and SweepHTML are a rate sweep's report (gonogo sweep), as
	// JSON and as a page; each stage's run has a directory of its own
	// below.
	Sweep     = "sweep.json"
	SweepHTML = "sweep.html"
	// Annotations is the run's events as Grafana annotations
	// (outputs/annotations), written at the end of every run.
	Annotations = "annotations.json"
)

// Files lists every file a results directory may hold, in the order a
// listing shows them.
var Files = []string{
	Run, Summary, IntervalLog, Cumulative, Timeline, Events, Samples, Pairs,
	Divergence, Verdict, HTML, JUnit, Markdown, Experiment, Fuzz, ABReadout, ABHTML,
	Sweep, SweepHTML, Annotations,
}

// Dir is a results directory.
type Dir string

// Path returns the path of a file in d.
func (d Dir) Path(name string) string { return filepath.Join(string(d), name) }

// Make creates d (and its parents) when missing.
func (d Dir) Make() error {
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return fmt.Errorf("rundir: results directory: %w", err)
	}
	return nil
}

// Clear removes every file of Files from d, and the temporary files an
// interrupted atomic write left: what an earlier run wrote into a reused
// directory (results/nightly) must not pass for this run's.
func (d Dir) Clear() error {
	var errs []error
	for _, name := range Files {
		if err := os.Remove(d.Path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("rundir: remove %s: %w", d.Path(name), err))
		}
	}
	tmps, _ := filepath.Glob(d.Path(".*" + tmpSuffix))
	for _, t := range tmps {
		_ = os.Remove(t)
	}
	return errors.Join(errs...)
}

// Create creates (or truncates) a stream file of d.
func (d Dir) Create(name string) (*os.File, error) {
	f, err := os.Create(d.Path(name))
	if err != nil {
		return nil, fmt.Errorf("rundir: %w", err)
	}
	return f, nil
}

// Append opens a stream file of d for appending, creating it when missing.
// Each Write of a line of at most a few kilobytes lands whole at the end
// of the file, even when other processes append to it too (O_APPEND):
// that is how a person's marker (gonogo mark) joins a running run's
// journal.
func (d Dir) Append(name string) (*os.File, error) {
	f, err := os.OpenFile(d.Path(name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("rundir: %w", err)
	}
	return f, nil
}

// Exists reports whether d holds the file name.
func (d Dir) Exists(name string) bool {
	_, err := os.Stat(d.Path(name))
	return err == nil
}

const tmpSuffix = ".tmp"

// WriteAtomic writes a document of d through write, buffered, into a
// temporary file of the same directory, syncs it and renames it to name:
// readers see the old file or the new one, never part of one. On error
// nothing is left behind and the error names the file.
func (d Dir) WriteAtomic(name string, write func(io.Writer) error) error {
	return WriteFileAtomic(d.Path(name), write)
}

// WriteFileAtomic is Dir.WriteAtomic for any path.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*"+tmpSuffix)
	if err != nil {
		return fmt.Errorf("rundir: write %s: %w", path, err)
	}
	tmp := f.Name()
	bw := bufio.NewWriterSize(f, 64<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rundir: write %s: %w", path, err)
	}
	return nil
}
