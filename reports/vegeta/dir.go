package vegeta

import (
	"fmt"
	"io"
	"os"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
)

// DirOptions configure ImportDir.
type DirOptions struct {
	Options
	// Command is the command line that imported, for run.json.
	Command string
	// Labels are added to run.json's labels, after source=vegeta.
	Labels map[string]string
	// Files names files the caller adds to the directory (a text summary).
	Files []string
}

// ImportDir imports the vegeta results at path into the run directory dir
// (created if needed): latency.hlog, timeline.ndjson, the cumulative
// histograms and run.json, whose target is the most common URL host (or
// "vegeta"), protocol http and labels source=vegeta. On an input error
// dir holds what it held before.
func ImportDir(path, dir string, opts DirOptions) (*reports.Run, *Imported, error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	defer in.Close()
	if fi, err := in.Stat(); err == nil && !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s is not a regular file (vegeta results are read twice)", ErrInput, path)
	}
	if opts.File == "" {
		opts.File = path
	}
	var imp *Imported
	err = reports.WriteImported(dir, func(intervalLog, timeline io.Writer) (*analyze.Recorder, error) {
		o := opts.Options
		o.IntervalLog, o.Timeline = intervalLog, timeline
		var err error
		if imp, err = Import(in, o); err != nil {
			return nil, err
		}
		return imp.Recorder, nil
	})
	if err != nil {
		return nil, nil, err
	}
	run, err := reports.WriteImportedRun(dir, reports.Import{Source: "vegeta", Command: opts.Command, Target: imp.Target,
		Protocol: "http", Labels: opts.Labels, Files: opts.Files, Start: imp.Start}, imp.Summary())
	if err != nil {
		return nil, nil, err
	}
	return run, imp, nil
}
