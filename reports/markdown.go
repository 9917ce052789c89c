package reports

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
	"github.com/gonogo-dev/gonogo/rundir"
)

// noValue fills a Markdown cell that has no value.
const noValue = "—"

// mdMaxEvents bounds the events the Markdown summary lists.
const mdMaxEvents = 10

// WriteMarkdown writes in as a short GitHub-flavoured Markdown summary for
// pull-request comments and $GITHUB_STEP_SUMMARY: the verdict and its
// reasons, a gate table (or, when the run was not judged, a threshold
// table), the key metrics beside the baseline's, the figures per tag value
// (the "By tag" section), the divergence headline of a shadow run, the
// run's events, the slowest requests with their trace ids, and where the
// run directory and its HTML report are. A partial run (killed,
// interrupted, aborted) says so in its headline; a go verdict or passed
// thresholds on one read "PARTIAL RUN".
func WriteMarkdown(w io.Writer, in Input) error {
	if in.Run == nil {
		return ErrNoRun
	}
	ew := &errWriter{w: w}
	partial := partialNote(in.Run)
	switch v := in.Verdict; {
	case v != nil && partial != "" && v.Verdict == analyze.Go:
		ew.printf("### gonogo: **PARTIAL RUN** (verdict go, score %s/100, is not a pass)\n\n", numfmt.Decimals(v.Score, 1))
	case v != nil:
		ew.printf("### gonogo: **%s** (score %s/100)\n\n", strings.ToUpper(string(v.Verdict)), numfmt.Decimals(v.Score, 1))
	case in.Experiment != nil:
		ew.printf("### gonogo chaos: **hypothesis %s** (%s)\n\n", strings.ToUpper(in.Experiment.Verdict), in.Experiment.Status)
	case partial != "":
		ew.printf("### gonogo: **PARTIAL RUN** (%s)\n\n", thresholdCount(in.Run.Thresholds))
	default:
		ew.printf("### gonogo: %s\n\n", thresholdBadge(in.Run.Thresholds))
	}
	ew.printf("%s\n", runLine(in))
	switch {
	case partial != "":
		ew.printf("\n**Partial run** — %s: the results cover only what was measured before it ended.\n", mdInline(partial))
	case in.Run.Aborted:
		ew.printf("\n**Aborted:** %s\n", mdInline(in.Run.AbortReason))
	}
	if v := in.Verdict; v != nil {
		if len(v.Reasons) > 0 {
			ew.printf("\n")
			for _, r := range v.Reasons {
				ew.printf("- %s\n", mdInline(r))
			}
		}
		writeGateTable(ew, v.Gates)
	} else {
		writeThresholdTable(ew, in.Run.Thresholds)
	}
	if in.Experiment != nil {
		writeExperiment(ew, in.Experiment)
	}
	writeKeyMetrics(ew, in)
	writeByTagMarkdown(ew, newByTagSection(in.Run.Tags, in.Run.TagOverflow, percentilesOf(in.Run)))
	if in.Data != nil && in.Data.Divergence != nil {
		writeDivergence(ew, in.Data.Divergence)
	}
	if in.Data != nil && len(in.Data.Events) > 0 {
		writeEvents(ew, in)
	}
	writeSlowestMarkdown(ew, newSlowestTable(in.Run.Slowest, ""))
	if in.Data != nil && in.Data.Dir != "" {
		dir := in.Data.Dir
		ew.printf("\n---\nrun directory `%s`", dir)
		html := filepath.Join(dir, rundir.HTML)
		if slices.Contains(in.Run.Files, rundir.HTML) || fileExists(html) {
			ew.printf(" · HTML report `%s`", html)
		}
		ew.printf("\n")
	}
	return ew.err
}

// thresholdBadge is the headline of a run without a verdict.
func thresholdBadge(ts []analyze.ThresholdResult) string {
	if len(ts) == 0 {
		return "**NO VERDICT** (no gates, no thresholds)"
	}
	if failed := failedThresholds(ts); failed > 0 {
		return fmt.Sprintf("**THRESHOLDS FAILED** (%d of %d)", failed, len(ts))
	}
	return fmt.Sprintf("**THRESHOLDS PASSED** (%d of %d)", len(ts), len(ts))
}

// thresholdCount is "2 of 3 thresholds failed", "3 thresholds passed" or
// "no thresholds".
func thresholdCount(ts []analyze.ThresholdResult) string {
	switch failed := failedThresholds(ts); {
	case len(ts) == 0:
		return "no thresholds"
	case failed > 0:
		return fmt.Sprintf("%d of %d thresholds failed", failed, len(ts))
	}
	return fmt.Sprintf("%d thresholds passed", len(ts))
}

