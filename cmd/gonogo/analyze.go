package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/reports"
)

func newAnalyzeCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analyze",
		Short: "Analyze a results directory again, without re-running anything",
	}
	cmd.AddCommand(newAnalyzeDivergenceCmd(o))
	return cmd
}

func newAnalyzeDivergenceCmd(o *options) *cobra.Command {
	var opts analyze.DivergenceOptions
	var kind string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "divergence DIR",
		Short: "Report how candidates' outputs diverge from the primary's in a shadow run",
		Long: `Read the pair store (pairs.ndjson.gz) of a shadow run and report, for each
candidate against the primary and noise-corrected by the primary-vs-secondary
baseline: exact-match rate and edit distances of text, label flips and the
flip matrix of classifiers, score differences and drift (PSI, KS,
Jensen–Shannon, Wasserstein), top-k overlap, per-field JSON differences that
clearly exceed their noise, error categories, latency side by side, all
broken down by segment, with the worst examples. Writes divergence.json.`,
		Example: `  gonogo analyze divergence results/shadow
  gonogo analyze divergence results/shadow --segments region,user --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Kind = analyze.OutputKind(kind)
			if err := opts.Validate(); err != nil {
				return usageError("%v", err)
			}
			return writeDivergence(o, args[0], opts, asJSON)
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&opts.Segments, "segments", nil, "tag keys to break down by (besides input length)")
	fs.StringVar(&kind, "kind", "auto", "output kind: auto, text, classification, scores, ranking, json (auto decides per endpoint; use text for LLM answers)")
	fs.IntVar(&opts.Worst, "worst", 0, "worst examples to keep per category (default 5)")
	fs.BoolVar(&opts.JSONOutput, "json-output", false, "text outputs are meant to be JSON: report the JSON-validity rate")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of text")
	return cmd
}

// writeDivergence analyzes dir's pair store, writes divergence.json there
// and prints the report.
func writeDivergence(o *options, dir string, opts analyze.DivergenceOptions, asJSON bool) error {
	f, err := os.Open(filepath.Join(dir, replay.PairsFile))
	if errors.Is(err, os.ErrNotExist) {
		return usageError("%s: no %s: not a shadow run's results directory", dir, replay.PairsFile)
	} else if err != nil {
		return err
	}
	defer f.Close()
	d := analyze.NewDivergence(opts)
	if err := replay.ReadPairs(f, func(p *gonogo.Pair) error { d.Add(p); return nil }); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", filepath.Join(dir, replay.PairsFile), err)}
	}
	rep := d.Report()
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, reports.DivergenceFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if asJSON {
		_, err = o.Out.Write(append(b, '\n'))
		return err
	}
	if err := rep.WriteText(o.Out); err != nil {
		return err
	}
	_, err = io.WriteString(o.Out, fmt.Sprintf("\ndivergence: %s\n", filepath.Join(dir, reports.DivergenceFile)))
	return err
}
