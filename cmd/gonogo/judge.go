package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
)

// judgeFlags make a load or shadow run judge itself with a gates file,
// during the run (windowed and abortOnFail gates) and after it.
type judgeFlags struct {
	gates         string
	baseline      string
	baselineLabel []string
}

func (f *judgeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.gates, "gates", "", "gates file (docs/gates.md): judged live over windows during the run and after it (verdict.json, exit code)")
	fs.StringVar(&f.baseline, "baseline", "", "with --gates: baseline run directory, or last-go for the latest go run in the history")
	fs.StringArrayVar(&f.baselineLabel, "baseline-label", nil, "with --baseline last-go: only runs with this label KEY=VALUE (repeatable)")
}

// load reads the gates file and the baseline into job.
func (f *judgeFlags) load(o *options, job *loadJob, historyPath string) error {
	if f.gates == "" {
		if f.baseline != "" || len(f.baselineLabel) > 0 {
			return usageError("--baseline and --baseline-label need --gates")
		}
		return nil
	}
	g, err := analyze.LoadGates(f.gates)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	job.Gates = g
	labels, err := parseLabels("--baseline-label", f.baselineLabel)
	if err != nil {
		return err
	}
	switch f.baseline {
	case "":
	case "last-go":
		names := job.File.Names()
		filter := history.Filter{Scenario: g.Scenario, Target: job.Target, Protocol: job.Protocol, Labels: baselineLabels(job.Labels, labels)}
		if filter.Scenario == "" && len(names) == 1 {
			filter.Scenario = names[0]
		}
		job.Baseline, err = lastGoBaseline(o, historyPath, filter)
	default:
		_, job.Baseline, err = loadRunDir(f.baseline)
	}
	return err
}

// identityLabels name what a run tests rather than how: a baseline has
// other values of them.
var identityLabels = []string{"version", "commit"}

// baselineLabels are the labels a last-go baseline must carry: the judged
// run's, but those naming what is tested, and those asked for
// (--baseline-label), which win.
func baselineLabels(run, asked map[string]string) map[string]string {
	out := maps.Clone(run)
	for _, k := range identityLabels {
		delete(out, k)
	}
	if out == nil && len(asked) > 0 {
		out = map[string]string{}
	}
	maps.Copy(out, asked)
	return out
}

// lastGoFilter selects the history runs a last-go baseline of a judged
// run may come from: started before it and not it, of the same target
// and protocol, of the gates file's scenario or else of the run's only
// one, and carrying the run's labels but its version and commit (and those
// of --baseline-label).
func lastGoFilter(scenario string, run *reports.Run, asked map[string]string) history.Filter {
	f := history.Filter{Scenario: scenario, StartedBefore: run.Started, Except: run.ID, Target: run.Target,
		Protocol: run.Protocol, Labels: baselineLabels(run.Labels, asked)}
	if f.Scenario == "" && len(run.Scenarios) == 1 {
		for name := range run.Scenarios {
			f.Scenario = name
		}
	}
	return f
}

// lastGoBaseline finds the latest go run in the history; when there is
// none yet, relative gates become inconclusive rather than the whole
// verdict failing, so that a first nightly run is judged and recorded.
func lastGoBaseline(o *options, path string, f history.Filter) (*analyze.RunData, error) {
	if path == "" {
		return nil, usageError("--baseline last-go needs the run history (--history)")
	}
	db, err := history.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--baseline last-go: %w", err)
	}
	defer db.Close()
	_, base, err := db.LastGo(f)
	if errors.Is(err, history.ErrNoBaseline) {
		fmt.Fprintf(o.Err, "warning: --baseline last-go: %v: relative gates are inconclusive\n", err)
		return analyze.MissingBaseline(err.Error()), nil
	}
	if err != nil {
		return nil, fmt.Errorf("--baseline last-go: %w", err)
	}
	return base, nil
}

// loadRunDir loads a run directory; a missing or corrupt one is bad
// input.
func loadRunDir(dir string) (*reports.Run, *analyze.RunData, error) {
	run, data, err := reports.LoadRun(dir)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	return run, data, nil
}

// warnBaseline warns when an explicit baseline ran another scenario or
// protocol than the judged run: a comparison across them means little.
func warnBaseline(o *options, run, base *reports.Run) {
	if base.Protocol != run.Protocol {
		fmt.Fprintf(o.Err, "warning: the baseline %s ran protocol %s, the judged run %s\n", base.ID, base.Protocol, run.Protocol)
	}
	names := func(r *reports.Run) []string { return slices.Sorted(maps.Keys(r.Scenarios)) }
	if a, b := names(run), names(base); !slices.Equal(a, b) {
		fmt.Fprintf(o.Err, "warning: the baseline %s ran scenarios %v, the judged run %v\n", base.ID, b, a)
	}
}
