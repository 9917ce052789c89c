package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
)

func newExportCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a run's figures for spreadsheets and notebooks",
	}
	cmd.AddCommand(newExportCSVCmd(o))
	return cmd
}

func newExportCSVCmd(o *options) *cobra.Command {
	var out, samples string
	cmd := &cobra.Command{
		Use:   "csv RUN_DIR [--out summary.csv] [--samples samples.csv]",
		Short: "Write a run's summary (and its samples) as CSV",
		Long: `Write the summary of the run in RUN_DIR as CSV: one row per group (overall,
scenario:NAME, tag:KEY=VALUE) and metric, with count, mean, stddev, min,
p1, p5, p10, p25, p50, p75, p90, p95, p99, p99.9 and max in the metric's
unit (ms; tokens for input_tokens and output_tokens; tokens/s for
tokens_per_sec_per_user) — the numbers of run.json.

--samples FILE also writes one row per request from samples.ndjson.gz,
which the run wrote when it was given --samples. Without --out the summary
goes to standard output.`,
		Example: `  gonogo export csv results/nightly --out summary.csv
  gonogo export csv results/nightly --out summary.csv --samples samples.csv`,
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(_ *cobra.Command, args []string) error {
			return runExportCSV(o, args[0], out, samples)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&out, "out", "", "write the summary CSV to FILE (default: standard output)")
	fs.StringVar(&samples, "samples", "", "also write every request, from samples.ndjson.gz, to FILE")
	return cmd
}

func runExportCSV(o *options, dir, out, samples string) error {
	run, err := reports.ReadRunJSON(dir)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	var sf *os.File
	if samples != "" {
		path := filepath.Join(dir, rundir.Samples)
		if sf, err = os.Open(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return usageError("--samples: %s has no %s: run the load with --samples", dir, rundir.Samples)
			}
			return usageError("--samples: %v", err)
		}
		defer sf.Close()
	}
	if out == "" {
		if err := reports.WriteSummaryCSV(o.Out, run); err != nil {
			return err
		}
	} else {
		if err := writeFileWith(out, func(w io.Writer) error { return reports.WriteSummaryCSV(w, run) }); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		fmt.Fprintf(o.Err, "wrote %s\n", out)
	}
	if sf == nil {
		return nil
	}
	var n int64
	err = writeFileWith(samples, func(w io.Writer) error {
		var werr error
		n, werr = reports.WriteSamplesCSV(w, sf)
		return werr
	})
	if err != nil {
		return fmt.Errorf("--samples: %w", err)
	}
	fmt.Fprintf(o.Err, "wrote %s (%d requests)\n", samples, n)
	return nil
}
