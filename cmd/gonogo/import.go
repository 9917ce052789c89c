package main

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/reports/k6"
	"github.com/gonogo-dev/gonogo/reports/vegeta"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/runner"
)

func newImportCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Turn another load tool's results into a gonogo results directory",
	}
	cmd.AddCommand(newImportK6Cmd(o), newImportVegetaCmd(o))
	return cmd
}

// importK6Flags are the flags of `gonogo import k6`.
type importK6Flags struct {
	out     string
	skipBad bool
	window  time.Duration
	labels  map[string]string
}

// maxShownSkips is how many skipped lines the warning names.
const maxShownSkips = 3

func newImportK6Cmd(o *options) *cobra.Command {
	f := &importK6Flags{}
	cmd := &cobra.Command{
		Use:   "k6 FILE",
		Short: "Import the results of k6 run --out json=FILE (plain or gzipped)",
		Long: `Read the NDJSON that k6 writes with --out json=FILE (plain, or gzipped as
k6 writes it for a .gz name) and write a gonogo results directory: run.json,
latency.hlog, timeline.ndjson and summary.txt, which every gonogo command that
reads results takes.

Each http_req_duration point is one request: done at the point's time, sent
value milliseconds earlier. k6 runs virtual users in a closed loop and has
no intended send times, so latency equals latency_service and
scheduling_lag is 0: the import cannot undo coordinated omission.
A request failed when its http_req_failed point (same time and tags) is 1;
without one, when its expected_response tag is "false"; without either, when
its status is 0 or 400 and above. Classes: 4xx → http_4xx, 5xx → http_5xx,
status 0 → connect, or timeout for k6 error codes 1050 and 1211.
The scenario tag names the scenario ("default" without one); tags that are
not k6 system tags (the script's own, --tag) become gonogo tags.
dropped_iterations points count as dropped arrivals. Other metrics are
counted, not recorded.

The file is streamed in constant memory. Points more than --reorder-window
behind a later one are counted in the interval open when they are read.
A malformed line stops the import with its file:line and field (exit 2);
--skip-bad skips and counts such lines instead. See docs/k6-import.md.`,
		Example: `  k6 run --out json=results.json script.js
  gonogo import k6 results.json --out results/k6-nightly

  # gzipped output, labelled for the run history, bad lines skipped
  gonogo import k6 results.gz --out results/k6-v2 --label version=v2 --skip-bad`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("give one k6 results file: gonogo import k6 FILE --out DIR")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImportK6(cmd, o, f, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.out, "out", "", "results directory (default results/k6-<time>)")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "skip malformed lines, count them and warn, instead of stopping at the first (exit 2)")
	fs.DurationVar(&f.window, "reorder-window", k6.DefaultReorderWindow, "how far behind a later point a point may come and still be counted in its own interval")
	fs.StringToStringVar(&f.labels, "label", nil, "label KEY=VALUE for run.json, e.g. version=v2 (repeatable; source=k6 is always set)")
	return cmd
}

func runImportK6(cmd *cobra.Command, o *options, f *importK6Flags, file string) error {
	if f.window <= 0 {
		return usageError("--reorder-window: must be > 0 (got %s)", f.window)
	}
	dir, err := importDir(f.out, "k6", f.labels)
	if err != nil {
		return err
	}
	run, imp, err := k6.ImportDir(file, dir, k6.DirOptions{
		Options: k6.Options{ReorderWindow: f.window, SkipBad: f.skipBad},
		Command: importCommand(cmd, f.labels, file),
		Labels:  f.labels,
		Files:   []string{rundir.Summary},
	})
	if err != nil {
		var le *k6.LineError
		switch {
		case errors.As(err, &le):
			return &exitError{code: exitUsage, err: fmt.Errorf("%w (--skip-bad skips malformed lines)", err)}
		case errors.Is(err, k6.ErrInput):
			return &exitError{code: exitUsage, err: err}
		}
		return err
	}
	warnImport(o, imp, f.window)
	if err := runner.WriteSummary(rundir.Dir(dir), run, o.Out); err != nil {
		return err
	}
	st := imp.Stats
	fmt.Fprintf(o.Out, "\nimported %d requests (%d failed) and %d dropped iterations from %s: %d lines, %d points\n",
		st.Requests, st.Failed, st.Dropped, file, st.Lines, st.Points)
	fmt.Fprintf(o.Out, "k6 counters: http_reqs %d · iterations %d · checks %d/%d passed · max VUs %d\n",
		st.HTTPReqs, st.Iterations, st.ChecksPassed, st.Checks, st.MaxVUs)
	fmt.Fprintf(o.Out, "\nresults: %s\n", dir)
	return nil
}

// importCommand reconstructs the command line for run.json, each label as
// its own --label flag.
func importCommand(cmd *cobra.Command, labels map[string]string, file string) string {
	args := []string{"gonogo", "import", cmd.Name(), file}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if fl.Name != "label" {
			args = append(args, fmt.Sprintf("--%s=%s", fl.Name, fl.Value.String()))
		}
	})
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		args = append(args, fmt.Sprintf("--label=%s=%s", k, labels[k]))
	}
	return strings.Join(args, " ")
}

