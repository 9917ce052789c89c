package reports

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
)

// textMetrics are the time metrics of the text summary, in order.
var textMetrics = []string{
	analyze.MetricLatency, analyze.MetricLatencyService, analyze.MetricSchedulingLag,
	analyze.MetricTTFT, analyze.MetricTTST, analyze.MetricTPOT, analyze.MetricChunkGap, analyze.MetricE2E,
	analyze.MetricLatencyFailed,
}

// textCountMetrics are the metrics of the text summary that are not times,
// in order, with their decimals.
var textCountMetrics = []struct {
	name, label string
	prec        int
}{
	{analyze.MetricTokensPerSecPerUser, "tokens/s per user", 1},
	{analyze.MetricInputTokens, "input_tokens", 0},
	{analyze.MetricOutputTokens, "output_tokens", 0},
}

// Warning levels of the text summary.
const (
	// warnDroppedShare warns when at least this share of arrivals was never
	// sent.
	warnDroppedShare = 0.01
	// maxErrorLines bounds the failure messages shown per group.
	maxErrorLines = 5
)

// WriteText writes a compact human summary of run: a table per scenario
// (and the overall one when there are several), a table per tag key with
// a row per value (the "By tag" section), the slowest requests with
// their trace ids when run.json has them, then the thresholds. A
// partial run (killed, interrupted, aborted) says so under its headline.
func WriteText(w io.Writer, run *Run) error {
	ew := &errWriter{w: w}
	head := "run " + run.ID
	if run.Protocol != "" || run.Target != "" {
		head += " · " + strings.TrimSpace(run.Protocol+" "+run.Target)
	}
	head += fmt.Sprintf(" · %ss", fmtNum(run.DurationS, 1))
	ew.printf("%s\n", head)
	switch note := partialNote(run); {
	case note != "":
		ew.printf("PARTIAL RUN: %s; the results cover only what was measured before it ended, and are not a pass\n", note)
	case run.Aborted:
		ew.printf("ABORTED: %s\n", run.AbortReason)
	}
	names := make([]string, 0, len(run.Scenarios))
	for n := range run.Scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sc := run.Scenarios[n]
		title := "scenario " + n
		if sc.Executor != "" {
			title += " (" + sc.Executor + ")"
		}
		writeStats(ew, title, &sc.Stats, percentilesOf(run))
		if t := sc.Traffic; t != nil {
			ew.printf("  replayed %s (%s)", t.Trace, t.Replay)
			if t.Skipped > 0 {
				ew.printf(" · %d malformed rows skipped", t.Skipped)
				if len(t.FirstSkipped) > 0 {
					ew.printf(", first: %s", t.FirstSkipped[0])
				}
			}
			ew.printf("\n")
			if t.Error != "" {
				ew.printf("  replay stopped early: %s\n", t.Error)
			}
		}
		if sc.RequestsRSE > 0.1 {
			ew.printf("  note: a run this short of bursty arrivals sends ±%.0f %% of the %.0f requests expected: it says little about the trace's long-run rate\n",
				100*sc.RequestsRSE, sc.ExpectedRequests)
		}
	}
	if len(names) != 1 {
		writeStats(ew, "overall", &run.Overall, percentilesOf(run))
	}
	writeByTagText(ew, newByTagSection(run.Tags, run.TagOverflow, percentilesOf(run)))
	writeCapacity(ew, run.Capacity)
	writeWarnings(ew, &run.Overall)
	writeSlowestText(ew, newSlowestTable(run.Slowest, ""))
	if len(run.Thresholds) > 0 {
		ew.printf("\nthresholds\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, t := range run.Thresholds {
			mark, obs := "✓", fmtNum(t.Observed, 3)
			if !t.Pass {
				mark = "✗"
			}
			if t.NoData {
				obs = "no data"
			}
			extra := ""
			switch {
			case t.AbortOnFail:
				extra = "\tabortOnFail"
			case t.Default:
				extra = "\tdefault (the workload sets none)"
			}
			fmt.Fprintf(tw, "  %s %s\t%s\t%s%s\n", mark, t.Metric, t.Expr, obs, extra)
		}
		_ = tw.Flush()
	}
	return ew.err
}

