package k6

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
	run, err := reports.WriteImportedRun(dir, reports.Import{Source: "k6", Command: opts.Command, Target: imp.Target,
		Protocol: Protocol, Labels: opts.Labels, Files: opts.Files, Start: imp.Start}, imp.Summary())
	if err != nil {
		return nil, nil, err
	}
	return run, imp, nil
}