// warnImport tells what the import skipped or could not place.
func warnImport(o *options, imp *k6.Imported, window time.Duration) {
	st := imp.Stats
	if st.Skipped > 0 {
		var first []string
		for _, e := range st.FirstSkipped[:min(len(st.FirstSkipped), maxShownSkips)] {
			first = append(first, e.Error())
		}
		more := ""
		if st.Skipped > int64(len(first)) {
			more = "; …"
		}
		fmt.Fprintf(o.Err, "warning: skipped %d malformed lines: %s%s\n", st.Skipped, strings.Join(first, "; "), more)
	}
	if st.Requests == 0 {
		fmt.Fprintln(o.Err, "warning: no http_req_duration points: the run holds no requests")
	}
	if st.Late > 0 {
		fmt.Fprintf(o.Err, "warning: %d points came more than %s behind later ones and were counted in a later interval (try a larger --reorder-window)\n", st.Late, window)
	}
	if st.Unpaired > 0 {
		fmt.Fprintf(o.Err, "warning: %d http_req_failed points had no http_req_duration point of the same time and tags\n", st.Unpaired)
	}
	if st.HTTPReqs > 0 && st.HTTPReqs != st.Requests {
		fmt.Fprintf(o.Err, "warning: http_reqs counts %d requests, but %d http_req_duration points were imported\n", st.HTTPReqs, st.Requests)
	}
}

// importDir checks the labels of an import and returns its results
// directory: out, or results/SOURCE-<time>.
func importDir(out, source string, labels map[string]string) (string, error) {
	for k := range labels {
		if k == "" {
			return "", usageError("--label: want KEY=VALUE")
		}
	}
	if out == "" {
		out = filepath.Join("results", source+"-"+time.Now().Format("20060102-150405"))
	}
	return out, nil
}

// importVegetaFlags are the flags of `gonogo import vegeta`.
type importVegetaFlags struct {
	out, format string
	labels      map[string]string
}

func newImportVegetaCmd(o *options) *cobra.Command {
	f := &importVegetaFlags{}
	cmd := &cobra.Command{
		Use:   "vegeta FILE",
		Short: "Import the results of vegeta attack (binary), or vegeta encode's JSON or CSV",
		Long: `Read the results of a vegeta attack — the binary results vegeta attack
writes, or the JSON or CSV of vegeta encode (told from the first bytes, or
--format) — and write a gonogo results directory: run.json, latency.hlog,
timeline.ndjson and summary.txt, which every gonogo command that reads
results takes.

Each result is one request: sent at its timestamp, done latency later, in
the scenario named by its attack. vegeta records no intended send time, so
latency equals latency_service and scheduling_lag is 0: the import cannot
undo coordinated omission. A result failed when it has an error or a status
outside 2xx and 3xx, as vegeta's success ratio counts it; classes: 4xx →
http_4xx, 5xx → http_5xx, timeouts → timeout, refused or reset connections
→ connect. The file is read twice: checked whole, then recorded. A result
that cannot be read stops the import with its file:line (gob: its result
number) and field (exit 2). See docs/vegeta.md.`,
		Example: `  vegeta attack -rate 100 -duration 60s -targets targets.txt > results.bin
  gonogo import vegeta results.bin --out results/vegeta-nightly --label version=v2`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("give one vegeta results file: gonogo import vegeta FILE --out DIR")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImportVegeta(cmd, o, f, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.out, "out", "", "results directory (default results/vegeta-<time>)")
	fs.StringVar(&f.format, "format", "", "gob, json or csv (default: told from the first bytes)")
	fs.StringToStringVar(&f.labels, "label", nil, "label KEY=VALUE for run.json, e.g. version=v2 (repeatable; source=vegeta is always set)")
	return cmd
}

func runImportVegeta(cmd *cobra.Command, o *options, f *importVegetaFlags, file string) error {
	switch vegeta.Format(f.format) {
	case "", vegeta.Gob, vegeta.JSON, vegeta.CSV:
	default:
		return usageError("--format: want gob, json or csv (got %q)", f.format)
	}
	dir, err := importDir(f.out, "vegeta", f.labels)
	if err != nil {
		return err
	}
	run, imp, err := vegeta.ImportDir(file, dir, vegeta.DirOptions{
		Options: vegeta.Options{Format: vegeta.Format(f.format)},
		Command: importCommand(cmd, f.labels, file),
		Labels:  f.labels,
		Files:   []string{rundir.Summary},
	})
	if errors.Is(err, vegeta.ErrInput) {
		return &exitError{code: exitUsage, err: err}
	}
	if err != nil {
		return err
	}
	st := imp.Stats
	if st.Late > 0 {
		fmt.Fprintf(o.Err, "warning: %d results ended more than an interval before a result written earlier and were counted in a later interval\n", st.Late)
	}
	if err := runner.WriteSummary(rundir.Dir(dir), run, o.Out); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\nimported %d requests (%d failed) from %s (%s)\n", st.Requests, st.Failed, file, st.Format)
	fmt.Fprintf(o.Out, "\nresults: %s\n", dir)
	return nil
}
