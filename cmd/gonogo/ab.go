package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rollout"
	outcomefile "github.com/gonogo-dev/gonogo/rollout/outcome"
	"github.com/gonogo-dev/gonogo/store"
)

func newABCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ab",
		Short: "A/B experiments on real outcomes: plan, import outcomes, report",
		Long: `A/B experiments on the users a rollout routes: plan how long to run
(power and sample size), send outcomes live (POST /v1/outcomes on the
admin API) or import them from files, and report the lift per metric
with sequential confidence intervals, SRM, segments and novelty.
See docs/ab.md.`,
	}
	cmd.AddCommand(newABPlanCmd(o), newABImportCmd(o), newABReportCmd(o))
	return cmd
}

func newABPlanCmd(o *options) *cobra.Command {
	var p abtest.Plan
	var kind, mde string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan --baseline-rate R --mde 3% --users-per-hour N",
		Short: "How many users and how long an experiment needs for its power",
		Long: `Plan an experiment: the users each variant needs for a two-sided test at
--alpha to detect a relative change of --mde with --power, and how long
that takes at --users-per-hour (all variants together, --treatment-share
of them in the treatment). A binomial metric (conversion) takes
--baseline-rate; a continuous one (--kind continuous) --mean and --sd.
With --sequential, also the (larger) sample at which the always-valid
confidence sequence has that power, for an experiment looked at all along.`,
		Example: `  gonogo ab plan --baseline-rate 0.05 --mde 3% --users-per-hour 2000
  gonogo ab plan --kind continuous --mean 12.5 --sd 30 --mde 2% --users-per-hour 500 --sequential`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := parseKind(kind)
			if err != nil {
				return err
			}
			p.Kind = k
			if p.MDE, err = parseRelative(mde); err != nil {
				return usageError("--mde: %v", err)
			}
			res, err := abtest.PlanSample(p)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(o.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			printPlan(o.Out, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "binomial", "metric kind: binomial (a rate) or continuous (a mean)")
	f.Float64Var(&p.BaselineRate, "baseline-rate", 0, "the control's rate (binomial), in (0, 1)")
	f.Float64Var(&p.Mean, "mean", 0, "the control's mean (continuous)")
	f.Float64Var(&p.SD, "sd", 0, "the standard deviation per user (continuous)")
	f.StringVar(&mde, "mde", "", "the minimum detectable effect, relative: 3% or 0.03 (required)")
	f.Float64Var(&p.Alpha, "alpha", 0, "two-sided significance level (default 0.05)")
	f.Float64Var(&p.Power, "power", 0, "power (default 0.8)")
	f.Float64Var(&p.TreatmentShare, "treatment-share", 0, "the treatment's share of the users (default 0.5)")
	f.Float64Var(&p.UsersPerHour, "users-per-hour", 0, "new users per hour, all variants together (required)")
	f.BoolVar(&p.Sequential, "sequential", false, "also plan for sequential testing (looking all along)")
	f.Float64Var(&p.Tuning, "tuning", 0, "the sequential test's tuning, in users (default 5000)")
	f.BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

// parseKind reads --kind.
func parseKind(s string) (abtest.Kind, error) {
	switch strings.ToLower(s) {
	case "binomial", "rate", "conversion":
		return abtest.Binomial, nil
	case "continuous", "mean":
		return abtest.Continuous, nil
	}
	return "", usageError("--kind %q: want binomial or continuous", s)
}

// parseRelative reads a relative change: "3%", "-5%" or "0.03".
func parseRelative(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("required (a relative change such as 3%%)")
	}
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or a percentage", s)
	}
	if pct {
		v /= 100
	}
	return v, nil
}

