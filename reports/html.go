package reports

import (
	"fmt"
	"html/template"
	"image/color"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// htmlMaxReasons bounds the reasons shown in the verdict banner.
const htmlMaxReasons = 5

// htmlMaxEvents bounds the rows of the events table.
const htmlMaxEvents = 500

// WriteHTML writes the run's report as one self-contained HTML page: the
// verdict banner, the gate table, the key numbers, the figures per tag
// value (a table per tag key), charts as inline SVG (latency over time,
// percentile spectra, throughput and errors, TTFT and TPOT over time and
// their spectra, divergence by segment) with the run's events on every
// time axis (spans shaded, instants as lines), for each rollout in the
// run's journal its outcome, its backends' weights over time with every
// transition marked and its transitions, the events table, the slowest
// requests with their trace ids, and the run's details. A partial run
// (killed, interrupted, aborted) never looks like a pass: its banner is
// amber or red and says so. The page fetches nothing and needs no script.
// Charts need in.Data; without it the page has none.
func WriteHTML(w io.Writer, in Input) error { return HTMLOptions{}.Write(w, in) }

// HTMLOptions are the options of the HTML report.
type HTMLOptions struct {
	// TraceURL links each trace id of the slowest requests into a
	// tracing UI; empty, ids are plain text.
	TraceURL TraceURL
}

// Write is WriteHTML with the options of o.
func (o HTMLOptions) Write(w io.Writer, in Input) error {
	if in.Run == nil && in.Data == nil && in.Fuzz == nil {
		return ErrNoRun
	}
	pg := htmlPage{
		Banner:  newHTMLBanner(in),
		Gates:   htmlGateRows(in.Verdict),
		Numbers: htmlKeyNumbers(in),
		Checks:  htmlCheckRows(overallStats(in.Run, in.Data)),
		ByTag:   htmlByTag(in),
		Details: htmlDetails(in),
		GameDay: newGameDay(in.Experiment),
		Fuzz:    newHTMLFuzz(in.Fuzz),
	}
	if in.Data != nil {
		pg.Events, pg.MoreEvents = htmlEventRows(in.Data.Events, runTimeAxis(in).start)
	}
	if in.Run != nil {
		pg.Slowest = newSlowestTable(in.Run.Slowest, o.TraceURL)
	}
	pg.Title = "gonogo report · " + pg.Banner.Run + " · " + pg.Banner.Decision
	if in.Data != nil {
		charts, err := buildCharts(in)
		if err != nil {
			return err
		}
		pg.Charts = charts
		if pg.Rollouts, err = newHTMLRollouts(in); err != nil {
			return err
		}
	}
	if err := htmlTemplate.Execute(w, pg); err != nil {
		return fmt.Errorf("reports: write HTML: %w", err)
	}
	return nil
}

// htmlPage is what the HTML template renders.
type htmlPage struct {
	Title   string
	Banner  htmlBanner
	Gates   []htmlGateRow
	Numbers []htmlNumber
	// Checks are the run's response checks, overall.
	Checks []htmlCheckRow
	// ByTag are the run's figures per tag value.
	ByTag  byTagSection
	Charts []htmlChart
	Events []htmlEvent
	// MoreEvents counts the events left out of the table.
	MoreEvents int
	// Slowest are run.json's slowest requests.
	Slowest slowestTable
	Details []htmlDetail
	GameDay *htmlGameDay
	// Rollouts are the rollouts the run's journal holds, with weights.
	Rollouts []htmlRollout
	Fuzz     *htmlFuzz
}

type htmlBanner struct {
	// Class is the CSS class: go, no-go, inconclusive, none, or, for a
	// partial run not judged no-go, "partial" (amber) or "partial severe"
	// (red).
	Class, Decision, Score, Run, Baseline, Gates string
	// Partial says why the run's results are partial; empty for a
	// complete run.
	Partial     string
	Reasons     []string
	MoreReasons int
}

// htmlEvent is one row of the events table.
type htmlEvent struct {
	Offset, Duration, Kind, Target, Source, Message, Attrs string
	// Swatch colours the kind as the charts do.
	Swatch template.CSS
}

type htmlGateRow struct {
	Class, Name, Kind, Scope, Expr, Observed, Baseline, Change, PValue, Status, Critical, Reason string
}

// htmlCheckRow is one response check of the checks table.
type htmlCheckRow struct {
	Class, Name, Passed, Failed, Rate string
}

// htmlCheckRows are the rows of the checks table, by name: a check that
// failed at least once is marked.
func htmlCheckRows(st *analyze.Stats) []htmlCheckRow {
	if st == nil || len(st.Checks) == 0 {
		return nil
	}
	names := make([]string, 0, len(st.Checks))
	for n := range st.Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]htmlCheckRow, len(names))
	for i, n := range names {
		c := st.Checks[n]
		row := htmlCheckRow{Class: "pass", Name: n, Passed: numfmt.Thousands(c.Passed), Failed: numfmt.Thousands(c.Failed), Rate: "not judged"}
		if c.Failed > 0 {
			row.Class = "fail"
		}
		if c.Total() > 0 {
			row.Rate = numfmt.Percent(c.Rate())
		}
		out[i] = row
	}
	return out
}

