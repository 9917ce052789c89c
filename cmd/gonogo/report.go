package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/fuzz"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
	"github.com/gonogo-dev/gonogo/rundir"
)

type reportFlags struct {
	html, junit, markdown string
	baseline              string
	shadow                string
	history               string
	percentiles           string
	traceURL              string
}

func newReportCmd(o *options) *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report DIR [--html FILE] [--junit FILE] [--markdown FILE]",
		Short: "Write the HTML report, JUnit XML and Markdown summary of a run",
		Long: `Write reports of the run in DIR, with its verdict (DIR/verdict.json) when
it was judged:

  --html      one self-contained HTML file (inline SVG charts, no network):
              verdict banner, gate table, latency over time, percentile
              spectrum with the baseline overlaid, throughput and errors,
              TTFT and TPOT over time and their spectra, divergence by
              segment, the run's events on every time axis and in a table,
              the slowest requests with their trace ids (--trace-url links
              them into a tracing UI); a partial run (killed, interrupted,
              aborted) says so;
  --junit     JUnit XML, one test case per gate (per threshold when the run
              was not judged), for CI test reporters;
  --markdown  a short summary for pull-request comments and
              $GITHUB_STEP_SUMMARY.

Without any of them, all three are written into DIR (report.html,
junit.xml, summary.md). --baseline DIR (or last-go) overlays a baseline run
on the charts and adds baseline columns. Without --baseline, a judged run
is reported against the baseline its verdict names: the run directory the
run history recorded for it, else the history's copy, else a directory of
that name beside DIR; when none is found, a warning says so.`,
		Example: `  gonogo report results/nightly
  gonogo report results/nightly --html report.html --junit junit.xml --markdown summary.md
  gonogo report results/canary --baseline results/stable --shadow results/shadow --html canary.html
  gonogo report results/nightly --trace-url 'http://jaeger:16686/trace/{trace_id}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(o, f, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.html, "html", "", "write the HTML report to FILE")
	fs.StringVar(&f.junit, "junit", "", "write JUnit XML to FILE")
	fs.StringVar(&f.markdown, "markdown", "", "write the Markdown summary to FILE")
	fs.StringVar(&f.baseline, "baseline", "", "baseline run directory, or last-go (from the run history)")
	fs.StringVar(&f.shadow, "shadow", "", "shadow run directory whose divergence.json to chart (default: DIR's own)")
	fs.StringVar(&f.history, "history", defaultHistory, "run history database, for --baseline last-go and the verdict's baseline")
	fs.StringVar(&f.percentiles, "percentiles", "", "latency percentiles the HTML report shows, e.g. 50,90,99,99.9 (default: the run's own, else 50,99,99.9)")
	fs.StringVar(&f.traceURL, "trace-url", "", "link each trace id of the HTML report's slowest requests to this URL, {trace_id} replaced by the id, e.g. http://jaeger:16686/trace/{trace_id}")
	return cmd
}

func runReport(o *options, f reportFlags, dir string) error {
	var pcts []float64
	var traceURL reports.TraceURL
	var err error
	if f.percentiles != "" {
		if pcts, err = reports.ParsePercentiles(f.percentiles); err != nil {
			return usageError("--percentiles %q: %v", f.percentiles, err)
		}
	}
	if f.traceURL != "" {
		if traceURL, err = reports.ParseTraceURL(f.traceURL); err != nil {
			return usageError("--trace-url %q: %v", f.traceURL, err)
		}
	}
	in, err := loadReportInput(o.Err, dir, f.baseline, f.history)
	if err != nil {
		return err
	}
	if pcts != nil && in.Run != nil {
		in.Run.Percentiles = pcts
	}
	if f.shadow != "" {
		if in.Data.Divergence, err = reports.ReadDivergence(f.shadow); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--shadow: %w", err)}
		}
	}
	if f.html == "" && f.junit == "" && f.markdown == "" {
		f.html = filepath.Join(dir, rundir.HTML)
		f.junit = filepath.Join(dir, rundir.JUnit)
		f.markdown = filepath.Join(dir, rundir.Markdown)
	}
	if in.Run == nil { // a malformed-input run alone: its findings, in HTML
		if f.junit != "" || f.markdown != "" {
			fmt.Fprintf(o.Err, "note: %s holds a malformed-input run only: writing the HTML report, no JUnit or Markdown\n", dir)
		}
		f.junit, f.markdown = "", ""
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer, reports.Input) error
	}{
		{f.html, reports.HTMLOptions{TraceURL: traceURL}.Write},
		{f.junit, reports.WriteJUnit},
		{f.markdown, reports.WriteMarkdown},
	} {
		if out.path == "" {
			continue
		}
		if err := writeFileWith(out.path, func(w io.Writer) error { return out.write(w, in) }); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "wrote %s\n", out.path)
	}
	return nil
}

// loadReportInput loads a run directory with its verdict and a baseline:
// the one asked for, else the one the verdict names (a warning to warn
// when it cannot be found).
func loadReportInput(warn io.Writer, dir, baseline, historyPath string) (reports.Input, error) {
	var in reports.Input
	var err error
	if in.Fuzz, err = fuzz.ReadReport(rundir.Dir(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return in, &exitError{code: exitUsage, err: err}
	}
	if in.Fuzz != nil && !rundir.Dir(dir).Exists(rundir.Run) {
		return in, nil // a malformed-input run alone
	}
	if in.Run, in.Data, err = loadRunDir(dir); err != nil {
		return in, err
	}
	if in.Experiment, err = chaos.ReadJournal(rundir.Dir(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return in, &exitError{code: exitUsage, err: err}
	}
	if in.Verdict, err = readVerdictFile(dir, in.Run.ID); err != nil {
		return in, err
	}
	judgedAgainst := ""
	if in.Verdict != nil {
		judgedAgainst = in.Verdict.Baseline
	}
	switch {
	case baseline == "" && judgedAgainst != "":
		if in.Baseline, in.BaselineData, err = verdictBaseline(dir, judgedAgainst, historyPath); err != nil {
			fmt.Fprintf(warn, "warning: %v: reporting without a baseline (pass --baseline DIR)\n", err)
		}
	case baseline == "":
	case baseline == "last-go":
		// The baseline the verdict was judged against, or else the
		// latest go run before this one.
		if historyPath == "" {
			return in, usageError("--baseline last-go needs the run history (--history)")
		}
		if judgedAgainst != "" {
			in.Baseline, in.BaselineData, err = verdictBaseline(dir, judgedAgainst, historyPath)
		} else {
			in.Baseline, in.BaselineData, err = lastGoFromHistory(historyPath, lastGoFilter("", in.Run, nil))
		}
		if err != nil {
			return in, usageError("--baseline last-go: %v", err)
		}
	default:
		if in.Baseline, in.BaselineData, err = loadRunDir(baseline); err != nil {
			return in, err
		}
	}
	return in, nil
}

// verdictBaseline finds the run a verdict of dir was judged against by its
// id: in the run directory the history at historyPath recorded for it
// (when it still holds that run), else the history's stored copy, else in
// a directory of that name beside dir, as gonogo names run directories.
// The error says where it looked.
func verdictBaseline(dir, id, historyPath string) (*reports.Run, *analyze.RunData, error) {
	var looked []string
	if historyPath != "" {
		run, data, err := baselineFromHistory(id, historyPath)
		if err == nil {
			return run, data, nil
		}
		looked = append(looked, err.Error())
	}
	sibling := filepath.Join(filepath.Dir(filepath.Clean(dir)), id)
	if run, data, err := loadRunDir(sibling); err == nil && run.ID == id {
		return run, data, nil
	}
	looked = append(looked, "no run directory "+sibling)
	return nil, nil, fmt.Errorf("baseline %s named by %s not found (%s)",
		id, filepath.Join(dir, rundir.Verdict), strings.Join(looked, "; "))
}

// baselineFromHistory loads the run of this id from the directory the
// history recorded for it, else from the history's copy. A missing
// history is an error, not a new empty one.
func baselineFromHistory(id, historyPath string) (*reports.Run, *analyze.RunData, error) {
	if _, err := os.Stat(historyPath); err != nil {
		return nil, nil, fmt.Errorf("no run history at %s", historyPath)
	}
	db, err := history.Open(historyPath)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	if d, err := db.Dir(id); err == nil && d != "" {
		if run, data, err := loadRunDir(d); err == nil && run.ID == id {
			return run, data, nil
		}
	}
	return db.Get(id)
}

// lastGoFromHistory loads the latest go run of the history that matches
// f.
func lastGoFromHistory(historyPath string, f history.Filter) (*reports.Run, *analyze.RunData, error) {
	db, err := history.Open(historyPath)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	return db.LastGo(f)
}

// writeFileWith writes a file through a buffered writer, reporting the
// first error of writing, flushing or closing.
func writeFileWith(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