func printPlan(w io.Writer, r *abtest.PlanResult) {
	p := r.Plan
	what := fmt.Sprintf("rate %.4g → %.4g", r.ControlMean, r.TreatmentMean)
	if p.Kind == abtest.Continuous {
		what = fmt.Sprintf("mean %.4g → %.4g (sd %.4g)", r.ControlMean, r.TreatmentMean, p.SD)
	}
	fmt.Fprintf(w, "plan: %s metric, %s (%+.3g %% relative), alpha %g two-sided, power %g, treatment share %g, %g users/hour\n",
		p.Kind, what, 100*p.MDE, p.Alpha, p.Power, p.TreatmentShare, p.UsersPerHour)
	row := func(name string, s abtest.Sample) {
		fmt.Fprintf(w, "  %-10s %12d users (control %d, treatment %d) · %s\n", name, s.TotalUsers, s.ControlUsers, s.TreatmentUsers, humanHours(s.Hours))
	}
	row("fixed", r.Fixed)
	if r.Sequential != nil {
		row("sequential", *r.Sequential)
	}
	if r.Note != "" {
		fmt.Fprintf(w, "note: %s\n", r.Note)
	}
}

// humanHours writes a duration in hours as hours, or days beyond two.
func humanHours(h float64) string {
	if h >= 48 {
		return fmt.Sprintf("%.1f days", h/24)
	}
	return fmt.Sprintf("%.1f hours", h)
}

