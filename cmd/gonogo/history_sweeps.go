package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
	"github.com/gonogo-dev/gonogo/rundir"
)

func newHistorySweepsCmd(o *options, dbPath *string) *cobra.Command {
	var (
		target string
		labels []string
		last   int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "sweeps",
		Short: "Show the knee of recorded rate sweeps over the last sweeps and flag drops",
		Long: `Show the recorded rate sweeps (gonogo sweep records every complete one),
oldest first, with a sparkline of their knee: the knee, the highest rate
that met the SLO, the saturating throughput and the server resource that
reached its limit first (docs/sweep.md).

A sweep is flagged when its knee falls below the median knee of the up to
--last sweeps before it by more than the larger of 10 % of that median and
3 median absolute deviations (the rule of history trend, mirrored: a lower
knee is the worse one). Sweeps with fewer than three before them are not
judged.`,
		Example: `  gonogo history sweeps --label job=nightly
  gonogo history sweeps --target http://127.0.0.1:8000 --last 30 --json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ls, err := parseLabels("--label", labels)
			if err != nil {
				return err
			}
			if last <= 0 {
				return usageError("--last %d: want 1 or more sweeps", last)
			}
			db, err := openExistingHistory(*dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			entries, err := db.Sweeps(history.Filter{Target: target, Labels: ls}, last)
			if err != nil {
				return err
			}
			if asJSON {
				if entries == nil {
					entries = []history.SweepEntry{}
				}
				return histJSON(o.Out, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintf(o.Out, "no recorded sweep matches (%s)\n", *dbPath)
				return nil
			}
			return writeSweepHistory(o.Out, entries)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&target, "target", "", "only sweeps against this target URL")
	flags.StringArrayVar(&labels, "label", nil, "only sweeps with label KEY=VALUE, e.g. job=nightly (repeatable)")
	flags.IntVar(&last, "last", 14, "number of sweeps")
	flags.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// writeSweepHistory prints recorded sweeps: a heading, a sparkline of
// their knee, and one row per sweep with its regression mark.
func writeSweepHistory(w io.Writer, entries []history.SweepEntry) error {
	knees := make([]float64, len(entries))
	for i, e := range entries {
		knees[i] = e.KneePerSec
	}
	fmt.Fprintf(w, "knee of the last %d sweeps (requests/s)\n%s /s\n\n", len(entries), sparkline(knees))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tLABELS\tKNEE/S\tSLO MAX/S\tSATURATION/S\tFIRST TO SATURATE")
	for _, e := range entries {
		first := "-"
		if e.FirstResource != "" {
			first = fmt.Sprintf("%s at %s/s", e.FirstResource, histNum(e.FirstAtPerSec))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s", e.ID, e.Started.Local().Format(historyTimeLayout), histLabels(e.Labels),
			histNum(e.KneePerSec), histNum(e.SLOMaxPerSec), histNum(e.SaturationPerSec), first)
		if e.Regression {
			fmt.Fprintf(tw, "\t▼ regression: knee %s/s vs median %s/s", histNum(e.KneePerSec), histNum(e.Median))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// recordSweepDir records a sweep directory (its sweep.json) as one sweep;
// a sweep.json that does not read, or of a sweep that did not complete, is
// bad input.
func recordSweepDir(o *options, db *history.DB, dir string) error {
	path := filepath.Join(dir, rundir.Sweep)
	s, err := reports.ReadSweepJSON(path)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if err := db.RecordSweep(s, dir); errors.Is(err, history.ErrIncompleteSweep) {
		return usageError("%s: %v", path, err)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "recorded sweep %s (%s), knee %s/s\n", s.ID, dir, histNum(s.Analysis.Knee.RatePerSec))
	return nil
}
