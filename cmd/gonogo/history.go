package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
	"github.com/gonogo-dev/gonogo/rundir"
)

func newHistoryCmd(o *options) *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List past runs, follow a percentile's or a sweep's knee trend, backfill the run history",
		Long: `The run history is a SQLite database where gonogo load and gonogo
verdict record each run: its run.json, labels, histograms and verdict, and
gonogo sweep each complete sweep: its sweep.json and its knee. It is
$GONOGO_HISTORY when set (set and empty: no history), else
$XDG_STATE_HOME/gonogo/history.db, else ~/.local/state/gonogo/history.db,
whatever the current directory. It outlives the run directories, so the
latest go run can serve as the baseline of a verdict (--baseline last-go).`,
		Example: `  gonogo history list --scenario stress --label version=v2
  gonogo history trend --scenario stress --quantile 99 --last 30
  gonogo history sweeps --label job=nightly --last 30
  gonogo history record results/nightly-*`,
	}
	cmd.PersistentFlags().StringVar(&dbPath, "db", defaultHistory, "run history database")
	cmd.AddCommand(newHistoryListCmd(o, &dbPath), newHistoryTrendCmd(o, &dbPath), newHistorySweepsCmd(o, &dbPath), newHistoryRecordCmd(o, &dbPath))
	return cmd
}

// historyFilterFlags select runs of the history.
type historyFilterFlags struct {
	scenario, target string
	labels           []string
}

func (h *historyFilterFlags) register(flags *pflag.FlagSet, scenarioUsage string) {
	flags.StringVar(&h.scenario, "scenario", "", scenarioUsage)
	flags.StringVar(&h.target, "target", "", "only runs against this target URL")
	flags.StringArrayVar(&h.labels, "label", nil, "only runs with label KEY=VALUE, e.g. version=v2 (repeatable)")
}

func (h *historyFilterFlags) filter() (history.Filter, error) {
	labels, err := parseLabels("--label", h.labels)
	return history.Filter{Scenario: h.scenario, Target: h.target, Labels: labels}, err
}

// openExistingHistory opens the history at path; a missing file is bad
// usage, not a new empty history.
func openExistingHistory(path string) (*history.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, usageError("no history at %s (runs are recorded by gonogo load/verdict; or gonogo history record DIR)", path)
	}
	return history.Open(path)
}

func newHistoryListCmd(o *options, dbPath *string) *cobra.Command {
	var (
		ff      historyFilterFlags
		verdict string
		limit   int
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List recorded runs, newest first",
		Long: `List recorded runs, newest first: id, start time, scenarios, labels,
requests, error rate, overall p99 latency, verdict and score. Filters
combine: a run is listed when it matches all of them.`,
		Example: `  gonogo history list
  gonogo history list --scenario stress --label version=v2 --limit 5
  gonogo history list --verdict go --json --db ci/history.db`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			f, err := ff.filter()
			if err != nil {
				return err
			}
			switch d := analyze.Decision(verdict); d {
			case "", analyze.Go, analyze.NoGo, analyze.Inconclusive:
				f.Verdict = d
			default:
				return usageError("--verdict %q: want go, no-go or inconclusive", verdict)
			}
			if limit < 0 {
				return usageError("--limit %d: want 0 (all) or more", limit)
			}
			f.Limit = limit
			db, err := openExistingHistory(*dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			entries, err := db.List(f)
			if err != nil {
				return err
			}
			if asJSON {
				return histJSON(o.Out, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintf(o.Out, "no recorded run matches (%s)\n", *dbPath)
				return nil
			}
			return writeHistoryList(o.Out, entries)
		},
	}
	flags := cmd.Flags()
	ff.register(flags, "only runs of this scenario")
	flags.StringVar(&verdict, "verdict", "", "only runs judged go, no-go or inconclusive")
	flags.IntVar(&limit, "limit", 20, "list at most this many runs (0: all)")
	flags.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// historyTimeLayout shows start times in the local time zone.
const historyTimeLayout = "2006-01-02 15:04"

func writeHistoryList(w io.Writer, entries []history.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tSCENARIOS\tLABELS\tREQUESTS\tERR%\tP99 MS\tVERDICT\tSCORE")
	for _, e := range entries {
		verdict, score := "-", "-"
		if e.Verdict != "" {
			verdict, score = string(e.Verdict), histNum(e.Score)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.2f\t%s\t%s\t%s\n",
			e.ID, e.Started.Local().Format(historyTimeLayout), strings.Join(e.Scenarios, ","),
			histLabels(e.Labels), e.Requests, 100*e.ErrorRate, histNum(e.P99Ms), verdict, score)
	}
	return tw.Flush()
}

func newHistoryTrendCmd(o *options, dbPath *string) *cobra.Command {
	var (
		ff          historyFilterFlags
		metric      string
		quantilePct float64
		last        int
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "trend",
		Short: "Show a scenario's percentile over the last runs and flag regressions",
		Long: `Show a percentile of one metric of a scenario over its last recorded runs,
oldest first, with a sparkline, from the runs' stored histograms.

A run is flagged as a regression when its value exceeds the median of the
up to --last runs before it by more than the larger of 10 % of that median
and 3 median absolute deviations: the 10 % floor keeps a steady history
from flagging noise, the deviation term lets a noisy one wobble. Runs with
fewer than three runs before them are not judged.

Metrics, in milliseconds but output_tokens in tokens:
` + strings.Join(analyze.Metrics, ", ") + `.`,
		Example: `  gonogo history trend --scenario stress
  gonogo history trend --scenario chat --metric ttft --quantile 90 --last 30
  gonogo history trend --scenario chat --label model=llama --json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if ff.scenario == "" {
				return usageError("history trend: --scenario is required")
			}
			f, err := ff.filter()
			if err != nil {
				return err
			}
			if !slices.Contains(analyze.Metrics, metric) {
				return usageError("--metric %q: want one of %s", metric, strings.Join(analyze.Metrics, ", "))
			}
			if !(quantilePct > 0 && quantilePct <= 100) {
				return usageError("--quantile %v: want a percentile above 0 and at most 100, e.g. 99 or 99.9", quantilePct)
			}
			if last <= 0 {
				return usageError("--last %d: want 1 or more runs", last)
			}
			db, err := openExistingHistory(*dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			points, err := db.Trend(f, analyze.ScenarioGroup(ff.scenario), metric, quantilePct, last)
			if err != nil {
				return err
			}
			unit := "ms"
			if metric == analyze.MetricOutputTokens {
				unit = "tokens"
			}
			if asJSON {
				if points == nil {
					points = []history.TrendPoint{}
				}
				return histJSON(o.Out, struct {
					Scenario    string               `json:"scenario"`
					Metric      string               `json:"metric"`
					QuantilePct float64              `json:"quantile_pct"`
					Unit        string               `json:"unit"`
					Points      []history.TrendPoint `json:"points"`
				}{ff.scenario, metric, quantilePct, unit, points})
			}
			q := "p" + strconv.FormatFloat(quantilePct, 'f', -1, 64)
			if len(points) == 0 {
				fmt.Fprintf(o.Out, "no recorded run of scenario %s has %s (%s)\n", ff.scenario, metric, *dbPath)
				return nil
			}
			return writeTrend(o.Out, points, ff.scenario, metric, q, unit)
		},
	}
	flags := cmd.Flags()
	ff.register(flags, "the scenario to follow (required)")
	flags.StringVar(&metric, "metric", analyze.MetricLatency, "metric: "+strings.Join(analyze.Metrics, ", "))
	flags.Float64Var(&quantilePct, "quantile", 99, "percentile, 0–100 (99.9 for p99.9)")
	flags.IntVar(&last, "last", 14, "number of runs")
	flags.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// writeTrend prints a trend: a heading, a sparkline, and one row per run
// with its regression mark.
func writeTrend(w io.Writer, points []history.TrendPoint, scenario, metric, q, unit string) error {
	vals := make([]float64, len(points))
	for i, p := range points {
		vals[i] = p.Value
	}
	fmt.Fprintf(w, "%s %s of scenario %s, last %d runs (%s)\n", q, metric, scenario, len(points), unit)
	fmt.Fprintf(w, "%s %s\n\n", sparkline(vals), unit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tSTARTED\tLABELS\tVERDICT\t%s %s\n", strings.ToUpper(q), strings.ToUpper(unit))
	for _, p := range points {
		verdict := string(p.Verdict)
		if verdict == "" {
			verdict = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", p.ID, p.Started.Local().Format(historyTimeLayout),
			histLabels(p.Labels), verdict, histNum(p.Value))
		if p.Regression {
			fmt.Fprintf(tw, "\t▲ regression: %s %s %s vs median %s %s", q, histNum(p.Value), unit, histNum(p.Median), unit)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// sparkBars are the sparkline's eight heights.
var sparkBars = []rune("▁▂▃▄▅▆▇█")

// sparkline draws vals between their lowest and highest, one bar each,
// followed by the range: "▁▃█  12 … 48".
func sparkline(vals []float64) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		lo, hi = min(lo, v), max(hi, v)
	}
	var b strings.Builder
	for _, v := range vals {
		i := 0
		if hi > lo {
			i = int(math.Round((v - lo) / (hi - lo) * float64(len(sparkBars)-1)))
		}
		b.WriteRune(sparkBars[i])
	}
	fmt.Fprintf(&b, "  %s … %s", histNum(lo), histNum(hi))
	return b.String()
}

func newHistoryRecordCmd(o *options, dbPath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "record DIR...",
		Short: "Add existing run and sweep directories, with their verdicts, to the history",
		Long: `Add run directories to the run history: run.json, the cumulative histograms
of latency.hlog, and verdict.json when the directory has one. A run already
recorded is replaced (keeping its verdict when the directory has none), so
recording twice is harmless. A sweep directory (sweep.json) is recorded as
one sweep, with its knee; its stages are not recorded as runs. The
database is created when missing.`,
		Example: `  gonogo history record results/nightly-2026-03-01 results/nightly-2026-03-02
  gonogo history record --db ci/history.db results/nightly-*`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, dirs []string) error {
			db, err := history.Open(*dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			for _, dir := range dirs {
				record := recordRunDir
				if rundir.Dir(dir).Exists(rundir.Sweep) {
					record = recordSweepDir
				}
				if err := record(o, db, dir); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// recordRunDir records one run directory and its verdict.json, if any.
func recordRunDir(o *options, db *history.DB, dir string) error {
	run, data, err := reports.LoadRun(dir)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if data.Dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	v, err := readVerdictFile(dir, run.ID)
	if err != nil {
		return err
	}
	if err := db.Record(run, data); err != nil {
		return err
	}
	if v == nil {
		fmt.Fprintf(o.Out, "recorded %s (%s), not judged\n", data.ID, dir)
		return nil
	}
	if err := db.SetVerdict(data.ID, v); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "recorded %s (%s), verdict %s, score %s\n", data.ID, dir, v.Verdict, histNum(v.Score))
	return nil
}

// readVerdictFile reads dir/verdict.json: nil when there is none, a usage
// error naming the file when it is not a verdict or judges another run
// than runID (a stale verdict in a reused directory).
func readVerdictFile(dir, runID string) (*analyze.Verdict, error) {
	path := filepath.Join(dir, rundir.Verdict)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var v analyze.Verdict
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, usageError("%s: %v", path, err)
	}
	switch v.Verdict {
	case analyze.Go, analyze.NoGo, analyze.Inconclusive:
	default:
		return nil, usageError("%s: verdict %q: want go, no-go or inconclusive", path, v.Verdict)
	}
	if v.Run != runID {
		return nil, usageError("%s judges run %s, but %s holds run %s: judge it again (gonogo verdict)", path, v.Run, dir, runID)
	}
	return &v, nil
}

// histLabels writes labels as k=v pairs in key order, "-" for none.
func histLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// histNum writes v with three significant digits at most, and at least
// its integer part: 48, 30.5, 1.25, 1234.
func histNum(v float64) string {
	decimals := 0
	switch a := math.Abs(v); {
	case a < 10:
		decimals = 2
	case a < 100:
		decimals = 1
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// histJSON writes v as indented JSON.
func histJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