func newABImportCmd(o *options) *cobra.Command {
	var rolloutName, storePath string
	cmd := &cobra.Command{
		Use:   "import FILE... --rollout NAME",
		Short: "Import outcomes (NDJSON or CSV) into a rollout's experiment",
		Long: `Import outcome files — delayed labels, a warehouse export — into the
experiment of a rollout: NDJSON (one {"id","user","metric","value","time"}
per line) or CSV with a header row (.csv). Each outcome is joined to its
user's first exposure and counted only after it; outcomes of unknown users,
before the exposure (kept as the pre-period values of CUPED), of users
whose assignment changed, and duplicates (by event id, or for an event
without one by its content and time: importing a file twice changes
nothing) are counted apart.

A bad line is one error naming file, line and field (exit 2); a file is
checked whole before any of it is stored.`,
		Example: `  gonogo ab import outcomes.ndjson --rollout canary-2026-12
  gonogo ab import labels.csv more.ndjson --rollout canary-2026-12 --store /var/lib/gonogo/rollouts.db`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if rolloutName == "" {
				return usageError("--rollout is required")
			}
			ctx := cmd.Context()
			db, err := store.Open(storePath)
			if err != nil {
				return err
			}
			defer db.Close()
			setup, err := rollout.StoredABSetup(ctx, db, rolloutName)
			if err != nil {
				return err
			}
			var total store.OutcomeCounts
			for _, path := range files {
				f, err := os.Open(path)
				if err != nil {
					return usageError("%s: %v", path, err)
				}
				var counts store.OutcomeCounts
				n, err := outcomefile.Import(ctx, f, path, outcomefile.ImportOptions{}, func(ctx context.Context, evs []outcomefile.Event) error {
					batch := make([]store.Outcome, len(evs))
					for i, e := range evs {
						batch[i] = store.Outcome{ID: e.ID, User: e.User, Metric: e.Metric, Value: e.Value, Time: e.Time}
					}
					c, err := db.RecordOutcomes(ctx, setup.Spec.Name, batch)
					counts.Add(c)
					return err
				})
				f.Close()
				total.Add(counts)
				if err != nil {
					return err
				}
				fmt.Fprintf(o.Out, "%s: %d outcomes: %s\n", path, n, countsText(counts))
			}
			if len(files) > 1 {
				fmt.Fprintf(o.Out, "all: %s\n", countsText(total))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rolloutName, "rollout", "", "the rollout whose experiment the outcomes belong to (required)")
	cmd.Flags().StringVar(&storePath, "store", defaultStore(), "the rollout store (SQLite)")
	return cmd
}

// countsText says what became of imported outcomes.
func countsText(c store.OutcomeCounts) string {
	return fmt.Sprintf("%d counted, %d of unknown users, %d before the exposure, %d of reassigned users, %d duplicates",
		c.Counted, c.UnknownUser, c.BeforeExposure, c.Contaminated, c.Duplicate)
}

func newABReportCmd(o *options) *cobra.Command {
	var storePath, htmlPath, jsonPath string
	cmd := &cobra.Command{
		Use:   "report ROLLOUT",
		Short: "Report a rollout's experiment: lift per metric, SRM, segments, novelty",
		Long: `Report the experiment of a rollout from its store: per metric the lift of
the canary over the stable version with its confidence interval
(sequential, valid at any look, unless the experiment says otherwise),
goal and guardrail decisions corrected for multiplicity, the sample-ratio
check, the effect over time, by segment and by exposure cohort (novelty).

Exit codes: 0 ship (better or equal), 3 worse or an invalid split (SRM),
4 not yet decided, 2 bad input, 1 runtime error.`,
		Example: `  gonogo ab report canary-2026-12 --html ab.html --json ab.json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := store.Open(storePath)
			if err != nil {
				return err
			}
			defer db.Close()
			setup, err := rollout.StoredABSetup(ctx, db, args[0])
			if err != nil {
				return err
			}
			ex, err := db.Experiment(ctx, setup.Spec.Name)
			if err != nil {
				return usageError("rollout %s: %v", args[0], err)
			}
			r, err := rollout.BuildABReport(ctx, db, setup.Spec, setup.Control, setup.Treatment, setup.Split, ex.Created, time.Now(), true)
			if err != nil {
				return err
			}
			printReadout(o.Out, r)
			if jsonPath != "" {
				if err := writeFileWith(jsonPath, func(w io.Writer) error {
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(r)
				}); err != nil {
					return err
				}
			}
			if htmlPath != "" {
				if err := writeFileWith(htmlPath, func(w io.Writer) error { return reports.ABHTML(w, r) }); err != nil {
					return err
				}
			}
			switch r.Verdict {
			case abtest.Ship:
				return nil
			case abtest.NotYetDecided:
				return &exitError{code: exitInconclusive, err: fmt.Errorf("experiment %s: not yet decided", r.Experiment)}
			}
			return &exitError{code: exitNoGo, err: fmt.Errorf("experiment %s: %s", r.Experiment, r.Verdict)}
		},
	}
	cmd.Flags().StringVar(&storePath, "store", defaultStore(), "the rollout store (SQLite)")
	cmd.Flags().StringVar(&htmlPath, "html", "", "write the report as self-contained HTML")
	cmd.Flags().StringVar(&jsonPath, "json", "", "write the report as JSON")
	return cmd
}

// printReadout prints an experiment's readout for a terminal.
func printReadout(w io.Writer, r *abtest.Readout) {
	fmt.Fprintf(w, "experiment %s: %s vs %s (control) at %g %%: %s\n", r.Experiment, r.Treatment, r.Control, r.Split, r.Verdict)
	for _, s := range r.Reasons {
		fmt.Fprintf(w, "  %s\n", s)
	}
	for _, u := range r.Users {
		fmt.Fprintf(w, "  users %-12s exposed %d · analysed %d · reassigned %d · joined under another split %d\n",
			u.Variant, u.Exposed, u.Analysed, u.Contaminated, u.OtherSplit)
	}
	c := r.Outcomes
	fmt.Fprintf(w, "  outcomes %d counted, %d of unknown users, %d before the exposure, %d of reassigned users, %d duplicates\n",
		c.Counted, c.UnknownUser, c.BeforeExposure, c.Contaminated, c.Duplicate)
	if r.Stats == nil {
		return
	}
	if s := r.Stats.SRM; s != nil {
		fmt.Fprintf(w, "  SRM chi-square p = %.3g (mismatch below %g): %v\n", s.PValue, s.Alpha, map[bool]string{true: "MISMATCH", false: "ok"}[s.Mismatch])
	}
	for _, m := range r.Stats.Metrics {
		fmt.Fprintf(w, "  %-10s %-9s %-13s %s\n", m.Metric, m.Role, m.Status, m.Reason)
	}
}