type htmlNumber struct {
	Label, Value, Sub string
	// Bad marks a number that needs attention (failures, drops).
	Bad bool
}

type htmlDetail struct {
	Name  string
	Value string
	// List is set for multi-valued details (labels, files).
	List []string
}

func reportRunID(in Input) string {
	switch {
	case in.Run != nil && in.Run.ID != "":
		return in.Run.ID
	case in.Data != nil && in.Data.ID != "":
		return in.Data.ID
	case in.Verdict != nil:
		return in.Verdict.Run
	}
	return "unnamed run"
}

func newHTMLBanner(in Input) htmlBanner {
	b := htmlBanner{Class: "none", Decision: "NOT JUDGED", Run: reportRunID(in), Baseline: baselineID(in)}
	if v := in.Verdict; v != nil {
		judgedBanner(&b, v)
	} else if j := in.Experiment; j != nil {
		experimentBanner(&b, j)
	} else if f := in.Fuzz; f != nil && in.Run == nil {
		fuzzBanner(&b, f)
	}
	b.Partial = htmlPartialNote(in)
	if b.Partial == "" {
		return b
	}
	// A partial run never looks like a pass: amber when it was
	// interrupted, red when it was killed or aborted; a go (or no)
	// verdict reads "PARTIAL RUN".
	if b.Class != string(analyze.NoGo) {
		b.Class = "partial"
		if in.Run.Status != StatusInterrupted {
			b.Class = "partial severe"
		}
	}
	if in.Verdict == nil || in.Verdict.Verdict == analyze.Go {
		b.Decision = "PARTIAL RUN"
	}
	if in.Verdict != nil && in.Verdict.Verdict == analyze.Go {
		b.Partial += " · verdict.json says go, but a partial run is not a pass"
	}
	return b
}

// htmlPartialNote is partialNote with, for a killed run, how far its data
// goes.
func htmlPartialNote(in Input) string {
	note := partialNote(in.Run)
	if note != "" && in.Run.Status == StatusRunning && in.Data != nil {
		if ax := runTimeAxis(in); ax.max > 0 {
			note += "; data up to " + fmtOffset(secondsDur(ax.max*ax.div))
		}
	}
	return note
}

// judgedBanner fills the banner from the verdict.
func judgedBanner(b *htmlBanner, v *analyze.Verdict) {
	b.Class = string(v.Verdict)
	b.Decision = strings.ToUpper(string(v.Verdict))
	b.Score = numfmt.Decimals(v.Score, 1)
	var failed, critical, inconclusive int
	for _, g := range v.Gates {
		switch g.Status {
		case analyze.GateFail:
			failed++
			if g.Critical {
				critical++
			}
		case analyze.GateInconclusive:
			inconclusive++
		}
	}
	b.Gates = fmt.Sprintf("%d of %d gates failed (%d critical), %d inconclusive", failed, len(v.Gates), critical, inconclusive)
	b.Reasons = v.Reasons
	if len(b.Reasons) > htmlMaxReasons {
		b.Reasons, b.MoreReasons = b.Reasons[:htmlMaxReasons], len(b.Reasons)-htmlMaxReasons
	}
}

func htmlGateRows(v *analyze.Verdict) []htmlGateRow {
	if v == nil {
		return nil
	}
	rows := make([]htmlGateRow, 0, len(v.Gates))
	for _, g := range v.Gates {
		r := htmlGateRow{
			Class: string(g.Status), Name: g.Name, Kind: string(g.Kind), Scope: g.Scope, Expr: g.Expr,
			Observed: fmtGateValue(g, g.Observed), Status: string(g.Status), Reason: g.Reason,
		}
		if g.Baseline != nil {
			r.Baseline = fmtGateValue(g, *g.Baseline)
		}
		if g.ChangePct != nil {
			r.Change = numfmt.Change(*g.ChangePct / 100)
		}
		if g.PValue != nil {
			r.PValue = numfmt.PValue(*g.PValue)
		}
		if g.Critical {
			r.Critical = "critical"
		}
		rows = append(rows, r)
	}
	return rows
}

// htmlByTag is the "By tag" section of the run, from run.json or else
// the run's data.
func htmlByTag(in Input) byTagSection {
	pcts := percentilesOf(in.Run)
	switch {
	case in.Run != nil:
		return newByTagSection(in.Run.Tags, in.Run.TagOverflow, pcts)
	case in.Data != nil && in.Data.Summary != nil:
		return newByTagSection(in.Data.Summary.Tags, in.Data.Summary.TagOverflow, pcts)
	}
	return byTagSection{}
}

// overallStats returns the overall stats of a run, nil when there are none.
func overallStats(r *Run, d *analyze.RunData) *analyze.Stats {
	switch {
	case r != nil:
		return &r.Overall
	case d != nil && d.Summary != nil:
		return &d.Summary.Overall
	}
	return nil
}

// targetRatePerSec is the run's target request rate: the overall one, else
// the sum of the scenarios' targets; 0 when none was set.
func targetRatePerSec(in Input) float64 {
	if st := overallStats(in.Run, in.Data); st != nil && st.Rate.TargetPerSec > 0 {
		return st.Rate.TargetPerSec
	}
	var sum float64
	switch {
	case in.Run != nil:
		for _, sc := range in.Run.Scenarios {
			sum += sc.Rate.TargetPerSec
		}
	case in.Data != nil && in.Data.Summary != nil:
		for _, sc := range in.Data.Summary.Scenarios {
			sum += sc.Rate.TargetPerSec
		}
	}
	return sum
}

// htmlKeyNumbers are the cards under the gate table: counts, rate and
// percentiles.
func htmlKeyNumbers(in Input) []htmlNumber {
	st := overallStats(in.Run, in.Data)
	if st == nil {
		return nil
	}
	rq := st.Requests
	out := []htmlNumber{
		{Label: "requests", Value: numfmt.Thousands(rq.Total), Sub: "ok " + numfmt.Thousands(rq.OK) + " (" + fmtShare(rq.OK, rq.Total) + ")"},
		{Label: "failed", Value: numfmt.Thousands(rq.FailedTotal()), Sub: htmlFailedByClass(rq.Failed), Bad: rq.FailedTotal() > 0},
		{Label: "dropped", Value: numfmt.Thousands(rq.Dropped), Sub: "queued " + numfmt.Thousands(rq.Queued), Bad: rq.Dropped > 0},
		htmlRateNumber(st, targetRatePerSec(in)),
		{Label: "throughput", Value: numfmt.Sig(st.Rate.CompletedPerSec) + "/s", Sub: "completed; sent " + numfmt.Sig(st.Rate.SentPerSec) + "/s"},
	}
	if in.Run != nil && in.Run.Capacity != nil {
		out = append(out, htmlCapacityNumber(in.Run.Capacity))
	}
	out = append(out, htmlMetricNumbers(st, overallStats(in.Baseline, in.BaselineData), runPercentiles(in.Run), in.Data, in.BaselineData)...)
	if st.TokensPerSec != nil {
		out = append(out, htmlNumber{Label: "output tokens", Value: numfmt.Sig(*st.TokensPerSec) + "/s"})
	}
	return out
}

// htmlLatencyPercentiles are the latency percentiles of the HTML cards
// when the run was given none (--percentiles).
var htmlLatencyPercentiles = []float64{50, 99, 99.9}

// htmlMetricNumbers are the latency (at the run's percentiles), TTFT,
// TTST and TPOT percentiles of st and the median per-user output speed,
// each with the baseline's when base has it. A percentile the stats do not
// hold comes from the run's histograms (data, baseData) when they have it.
func htmlMetricNumbers(st, base *analyze.Stats, pcts []float64, data, baseData *analyze.RunData) []htmlNumber {
	if len(pcts) == 0 {
		pcts = htmlLatencyPercentiles
	}
	type card struct {
		metric, unit string
		pct          float64
	}
	var cards []card
	for _, p := range pcts {
		cards = append(cards, card{analyze.MetricLatency, "ms", p})
	}
	cards = append(cards, card{analyze.MetricTTFT, "ms", 99}, card{analyze.MetricTTST, "ms", 99},
		card{analyze.MetricTPOT, "ms", 99}, card{analyze.MetricTokensPerSecPerUser, "tokens/s", 50})
	var out []htmlNumber
	for _, c := range cards {
		v, ok := st.Percentile(c.metric, c.pct)
		if !ok && st.Metric(c.metric) != nil {
			v, ok = data.HistPercentile(analyze.Overall, c.metric, c.pct)
		}
		if !ok {
			continue
		}
		label := c.metric + " " + pctHeader(c.pct)
		if c.metric == analyze.MetricTokensPerSecPerUser {
			label = "tokens/s per user " + pctHeader(c.pct)
		}
		n := htmlNumber{Label: label, Value: numfmt.Unit(v, c.unit)}
		if base != nil {
			bv, ok := base.Percentile(c.metric, c.pct)
			if !ok && base.Metric(c.metric) != nil {
				bv, ok = baseData.HistPercentile(analyze.Overall, c.metric, c.pct)
			}
			if ok {
				n.Sub = "baseline " + numfmt.Unit(bv, c.unit) + fmtChangeFrom(v, bv)
			}
		}
		out = append(out, n)
	}
	return out
}

// htmlCapacityNumber says where a ramping run's service broke.
func htmlCapacityNumber(c *analyze.Capacity) htmlNumber {
	n := htmlNumber{Label: "capacity", Value: "none held", Sub: c.Window + " windows", Bad: c.At == nil}
	if c.At != nil {
		n.Value = "held " + numfmt.Sig(c.HeldPerSec) + "/s"
	}
	switch {
	case c.BrokeAt != nil:
		n.Sub = fmt.Sprintf("broke at +%gs: %s", c.BrokeAt.StartS, c.Broke)
		n.Bad = true
	case c.At != nil:
		n.Sub = "never broke"
	}
	if c.KneePerSec > 0 {
		n.Sub += "; knee " + numfmt.Sig(c.KneePerSec) + "/s"
	}
	return n
}

func htmlRateNumber(st *analyze.Stats, target float64) htmlNumber {
	n := htmlNumber{Label: "achieved rate", Value: numfmt.Sig(st.Rate.AchievedPerSec) + "/s", Sub: "no target rate"}
	if target > 0 {
		n.Sub = "target " + numfmt.Sig(target) + "/s (" + numfmt.Percent(st.Rate.AchievedPerSec/target) + ")"
		n.Bad = st.Rate.AchievedPerSec < 0.95*target
	}
	return n
}

func htmlFailedByClass(failed map[string]int64) string {
	var parts []string
	for _, c := range gonogo.ErrorClasses {
		if n := failed[string(c)]; n > 0 {
			parts = append(parts, string(c)+" "+numfmt.Thousands(n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func htmlDetails(in Input) []htmlDetail {
	var out []htmlDetail
	add := func(name, value string) {
		if value != "" {
			out = append(out, htmlDetail{Name: name, Value: value})
		}
	}
	add("run", reportRunID(in))
	add("baseline", baselineID(in))
	if r := in.Run; r != nil {
		add("status", r.Status)
		add("command", r.Command)
		add("target", r.Target)
		add("protocol", r.Protocol)
		if !r.Started.IsZero() {
			add("started", r.Started.UTC().Format(time.RFC3339))
		}
		add("duration", numfmt.Unit(r.DurationS, "s"))
		if r.Aborted {
			add("aborted", r.AbortReason)
		}
		out = appendDetailList(out, "labels", sortedKeyValues(r.Labels))
		out = appendDetailList(out, "scenarios", htmlScenarioLines(r.Scenarios))
		out = appendDetailList(out, "files", r.Files)
	}
	if in.Verdict != nil {
		add("gates file", in.Verdict.Gatefile)
	}
	return out
}

// htmlEventRows are the rows of the events table in time order, offsets
// from start, at most htmlMaxEvents; more counts those left out.
func htmlEventRows(events []gonogo.Event, start time.Time) (rows []htmlEvent, more int) {
	sorted := sortedEvents(events)
	if len(sorted) > htmlMaxEvents {
		sorted, more = sorted[:htmlMaxEvents], len(sorted)-htmlMaxEvents
	}
	rows = make([]htmlEvent, len(sorted))
	for i, e := range sorted {
		rows[i] = htmlEvent{
			Offset: fmtOffset(e.Time.Sub(start)), Duration: eventDuration(e), Kind: e.Kind,
			Target: e.Target, Source: e.Source, Message: e.Message,
			Attrs:  strings.Join(sortedKeyValues(e.Attrs), ", "),
			Swatch: template.CSS("background:" + colorHex(eventColor(e.Kind))),
		}
	}
	return rows, more
}

// sortedEvents is a copy of events in time order.
func sortedEvents(events []gonogo.Event) []gonogo.Event {
	out := slices.Clone(events)
	slices.SortStableFunc(out, func(a, b gonogo.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// eventDuration is how long a span lasted ("12.5s"), empty for an
// instant.
func eventDuration(e gonogo.Event) string {
	if e.End == nil {
		return ""
	}
	return e.End.Sub(e.Time).Round(100 * time.Millisecond).String()
}

// colorHex is c as a CSS colour, "#d62728".
func colorHex(c color.Color) string {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return fmt.Sprintf("#%02x%02x%02x", n.R, n.G, n.B)
}

func appendDetailList(out []htmlDetail, name string, list []string) []htmlDetail {
	if len(list) == 0 {
		return out
	}
	return append(out, htmlDetail{Name: name, List: list})
}

func sortedKeyValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func htmlScenarioLines(scs map[string]Scenario) []string {
	out := make([]string, 0, len(scs))
	for name, sc := range scs {
		line := name
		if sc.Executor != "" {
			line += ": " + sc.Executor
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

func fmtShare(n, of int64) string {
	if of == 0 {
		return "–"
	}
	return numfmt.Percent(float64(n) / float64(of))
}

// fmtChangeFrom is " (+12.5 %)", the relative change from base to v.
func fmtChangeFrom(v, base float64) string {
	if base == 0 {
		return ""
	}
	return " (" + numfmt.Change((v-base)/base) + ")"
}

var htmlTemplate = template.Must(template.New("report").Parse(htmlPageSource))

const htmlPageSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root{--ink:#24292f;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa;--go:#1a7f37;--nogo:#cf222e;--inc:#9a6700}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:20px 24px 40px}
h2{font-size:18px;margin:28px 0 10px}
.banner{border-radius:8px;padding:18px 22px;color:#fff;background:#57606a}
.banner.go{background:var(--go)}.banner.no-go{background:var(--nogo)}.banner.inconclusive,.banner.partial{background:var(--inc)}.banner.partial.severe{background:var(--nogo)}
.banner .partial{margin-top:8px;font-weight:700;font-size:16px}
.banner .decision{font-size:34px;font-weight:800;letter-spacing:.5px;margin-right:18px}
.banner .score{font-size:20px;font-weight:600}
.banner .ids{margin-top:4px;opacity:.92;font-size:14px}
.banner .gates{margin-top:2px;font-size:14px;opacity:.92}
.banner ul{margin:10px 0 0;padding-left:20px}
.banner li{margin:2px 0}
code,.mono{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:6px;font-size:13.5px}
th,td{padding:6px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600;white-space:nowrap}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
tr.fail td{background:#ffebe9}
tr.fail td.status{color:var(--nogo);font-weight:700}
tr.inconclusive td{background:#fff8c5}
tr.inconclusive td.status{color:var(--inc);font-weight:700}
td.status{white-space:nowrap;color:var(--go);font-weight:600}
.reason{color:var(--muted);font-size:12.5px;margin-top:2px}
.crit{font-size:11.5px;font-weight:700;color:var(--nogo);text-transform:uppercase}
.numbers{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:10px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.card .label{color:var(--muted);font-size:12.5px;text-transform:uppercase;letter-spacing:.3px}
.card .value{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums}
.card .sub{color:var(--muted);font-size:12.5px}
.card.bad .value{color:var(--nogo)}
figure{margin:0 0 18px;background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px}
figcaption{color:var(--muted);font-size:13px;padding:4px 6px 2px}
svg.chart{display:block;width:100%;height:auto}
svg.chart text{font-family:"Liberation Sans",Arial,Helvetica,"Nimbus Sans","DejaVu Sans Condensed",sans-serif!important}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 18px;background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
dd ul{margin:0;padding-left:18px}
.status-go{color:var(--go);font-weight:700}.status-no-go{color:var(--nogo);font-weight:700}.status-inconclusive{color:var(--inc);font-weight:700}
.muted{color:var(--muted)}
.rollout+.rollout{margin-top:26px}
td.trace{white-space:nowrap;user-select:all}
table.by-tag+table.by-tag{margin-top:12px}
table.by-tag th+th{text-align:right}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:-1px}
</style>
</head>
<body>
<main>
<section class="banner {{.Banner.Class}}" id="verdict">
<div><span class="decision">{{.Banner.Decision}}</span>{{with .Banner.Score}}<span class="score">score {{.}} / 100</span>{{end}}</div>
<div class="ids">run <span class="mono">{{.Banner.Run}}</span>{{with .Banner.Baseline}} · baseline <span class="mono">{{.}}</span>{{end}}</div>
{{with .Banner.Gates}}<div class="gates">{{.}}</div>{{end}}
{{with .Banner.Partial}}<div class="partial" id="partial">⚠ {{.}}</div>{{end}}
{{if .Banner.Reasons}}<ul>{{range .Banner.Reasons}}<li>{{.}}</li>{{end}}{{with .Banner.MoreReasons}}<li>and {{.}} more (see the gates below)</li>{{end}}</ul>{{end}}
</section>
{{if .Gates}}
<h2>Gates</h2>
<table id="gates">
<thead><tr><th>gate</th><th>kind</th><th>scope</th><th>expression</th><th>observed</th><th>baseline</th><th>change</th><th>p-value</th><th>status</th><th></th></tr></thead>
<tbody>
{{range .Gates}}<tr class="{{.Class}}"><td><strong>{{.Name}}</strong>{{with .Reason}}<div class="reason">{{.}}</div>{{end}}</td><td>{{.Kind}}</td><td>{{.Scope}}</td><td><code>{{.Expr}}</code></td><td class="num">{{.Observed}}</td><td class="num">{{.Baseline}}</td><td class="num">{{.Change}}</td><td class="num">{{.PValue}}</td><td class="status">{{.Status}}</td><td>{{with .Critical}}<span class="crit">{{.}}</span>{{end}}</td></tr>
{{end}}</tbody>
</table>
{{end}}
{{with .GameDay}}
<h2>Game day</h2>
<section id="gameday">
<p><strong>{{.Title}}</strong> — experiment <span class="status-{{.Class}}">{{.Status}}</span>, hypothesis <span class="status-{{.Class}}">{{.Verdict}}</span>{{with .Reason}}: {{.}}{{end}}</p>
{{with .Description}}<p class="muted">{{.}}</p>{{end}}
<p>Steady-state hypothesis{{with .Hypothesis}} “{{.}}”{{end}}: {{.Gates}}.</p>
<table id="phases">
<thead><tr><th>phase</th><th>checked at</th><th>status</th><th>gates not passing</th></tr></thead>
<tbody>
{{range .Phases}}<tr class="{{.Class}}"><td>{{.Phase}}</td><td class="num">{{.At}}</td><td class="status">{{.Status}}</td><td>{{.Gates}}</td></tr>
{{end}}</tbody>
</table>
<h2>Timeline</h2>
<table id="activities">
<thead><tr><th>activity</th><th>kind</th><th>target</th><th>planned</th><th>in force</th><th>outcome</th><th>acted on</th><th>time to detect</th><th>time to recover</th></tr></thead>
<tbody>
{{range .Activities}}<tr class="{{.Class}}"><td><strong>{{.Name}}</strong>{{with .Error}}<div class="reason">{{.}}</div>{{end}}</td><td>{{.Kind}}</td><td class="mono">{{.Target}}</td><td class="num">{{.Planned}}</td><td class="num">{{.Span}}</td><td class="status">{{.Outcome}}</td><td class="num">{{.Affected}}</td><td class="num">{{.Detect}}</td><td class="num">{{.Recover}}</td></tr>
{{end}}{{range .Rollbacks}}<tr class="{{.Class}}"><td><strong>{{.Name}}</strong> (rollback){{with .Error}}<div class="reason">{{.}}</div>{{end}}</td><td>{{.Kind}}</td><td class="mono">{{.Target}}</td><td class="num">end</td><td class="num">{{.Span}}</td><td class="status">{{.Outcome}}</td><td></td><td></td><td></td></tr>
{{end}}</tbody>
</table>
<h2>Blast radius</h2>
<div class="numbers" id="blast">
{{range .Numbers}}<div class="card{{if .Bad}} bad{{end}}"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div>{{with .Sub}}<div class="sub">{{.}}</div>{{end}}</div>
{{end}}</div>
</section>
{{end}}
{{with .Rollouts}}
<h2>Rollout</h2>
<section id="rollout">
{{range .}}<div class="rollout" data-rollout="{{.Name}}">
<p class="outcome"><strong>{{.Name}}</strong>: <span class="status-{{.Class}}">{{.Outcome}}</span>{{with .Reason}} — {{.}}{{end}}</p>
<figure>
{{.Chart.SVG}}
<figcaption>{{.Chart.Caption}}</figcaption>
</figure>
<table class="transitions">
<thead><tr><th>time</th><th>transition</th><th>actor</th><th>step</th><th>phase</th><th>weights</th><th>reason</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="{{.Class}}"><td class="num">{{.Offset}}</td><td><span class="swatch" style="{{.Swatch}}"></span>{{.Transition}}</td><td>{{.Actor}}</td><td class="num">{{.Step}}</td><td>{{.Phase}}</td><td class="mono">{{.Weights}}</td><td>{{.Reason}}</td></tr>
{{end}}{{with .More}}<tr><td colspan="7">and {{.}} more transitions (see events.ndjson)</td></tr>
{{end}}</tbody>
</table>
</div>
{{end}}</section>
{{end}}
{{with .Fuzz}}
<h2>Malformed input</h2>
<section id="fuzz">
<p>What <span class="mono">{{.Target}}</span> did with mutated requests{{with .Stopped}} (stopped early: {{.}}){{end}}.</p>
<table>
<thead><tr><th>mutation class</th><th>sent</th><th>outcomes</th><th></th></tr></thead>
<tbody>
{{range .Classes}}<tr class="{{.Rowclass}}"><td>{{.Class}}</td><td class="num">{{.Sent}}</td><td>{{.Outcomes}}</td><td class="status">{{.Verdict}}</td></tr>
{{end}}</tbody>
</table>
{{if .Findings}}<h2>Findings</h2><ul id="findings">{{range .Findings}}<li class="mono">{{.}}</li>{{end}}{{with .MoreFindings}}<li>and {{.}} more (see fuzz.json)</li>{{end}}</ul>{{end}}
</section>
{{end}}
{{if .Numbers}}
<h2>Key numbers</h2>
<div class="numbers" id="numbers">
{{range .Numbers}}<div class="card{{if .Bad}} bad{{end}}"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div>{{with .Sub}}<div class="sub">{{.}}</div>{{end}}</div>
{{end}}</div>
{{end}}
{{if .Checks}}
<h2>Checks</h2>
<table id="checks">
<thead><tr><th>check</th><th>passed</th><th>failed</th><th>passed share</th></tr></thead>
<tbody>
{{range .Checks}}<tr class="{{.Class}}"><td>{{.Name}}</td><td class="num">{{.Passed}}</td><td class="num">{{.Failed}}</td><td class="num status">{{.Rate}}</td></tr>
{{end}}</tbody>
</table>
{{end}}
{{with .ByTag}}{{if .Tables}}
<h2>By tag</h2>
<section id="by-tag">
{{range .Tables}}<table class="by-tag" data-key="{{.Key}}">
<thead><tr><th>{{.Key}}</th>{{range $.ByTag.Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr><td class="mono">{{.Value}}</td>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}{{with .More}}<tr><td colspan="{{$.ByTag.Cols}}">and {{.}} more values (see run.json)</td></tr>
{{end}}</tbody>
</table>
{{end}}{{with .Overflow}}<p class="muted">{{$.ByTag.OverflowNote}}</p>{{end}}
</section>
{{end}}{{end}}
{{if .Charts}}
<h2>Charts</h2>
{{range .Charts}}<figure>
{{.SVG}}
<figcaption>{{.Caption}}</figcaption>
</figure>
{{end}}{{end}}
{{with .Slowest}}{{if .Rows}}
<h2>Slowest requests</h2>
<table id="slowest">
<thead><tr><th>latency</th><th>service</th><th>outcome</th><th>at</th><th>scenario</th><th>request</th>{{if .Traced}}<th>trace id</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Failed}} class="fail"{{end}}><td class="num">{{.Latency}}</td><td class="num">{{.Service}}</td><td class="status">{{.Outcome}}{{with .Err}}<div class="reason">{{.}}</div>{{end}}</td><td class="num">{{.At}}</td><td>{{.Scenario}}</td><td class="mono">{{.Request}}</td>{{if $.Slowest.Traced}}<td class="mono trace">{{if .TraceLink}}<a href="{{.TraceLink}}">{{.TraceID}}</a>{{else}}{{.TraceID}}{{end}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{end}}{{end}}
{{if .Events}}
<h2>Events</h2>
<table id="events">
<thead><tr><th>time</th><th>duration</th><th>kind</th><th>target</th><th>source</th><th>message</th><th>attributes</th></tr></thead>
<tbody>
{{range .Events}}<tr><td class="num">{{.Offset}}</td><td class="num">{{.Duration}}</td><td><span class="swatch" style="{{.Swatch}}"></span>{{.Kind}}</td><td>{{.Target}}</td><td>{{.Source}}</td><td>{{.Message}}</td><td class="mono">{{.Attrs}}</td></tr>
{{end}}{{with .MoreEvents}}<tr><td colspan="7">and {{.}} more events (see events.ndjson)</td></tr>
{{end}}</tbody>
</table>
{{end}}
<h2>Run details</h2>
<dl id="details">
{{range .Details}}<dt>{{.Name}}</dt><dd>{{if .List}}<ul>{{range .List}}<li class="mono">{{.}}</li>{{end}}</ul>{{else}}{{.Value}}{{end}}</dd>
{{end}}</dl>
</main>
</body>
</html>
`
