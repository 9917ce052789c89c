package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
)

type reportFlags struct {
	html, junit, markdown string
	baseline              string
	shadow                string
	history               string
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
              TTFT/TPOT, divergence by segment, events on every time axis;
  --junit     JUnit XML, one test case per gate (per threshold when the run
              was not judged), for CI test reporters;
  --markdown  a short summary for pull-request comments and
              $GITHUB_STEP_SUMMARY.

Without any of them, all three are written into DIR (report.html,
junit.xml, summary.md). --baseline DIR (or last-go) overlays a baseline run
on the charts and adds baseline columns.`,
		Example: `  gonogo report results/nightly
  gonogo report results/nightly --html report.html --junit junit.xml --markdown summary.md
  gonogo report results/canary --baseline results/stable --shadow results/shadow --html canary.html`,
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
	fs.StringVar(&f.history, "history", defaultHistory, "run history database, for --baseline last-go")
	return cmd
}

func runReport(o *options, f reportFlags, dir string) error {
	in, err := loadReportInput(dir, f.baseline, f.history)
	if err != nil {
		return err
	}
	if f.shadow != "" {
		if in.Data.Divergence, err = reports.ReadDivergence(f.shadow); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--shadow: %w", err)}
		}
	}
	if f.html == "" && f.junit == "" && f.markdown == "" {
		f.html = filepath.Join(dir, reports.HTMLFile)
		f.junit = filepath.Join(dir, reports.JUnitFile)
		f.markdown = filepath.Join(dir, reports.MarkdownFile)
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer, reports.Input) error
	}{
		{f.html, reports.WriteHTML},
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

// loadReportInput loads a run directory with its verdict and, when asked,
// a baseline.
func loadReportInput(dir, baseline, historyPath string) (reports.Input, error) {
	var in reports.Input
	var err error
	if in.Run, in.Data, err = loadRunDir(dir); err != nil {
		return in, err
	}
	if in.Verdict, err = readVerdictFile(dir, in.Run.ID); err != nil {
		return in, err
	}
	switch baseline {
	case "":
	case "last-go":
		// The baseline the verdict was judged against, or else the
		// latest go run before this one.
		if historyPath == "" {
			return in, usageError("--baseline last-go needs the run history (--history)")
		}
		db, err := history.Open(historyPath)
		if err != nil {
			return in, fmt.Errorf("--baseline last-go: %w", err)
		}
		defer db.Close()
		if in.Verdict != nil && in.Verdict.Baseline != "" {
			in.Baseline, in.BaselineData, err = db.Get(in.Verdict.Baseline)
		} else {
			in.Baseline, in.BaselineData, err = db.LastGo(baselineFilter("", in.Run, nil))
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