func writeStats(ew *errWriter, title string, st *analyze.Stats, pcts []float64) {
	rq := st.Requests
	ew.printf("\n%s\n", title)
	failed := fmt.Sprintf("failed %d", rq.FailedTotal())
	var parts []string
	for _, c := range gonogo.ErrorClasses {
		if n := rq.Failed[string(c)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, n))
		}
	}
	if len(parts) > 0 {
		failed += " (" + strings.Join(parts, ", ") + ")"
	}
	ew.printf("  requests %d · ok %d · %s · dropped %d · queued %d\n", rq.Total, rq.OK, failed, rq.Dropped, rq.Queued)
	rate := "  rate "
	if st.Rate.TargetPerSec > 0 {
		rate += "target " + fmtNum(st.Rate.TargetPerSec, 1) + "/s · "
	}
	rate += "achieved " + fmtNum(st.Rate.AchievedPerSec, 1) + "/s"
	ew.printf("%s\n", rate)
	tput := fmt.Sprintf("  throughput sent %s/s · completed %s/s", fmtNum(st.Rate.SentPerSec, 1), fmtNum(st.Rate.CompletedPerSec, 1))
	if st.TokensPerSec != nil {
		tput += " · " + fmtNum(*st.TokensPerSec, 1) + " tokens/s"
	}
	ew.printf("%s (per second of %ss)\n", tput, fmtNum(st.ActiveS, 1))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "  ms"
	for _, p := range pcts {
		head += "\t" + pctHeader(p)
	}
	fmt.Fprintf(tw, "%s\tmax\t\n", head)
	row := func(metric, label string, ms *analyze.MetricStats, prec int) {
		line := "  " + label
		for _, p := range pcts {
			line += "\t" + pctCell(st, metric, p, prec)
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", line, fmtNum(ms.Max, prec))
	}
	for _, m := range textMetrics {
		if ms := st.Metric(m); ms != nil {
			row(m, m, ms, 2)
		}
	}
	for _, m := range textCountMetrics {
		if ms := st.Metric(m.name); ms != nil {
			row(m.name, m.label, ms, m.prec)
		}
	}
	_ = tw.Flush()
	writeGoodput(ew, st)
	writePromptTokens(ew, st)
	writeChecks(ew, st)
	for i, e := range st.Errors {
		if i == maxErrorLines {
			ew.printf("  … %d more failure messages in run.json\n", len(st.Errors)-i)
			break
		}
		ew.printf("  %s ×%d: %s\n", e.Class, e.Count, e.Message)
	}
}

// writeChecks lists the group's response checks: passes, failures and the
// share that passed, as k6 prints them. A check failure is not a failed
// request: the requests line above does not count it.
func writeChecks(ew *errWriter, st *analyze.Stats) {
	if len(st.Checks) == 0 {
		return
	}
	names := make([]string, 0, len(st.Checks))
	for n := range st.Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  checks\tpassed\tfailed\t\n")
	for _, n := range names {
		c := st.Checks[n]
		mark, share := "✓", "not judged"
		if c.Failed > 0 {
			mark = "✗"
		}
		if c.Total() > 0 {
			share = fmtNum(100*c.Rate(), 2) + " %"
		}
		fmt.Fprintf(tw, "  %s %s\t%d\t%d\t%s\n", mark, n, c.Passed, c.Failed, share)
	}
	_ = tw.Flush()
}

// writeCapacity says where a ramping run's service broke.
func writeCapacity(ew *errWriter, c *analyze.Capacity) {
	if c == nil {
		return
	}
	ew.printf("\ncapacity (%s windows)\n", c.Window)
	if c.At != nil {
		ew.printf("  held %s req/s with every threshold met (+%gs–+%gs)\n", fmtNum(c.HeldPerSec, 1), c.At.StartS, c.At.EndS)
	} else {
		ew.printf("  no window met every threshold\n")
	}
	if c.BrokeAt != nil {
		ew.printf("  broke at +%gs–+%gs: %s\n", c.BrokeAt.StartS, c.BrokeAt.EndS, c.Broke)
	} else if c.At != nil {
		ew.printf("  never broke: the ramp did not reach the service's limit\n")
	}
	if c.KneePerSec > 0 {
		ew.printf("  knee %s req/s: the highest rate with p99 latency within 2× its lowest (%s ms)\n", fmtNum(c.KneePerSec, 1), fmtNum(c.BaseP99Ms, 1))
	}
}

// writeWarnings warns about what makes a run's figures doubtful: arrivals
// that were never sent, a run where every request failed.
func writeWarnings(ew *errWriter, st *analyze.Stats) {
	rq := st.Requests
	if n := rq.Total + rq.Dropped; n > 0 && float64(rq.Dropped)/float64(n) >= warnDroppedShare {
		ew.printf("\nwarning: %.1f %% of arrivals were dropped (%d of %d): the generator reached its VU cap (maxVUs) or fell behind, so the service saw less load than planned\n",
			100*float64(rq.Dropped)/float64(n), rq.Dropped, n)
	}
	if rq.Total > 0 && rq.OK == 0 {
		ew.printf("\nwarning: every request failed: latency percentiles are those of successful requests, so there are none; see latency_failed and the failure messages\n")
	}
}

func fmtNum(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }
