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
	analyze.MetricTTFT, analyze.MetricTPOT, analyze.MetricChunkGap, analyze.MetricE2E,
}

// WriteText writes a compact human summary of run: a table per scenario
// (and the overall one when there are several), then the thresholds.
func WriteText(w io.Writer, run *Run) error {
	ew := &errWriter{w: w}
	head := "run " + run.ID
	if run.Protocol != "" || run.Target != "" {
		head += " · " + strings.TrimSpace(run.Protocol+" "+run.Target)
	}
	head += fmt.Sprintf(" · %ss", fmtNum(run.DurationS, 1))
	ew.printf("%s\n", head)
	if run.Aborted {
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
		writeStats(ew, title, &sc.Stats)
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
	}
	if len(names) != 1 {
		writeStats(ew, "overall", &run.Overall)
	}
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
			if t.AbortOnFail {
				extra = "\tabortOnFail"
			}
			fmt.Fprintf(tw, "  %s %s\t%s\t%s%s\n", mark, t.Metric, t.Expr, obs, extra)
		}
		_ = tw.Flush()
	}
	return ew.err
}

func writeStats(ew *errWriter, title string, st *analyze.Stats) {
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
	if st.TokensPerSec != nil {
		rate += " · " + fmtNum(*st.TokensPerSec, 1) + " tokens/s"
	}
	ew.printf("%s\n", rate)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  ms\tp50\tp90\tp99\tmax\t\n")
	for _, m := range textMetrics {
		ms := st.Metric(m)
		if ms == nil {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t\n", m, fmtNum(ms.P50, 2), fmtNum(ms.P90, 2), fmtNum(ms.P99, 2), fmtNum(ms.Max, 2))
	}
	if ms := st.OutputTokens; ms != nil {
		fmt.Fprintf(tw, "  output_tokens\t%s\t%s\t%s\t%s\t\n", fmtNum(ms.P50, 0), fmtNum(ms.P90, 0), fmtNum(ms.P99, 0), fmtNum(ms.Max, 0))
	}
	_ = tw.Flush()
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
