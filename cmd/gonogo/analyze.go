package main

import (
	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/runner"
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
	var opts divergence.Options
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
			opts.Kind = divergence.OutputKind(kind)
			if err := opts.Validate(); err != nil {
				return usageError("%v", err)
			}
			return runner.WriteDivergence(rundir.Dir(args[0]), opts, o.Out, asJSON)
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
