package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
)

// defaultHistory is where runs and verdicts are recorded unless --history
// says otherwise.
const defaultHistory = history.DefaultPath

// recordHistory records a run and its verdict in the history at path.
func recordHistory(path string, run *reports.Run, data *analyze.RunData, v *analyze.Verdict) error {
	db, err := history.Open(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Record(run, data); err != nil {
		return err
	}
	return db.SetVerdict(run.ID, v)
}

// baselineFilter selects the history runs a last-go baseline may come from:
// started before the judged run and not that run, of the given scenario
// (the gates file's) or else of the judged run's only one, and carrying
// every label asked for (--baseline-label).
func baselineFilter(scenario string, run *reports.Run, labels map[string]string) history.Filter {
	f := history.Filter{Scenario: scenario, StartedBefore: run.Started, Except: run.ID, Labels: labels}
	if f.Scenario == "" && len(run.Scenarios) == 1 {
		for name := range run.Scenarios {
			f.Scenario = name
		}
	}
	return f
}

// recordFlags say how a load or shadow run is labelled and recorded.
type recordFlags struct {
	labels  []string
	history string
}

func (f *recordFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.labels, "label", nil, "label KEY=VALUE of what is tested, e.g. version=v2 or commit=abc123 (repeatable); the run history keys runs by them")
	fs.StringVar(&f.history, "history", defaultHistory, `run history database to record the run in ("" to not record)`)
}

// parseLabels parses KEY=VALUE flags (--label, --baseline-label) into a
// map; nil for none.
func parseLabels(flag string, list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(list))
	for _, l := range list {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, usageError("%s %q: want KEY=VALUE", flag, l)
		}
		m[k] = v
	}
	return m, nil
}

// recordRun records a finished run directory in the history at path; a
// failure is a warning, never a lost run.
func recordRun(w io.Writer, path, dir string) {
	if path == "" {
		return
	}
	err := func() error {
		run, data, err := reports.LoadRun(dir)
		if err != nil {
			return err
		}
		db, err := history.Open(path)
		if err != nil {
			return err
		}
		defer db.Close()
		return db.Record(run, data)
	}()
	if err != nil {
		fmt.Fprintf(w, "warning: run history %s: %v\n", path, err)
	}
}
