package k6

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
)

// DirOptions configure ImportDir.
type DirOptions struct {
	Options
	// Command is the command line that imported, for run.json.
	Command string
	// Labels are added to run.json's labels, after source=k6.
	Labels map[string]string
	// Files names files the caller adds to the directory (a text summary),
	// listed in run.json after latency.hlog and timeline.ndjson.
	Files []string
}

// Protocol is the protocol an imported run reports: k6's http_req_*
// metrics describe HTTP requests.
const Protocol = "http"

// ImportDir imports the k6 JSON output at path into the run directory dir
// (created if needed): latency.hlog, timeline.ndjson and run.json, whose ID
// is dir's base name, target the most common URL host of the requests (or
// "k6"), protocol "http" and labels source=k6. On an input error dir holds
// what it held before (and is removed when ImportDir created it).
func ImportDir(path, dir string, opts DirOptions) (*reports.Run, *Imported, error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	defer in.Close()
	if fi, err := in.Stat(); err == nil && fi.IsDir() {
		return nil, nil, fmt.Errorf("%w: %s is a directory, not k6 JSON output", ErrInput, path)
	}
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("k6: results directory: %w", err)
	}
	imp, err := importFiles(in, dir, opts.Options, path)
	if err != nil {
		if created {
			os.Remove(dir) // only when empty
		}
		return nil, nil, err
	}
	labels := map[string]string{"source": "k6"}
	maps.Copy(labels, opts.Labels)
	target := imp.Target
	if target == "" {
		target = "k6"
	}
	run := &reports.Run{
		ID: reports.RunID(dir, imp.Start), Command: opts.Command, Target: target, Protocol: Protocol,
		Labels: labels, Scenarios: map[string]reports.Scenario{},
		Files: append([]string{rundir.IntervalLog, rundir.Timeline, rundir.Cumulative}, opts.Files...),
	}
	run.SetSummary(imp.Summary())
	if err := reports.WriteRunJSON(dir, run); err != nil {
		return nil, nil, err
	}
	return run, imp, nil
}

// importFiles runs Import from in into the interval log, timeline and
// cumulative histograms of dir. It writes them under temporary names and renames them into place
// only when the import succeeds, so that a failed import leaves what dir
// held before.
func importFiles(in *os.File, dir string, opts Options, name string) (imp *Imported, err error) {
	var tmps []*os.File
	defer func() {
		for _, f := range tmps {
			f.Close()
			if err != nil {
				os.Remove(f.Name())
			}
		}
	}()
	create := func(final string) (*os.File, error) {
		f, err := os.CreateTemp(dir, "."+final+".*.tmp")
		if err != nil {
			return nil, fmt.Errorf("k6: results directory: %w", err)
		}
		tmps = append(tmps, f)
		return f, nil
	}
	hf, err := create(rundir.IntervalLog)
	if err != nil {
		return nil, err
	}
	tf, err := create(rundir.Timeline)
	if err != nil {
		return nil, err
	}
	cf, err := create(rundir.Cumulative)
	if err != nil {
		return nil, err
	}
	hw, tw := bufio.NewWriterSize(hf, 64<<10), bufio.NewWriterSize(tf, 16<<10)
	if opts.File == "" {
		opts.File = name
	}
	opts.IntervalLog, opts.Timeline = hw, tw
	if imp, err = Import(in, opts); err != nil {
		return nil, err
	}
	cw := bufio.NewWriter(cf)
	if err = errors.Join(hw.Flush(), tw.Flush(), imp.Recorder.WriteCumulative(cw), cw.Flush(), hf.Close(), tf.Close(), cf.Close()); err != nil {
		return nil, fmt.Errorf("k6: writing results: %w", err)
	}
	for _, f := range []struct {
		tmp   *os.File
		final string
	}{{hf, rundir.IntervalLog}, {tf, rundir.Timeline}, {cf, rundir.Cumulative}} {
		if err = os.Chmod(f.tmp.Name(), 0o644); err == nil {
			err = os.Rename(f.tmp.Name(), filepath.Join(dir, f.final))
		}
		if err != nil {
			return nil, fmt.Errorf("k6: writing results: %w", err)
		}
	}
	return imp, nil
}
