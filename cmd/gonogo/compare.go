package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

func newCompareCmd(o *options) *cobra.Command {
	var jsonPath string
	var alpha float64
	var minRequests int
	cmd := &cobra.Command{
		Use:   "compare A B",
		Short: "Compare two runs side by side, with statistical tests, without a gates file",
		Long: `Compare run B with run A (two results directories: gonogo runs, or k6 and
vegeta imports): per latency metric both have, the median (Mann–Whitney U
with Cliff's delta) and p(99) (the share of B's requests beyond A's p(99),
two-proportion test); the error rate (two-proportion test); the achieved
rate and tokens/s (ratios, no test). These are the tests of relative gates
(docs/gates.md), in either direction: a change is "significant" when its
test confirms it at --alpha. No verdict: exit 0 whatever changed, 2 for a
directory that is not a run. For a go / no-go, write the gates you mean and
use gonogo verdict --baseline A B.`,
		Example: `  gonogo compare results/v1 results/v2
  gonogo compare results/k6-nightly results/nightly --json compare.json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError("give two run directories: gonogo compare A B")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !(alpha > 0 && alpha < 0.5) {
				return usageError("--alpha: want a level in (0, 0.5) (got %g)", alpha)
			}
			if minRequests < 0 {
				return usageError("--min-requests: want ≥ 0 (got %d)", minRequests)
			}
			runA, a, err := loadRunDir(args[0])
			if err != nil {
				return err
			}
			runB, b, err := loadRunDir(args[1])
			if err != nil {
				return err
			}
			warnBaseline(o, runB, runA)
			c, err := analyze.Compare(a, b, alpha, minRequests)
			if err != nil {
				return err
			}
			printComparison(o, c)
			if jsonPath != "" {
				out, err := json.MarshalIndent(c, "", "  ")
				if err == nil {
					err = os.WriteFile(jsonPath, append(out, '\n'), 0o644)
				}
				if err != nil {
					return fmt.Errorf("--json: %w", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&jsonPath, "json", "", "also write the comparison as JSON to this file")
	cmd.Flags().Float64Var(&alpha, "alpha", analyze.DefaultAlpha, "significance level of the tests")
	cmd.Flags().IntVar(&minRequests, "min-requests", 0, "requests each run needs for a test (default: the gates' default)")
	return cmd
}

// printComparison writes the comparison as a table, then what the
// significant changes are.
func printComparison(o *options, c *analyze.Comparison) {
	fmt.Fprintf(o.Out, "A %s\nB %s\n\n", c.A, c.B)
	tw := tabwriter.NewWriter(o.Out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tstat\tA\tB\tchange\tp\t\t")
	for _, r := range c.Rows {
		change, p, mark := "–", "–", ""
		if r.ChangePct != nil {
			change = fmt.Sprintf("%+.1f %%", *r.ChangePct)
		}
		if r.Metric == analyze.MetricErrors {
			change = fmt.Sprintf("%+.2f pp", 100*(r.B-r.A))
		}
		if r.PValue != nil {
			p = numfmt.PValue(*r.PValue)
		}
		if r.Significant {
			mark = "significant"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Metric, r.Stat, numfmt.Unit(r.A, r.Unit), numfmt.Unit(r.B, r.Unit), change, p, mark)
	}
	tw.Flush()
	fmt.Fprintf(o.Out, "\nsignificant: the test confirms the change at α = %g\n", c.Alpha)
	for _, r := range c.Rows {
		if r.Significant {
			fmt.Fprintf(o.Out, "  %s %s: %s\n", r.Metric, r.Stat, r.Note)
		}
	}
}