// failedThresholds counts the thresholds that failed.
func failedThresholds(ts []analyze.ThresholdResult) int {
	n := 0
	for _, t := range ts {
		if !t.Pass {
			n++
		}
	}
	return n
}

// runLine names the run, what it targeted, how long it ran and the
// baseline.
func runLine(in Input) string {
	parts := []string{"run `" + in.Run.ID + "`"}
	if t := strings.TrimSpace(in.Run.Protocol + " " + in.Run.Target); t != "" {
		parts = append(parts, mdInline(t))
	}
	parts = append(parts, fmtNum(in.Run.DurationS, 1)+"s")
	if id := baselineID(in); id != "" {
		parts = append(parts, "baseline `"+id+"`")
	}
	return strings.Join(parts, " · ")
}

func writeGateTable(ew *errWriter, gates []analyze.GateResult) {
	if len(gates) == 0 {
		return
	}
	rows := make([][]string, 0, len(gates))
	for _, g := range gates {
		obs, base, change := fmtGateValue(g, g.Observed), noValue, noValue
		if g.Status == analyze.GateInconclusive && g.Observed == 0 {
			obs = noValue // nothing was measured
		}
		if g.Baseline != nil {
			base = fmtGateValue(g, *g.Baseline)
		}
		if g.ChangePct != nil {
			change = numfmt.Change(*g.ChangePct / 100)
		}
		status := string(g.Status)
		if g.Status == analyze.GateFail {
			status = "**FAIL**"
			if g.Critical {
				status += " (critical)"
			}
		}
		rows = append(rows, []string{g.Name, obs, base, change, status})
	}
	ew.printf("\n#### Gates\n")
	mdTable(ew, "lrrrl", []string{"gate", "observed", "baseline", "change", "status"}, rows)
}

func writeThresholdTable(ew *errWriter, ts []analyze.ThresholdResult) {
	if len(ts) == 0 {
		return
	}
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		obs, status := numfmt.Sig(t.Observed), "pass"
		if t.NoData {
			obs = "no data"
		}
		if !t.Pass {
			status = "**FAIL**"
			if t.AbortOnFail {
				status += " (abortOnFail)"
			}
		}
		rows = append(rows, []string{"`" + t.Metric + " " + t.Expr + "`", obs, status})
	}
	ew.printf("\n#### Thresholds\n")
	mdTable(ew, "lrl", []string{"threshold", "observed", "status"}, rows)
}

// keyMetric is one row of the key metrics table. get reports false when a
// run has no value; points says that change is in percentage points
// rather than relative.
type keyMetric struct {
	name   string
	get    func(*analyze.Stats) (float64, bool)
	format func(float64) string
	points bool
}

var keyMetrics = []keyMetric{
	{name: "requests", get: func(s *analyze.Stats) (float64, bool) { return float64(s.Requests.Total), true },
		format: func(v float64) string { return fmtNum(v, 0) }},
	{name: "error rate", get: errorRate, format: numfmt.Percent, points: true},
	{name: "achieved rate", get: func(s *analyze.Stats) (float64, bool) { return s.Rate.AchievedPerSec, true },
		format: func(v float64) string { return numfmt.Sig(v) + "/s" }},
	{name: "latency p50", get: quantileOf(analyze.MetricLatency, func(m *analyze.MetricStats) float64 { return m.P50 }), format: fmtMs},
	{name: "latency p99", get: quantileOf(analyze.MetricLatency, p99), format: fmtMs},
	{name: "ttft p99", get: quantileOf(analyze.MetricTTFT, p99), format: fmtMs},
	{name: "ttst p99", get: quantileOf(analyze.MetricTTST, p99), format: fmtMs},
	{name: "tpot p99", get: quantileOf(analyze.MetricTPOT, p99), format: fmtMs},
	{name: "checks passed", get: checksPassed, format: numfmt.Percent, points: true},
}

// checksPassed is the share of the response checks' judgements that
// passed, all checks together.
func checksPassed(s *analyze.Stats) (float64, bool) {
	c, ok := s.CheckCounts("")
	return c.Rate(), ok && c.Total() > 0
}

func errorRate(s *analyze.Stats) (float64, bool) {
	if s.Requests.Total == 0 {
		return 0, false
	}
	return float64(s.Requests.FailedTotal()) / float64(s.Requests.Total), true
}

func p99(m *analyze.MetricStats) float64 { return m.P99 }

func quantileOf(metric string, pick func(*analyze.MetricStats) float64) func(*analyze.Stats) (float64, bool) {
	return func(s *analyze.Stats) (float64, bool) {
		if m := s.Metric(metric); m != nil {
			return pick(m), true
		}
		return 0, false
	}
}

func fmtMs(v float64) string { return numfmt.Unit(v, "ms") }

// writeKeyMetrics writes the overall figures of the run, and beside them
// the baseline's and the change when there is a baseline. Rows that
// neither run has are left out.
func writeKeyMetrics(ew *errWriter, in Input) {
	var base *analyze.Stats
	head, align := []string{"metric", "run"}, "lr"
	if in.Baseline != nil {
		base = &in.Baseline.Overall
		head, align = append(head, "baseline", "change"), "lrrr"
	}
	var rows [][]string
	for _, k := range keyMetrics {
		v, ok := k.get(&in.Run.Overall)
		var bv float64
		var bok bool
		if base != nil {
			bv, bok = k.get(base)
		}
		if !ok && !bok {
			continue
		}
		row := []string{k.name, noValue}
		if ok {
			row[1] = k.format(v)
		}
		if base != nil {
			b, change := noValue, noValue
			if bok {
				b = k.format(bv)
			}
			switch {
			case !ok || !bok:
			case k.points:
				change = fmt.Sprintf("%+.2f pp", 100*(v-bv))
			case bv != 0:
				change = numfmt.Change((v - bv) / bv)
			}
			row = append(row, b, change)
		}
		rows = append(rows, row)
	}
	ew.printf("\n#### Key metrics\n")
	mdTable(ew, align, head, rows)
}

// writeDivergence writes the headline figures of each candidate of a
// shadow run.
func writeDivergence(ew *errWriter, d *divergence.Report) {
	ew.printf("\n#### Output divergence\n\n")
	noise := "no secondary, so figures are not noise-corrected"
	if d.NoiseMeasured {
		noise = "noise measured as secondary vs primary"
	}
	ew.printf("%d pairs; %s.\n", d.Pairs, noise)
	var rows [][]string
	for _, c := range d.Candidates {
		for _, h := range c.Headline {
			beyond := "no"
			if h.ExceedsNoise {
				beyond = "**yes**"
			}
			rows = append(rows, []string{c.Target, h.Metric, numfmt.Sig(h.Raw), numfmt.Sig(h.Noise), numfmt.Sig(h.Corrected), beyond})
		}
	}
	if len(rows) == 0 {
		ew.printf("\nNo candidate was compared.\n")
		return
	}
	mdTable(ew, "llrrrl", []string{"candidate", "figure", "raw", "noise", "corrected", "beyond noise"}, rows)
}

// writeEvents lists the first mdMaxEvents events of the run, one line
// each: "- +36s · fault · for 10s · proxy · latency +40ms".
func writeEvents(ew *errWriter, in Input) {
	events := sortedEvents(in.Data.Events)
	start := runTimeAxis(in).start
	ew.printf("\n#### Events\n\n")
	for i, e := range events {
		if i == mdMaxEvents {
			ew.printf("- and %d more (see the HTML report or events.ndjson)\n", len(events)-mdMaxEvents)
			break
		}
		parts := []string{fmtOffset(e.Time.Sub(start)), e.Kind}
		if d := eventDuration(e); d != "" {
			parts = append(parts, "for "+d)
		}
		for _, p := range []string{e.Target, e.Message} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		ew.printf("- %s\n", mdInline(strings.Join(parts, " · ")))
	}
}

// mdTable writes a table preceded by a blank line; align holds 'l' or 'r'
// for each column.
func mdTable(ew *errWriter, align string, head []string, rows [][]string) {
	ew.printf("\n")
	mdRow(ew, head)
	rule := make([]string, len(align))
	for i := range align {
		rule[i] = "---"
		if align[i] == 'r' {
			rule[i] = "--:"
		}
	}
	ew.printf("|%s|\n", strings.Join(rule, "|"))
	for _, r := range rows {
		mdRow(ew, r)
	}
}

func mdRow(ew *errWriter, cells []string) {
	esc := make([]string, len(cells))
	for i, c := range cells {
		esc[i] = strings.ReplaceAll(mdInline(c), "|", `\|`)
	}
	ew.printf("| %s |\n", strings.Join(esc, " | "))
}

// mdInline puts s on one line, so that it cannot end a list item or a
// table row.
func mdInline(s string) string { return strings.Join(strings.Fields(s), " ") }

// fileExists reports whether path names a file that can be stat'ed.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
