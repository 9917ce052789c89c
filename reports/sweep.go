package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// SweepSchemaVersion is the sweep.json schema this package writes and
// reads (docs/sweep.md).
const SweepSchemaVersion = 1

// ErrSweepSchema is returned for a sweep.json of an unsupported schema.
var ErrSweepSchema = errors.New("reports: unsupported sweep.json schema")

// Sweep statuses: a sweep that ran every stage is complete; one stopped
// by an interrupt is interrupted, one stopped by an error failed. Only a
// complete sweep is a pass.
const (
	SweepComplete    = "complete"
	SweepInterrupted = "interrupted"
	SweepFailed      = "failed"
)

// Sweep is the content of sweep.json: a rate sweep's stages, each a run
// of its own in a subdirectory, and what they showed.
type Sweep struct {
	Schema int    `json:"schema"`
	ID     string `json:"id"`
	Status string `json:"status"`
	// Reason says why a sweep did not complete.
	Reason   string            `json:"reason,omitempty"`
	Started  time.Time         `json:"started"`
	Ended    time.Time         `json:"ended"`
	Command  string            `json:"command"`
	Target   string            `json:"target"`
	Protocol string            `json:"protocol"`
	Labels   map[string]string `json:"labels,omitempty"`
	Rates    SweepRates        `json:"rates"`
	// StageDurationS is each stage's length in seconds.
	StageDurationS float64 `json:"stage_duration_s"`
	// ServerMetrics is the metrics page scraped during the stages, ""
	// when none was.
	ServerMetrics string                 `json:"server_metrics,omitempty"`
	Stages        []analyze.SweepStage   `json:"stages"`
	Analysis      *analyze.SweepAnalysis `json:"analysis"`
}

// SweepRates says how the rates were chosen.
type SweepRates struct {
	// Mode is "list" (--rates 5,10,20) or "auto".
	Mode string `json:"mode"`
	// PerSec are the offered rates of the rate stages, in order.
	PerSec []float64 `json:"per_sec"`
	// Spacing is how auto rates fill the range ("linear").
	Spacing string `json:"spacing,omitempty"`
	// SynchronousPerSec and SaturatingPerSec are the auto range's ends:
	// the throughputs of the synchronous and the throughput stages.
	SynchronousPerSec float64 `json:"synchronous_per_sec,omitempty"`
	SaturatingPerSec  float64 `json:"saturating_per_sec,omitempty"`
	// MaxConcurrency is the throughput stage's requests in flight.
	MaxConcurrency int `json:"max_concurrency,omitempty"`
}

// WriteSweepJSON writes s as indented JSON.
func WriteSweepJSON(w io.Writer, s *Sweep) error {
	s.Schema = SweepSchemaVersion
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("reports: sweep.json: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadSweepJSON reads a sweep.json file.
func ReadSweepJSON(path string) (*Sweep, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	var s Sweep
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reports: %s: %w", path, err)
	}
	if s.Schema != SweepSchemaVersion {
		return nil, fmt.Errorf("%w: %s has schema %d, want %d", ErrSweepSchema, path, s.Schema, SweepSchemaVersion)
	}
	return &s, nil
}

// stageName names a stage for people: "synchronous", "throughput (64
// in flight)", "12.5/s".
func stageName(s *analyze.SweepStage) string {
	switch s.Kind {
	case analyze.StageThroughput:
		return fmt.Sprintf("throughput (%d in flight)", s.VUs)
	case analyze.StageRate:
		return numfmt.Sig(s.OfferedPerSec) + "/s"
	}
	return s.Kind
}

// Stages counts stages in words: "1 stage", "6 stages".
func Stages(n int) string {
	if n == 1 {
		return "1 stage"
	}
	return fmt.Sprintf("%d stages", n)
}

func perSec(v float64) string { return numfmt.Sig(v) + "/s" }

// stageOf returns the stage with index i, nil when none.
func (s *Sweep) stageOf(i int) *analyze.SweepStage {
	for k := range s.Stages {
		if s.Stages[k].Index == i {
			return &s.Stages[k]
		}
	}
	return nil
}

// sweepLines are the findings in sentences, for the text summary and the
// banner.
func sweepLines(s *Sweep) (knee string, lines []string) {
	a := s.Analysis
	if a == nil {
		return "no analysis", nil
	}
	switch k := a.Knee; {
	case k.Turned && k.RatePerSec > 0:
		knee = fmt.Sprintf("knee %s: latency turned at %s (%s)", perSec(k.RatePerSec), perSec(k.TurnedAtPerSec), k.Reason)
	case k.Turned:
		knee = fmt.Sprintf("no knee: the lowest rate %s had turned already (%s)", perSec(k.TurnedAtPerSec), k.Reason)
	case k.RatePerSec > 0:
		knee = fmt.Sprintf("knee not reached: latency held up to the highest rate, %s", perSec(k.RatePerSec))
	default:
		knee = "no knee: no rate stage ran"
	}
	if k := a.Knee; k.TTFTTurnedAtPerSec > 0 {
		lines = append(lines, fmt.Sprintf("p99 TTFT rose above %g× the baseline's at %s", analyze.KneeLatencyFactor, perSec(k.TTFTTurnedAtPerSec)))
	}
	slo := "the default SLO"
	if a.SLO.Source == "gates" {
		slo = "the gates of " + a.SLO.Gates
	}
	if a.SLO.MaxRatePerSec > 0 {
		lines = append(lines, fmt.Sprintf("highest rate meeting %s: %s", slo, perSec(a.SLO.MaxRatePerSec)))
	} else {
		lines = append(lines, "no rate met "+slo+", not even the lowest")
	}
	sat := a.Saturation
	satLine := fmt.Sprintf("saturation: %s", perSec(sat.RatePerSec))
	if st := s.stageOf(sat.Stage); st != nil {
		satLine += " (stage " + fmt.Sprint(st.Index) + ", " + stageName(st) + ")"
	}
	if !sat.Reached {
		satLine += " — a lower bound: no stage drove the service past it"
	}
	lines = append(lines, satLine)
	if r := a.Resources; r != nil {
		if r.First != "" {
			lines = append(lines, fmt.Sprintf("first to saturate: %s at %s (%s)", resourceName(r.First), perSec(r.AtPerSec), r.Basis))
		} else {
			lines = append(lines, "server metrics: "+r.Basis)
		}
	}
	if ad := a.Advice; ad != nil {
		if ad.Replicas > 0 {
			lines = append(lines, fmt.Sprintf("advice: %d replicas for %s with %s headroom (%s each of a %s capacity)",
				ad.Replicas, perSec(ad.TargetRatePerSec), numfmt.Percent(ad.Headroom), perSec(ad.PerReplicaPerSec), perSec(ad.CapacityPerSec)))
		} else {
			lines = append(lines, "advice: none — "+ad.Reason)
		}
	}
	return knee, lines
}

// resourceName names a resource for people.
func resourceName(r string) string {
	switch r {
	case analyze.ResourceWaiting:
		return "the queue (waiting requests)"
	case analyze.ResourceRunning:
		return "the running batch"
	case analyze.ResourceKVCache:
		return "the KV cache"
	}
	return r
}

// fmtQ formats a percentile of optional quantiles, "–" without.
func fmtQ(q *analyze.Quantiles, pick func(*analyze.Quantiles) float64) string {
	if q == nil {
		return "–"
	}
	return numfmt.Sig(pick(q))
}

func qP50(q *analyze.Quantiles) float64 { return q.P50 }
func qP99(q *analyze.Quantiles) float64 { return q.P99 }

// sloWord is a stage's SLO outcome in a word.
func sloWord(st *analyze.SweepStage) string {
	switch {
	case !st.SLO.Judged:
		return "–"
	case st.SLO.Met:
		return "met"
	}
	return "missed"
}

// WriteSweepText writes the sweep's summary for a terminal: one line per
// stage, then the findings.
func WriteSweepText(w io.Writer, s *Sweep) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "sweep %s: %s of %s against %s (%s), rates %s\n", s.ID, Stages(len(s.Stages)),
		fmtSeconds(s.StageDurationS), s.Target, s.Protocol, sweepRatesLine(s.Rates))
	if s.Status != SweepComplete {
		fmt.Fprintf(&b, "PARTIAL: %s: %s\n", s.Status, s.Reason)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "#\tstage\tthroughput/s\tp50 ms\tp99 ms\tp99 ttft ms\terrors\tdropped\tSLO\t")
	for i := range s.Stages {
		st := &s.Stages[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", st.Index, stageName(st), numfmt.Sig(st.ThroughputPerSec),
			fmtQ(st.Latency, qP50), fmtQ(st.Latency, qP99), fmtQ(st.TTFT, qP99), numfmt.Percent(st.ErrorRate), numfmt.Percent(st.DropRate), sloWord(st))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	knee, lines := sweepLines(s)
	fmt.Fprintf(&b, "\n%s\n", knee)
	for _, l := range lines {
		fmt.Fprintln(&b, l)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func sweepRatesLine(r SweepRates) string {
	var parts []string
	for _, v := range r.PerSec {
		parts = append(parts, numfmt.Sig(v))
	}
	list := strings.Join(parts, ", ") + "/s"
	if r.Mode != "auto" {
		return list
	}
	return fmt.Sprintf("auto (%s from the synchronous %s to the saturating %s: %s)", r.Spacing, perSec(r.SynchronousPerSec), perSec(r.SaturatingPerSec), list)
}

// sweepPage is what the sweep template renders.
type sweepPage struct {
	Title   string
	CSS     template.CSS
	Class   string
	Knee    string
	IDs     string
	Partial string
	Lines   []string
	Numbers []htmlNumber
	Charts  []htmlChart
	Stages  []sweepRow
	Each    []sweepResourceRow
	Defs    []htmlDetail
}

type sweepRow struct {
	Index, Stage, Throughput, P50, P99, TTFT50, TTFT99, Errors, Dropped, SLO, Class, Reasons, Dir, Server string
}

type sweepResourceRow struct {
	Resource, Metric, Limit, Source, Peak, Reached, Class string
}

var sweepCSS = template.CSS(htmlStyle(htmlPageSource) + `
.banner .knee{font-size:26px;font-weight:800}
.banner .ids{margin-top:6px}
tr.first td{font-weight:700}
#stages tr.stage td{border-bottom:0}
#stages tr.why td{padding-top:0}
`)

// SweepHTML writes the sweep's self-contained page: the findings, the
// throughput–latency curve with the knee and the saturation marked, the
// offered against the achieved rate, the stages and the server's
// resources.
func SweepHTML(w io.Writer, s *Sweep) error {
	pg, err := newSweepPage(s)
	if err != nil {
		return err
	}
	if err := sweepTemplate.Execute(w, pg); err != nil {
		return fmt.Errorf("reports: write sweep HTML: %w", err)
	}
	return nil
}

func newSweepPage(s *Sweep) (*sweepPage, error) {
	knee, lines := sweepLines(s)
	pg := &sweepPage{Title: "gonogo sweep · " + s.ID, CSS: sweepCSS, Class: "go", Knee: knee, Lines: lines,
		IDs: fmt.Sprintf("sweep %s · %s (%s) · %s of %s · rates %s", s.ID, s.Target, s.Protocol, Stages(len(s.Stages)), fmtSeconds(s.StageDurationS), sweepRatesLine(s.Rates))}
	if s.Status != SweepComplete {
		pg.Class, pg.Partial = "partial", "partial: "+s.Status+": "+s.Reason
	}
	if a := s.Analysis; a != nil {
		pg.Numbers = []htmlNumber{
			{Label: "knee", Value: perSec(a.Knee.RatePerSec), Sub: kneeSub(a.Knee), Bad: a.Knee.RatePerSec == 0},
			{Label: "highest rate meeting the SLO", Value: perSec(a.SLO.MaxRatePerSec), Sub: a.SLO.Source, Bad: a.SLO.MaxRatePerSec == 0},
			{Label: "saturation", Value: perSec(a.Saturation.RatePerSec), Sub: map[bool]string{true: "reached", false: "lower bound"}[a.Saturation.Reached]},
		}
		if r := a.Resources; r != nil && r.First != "" {
			pg.Numbers = append(pg.Numbers, htmlNumber{Label: "saturated first", Value: r.First, Sub: "at " + perSec(r.AtPerSec)})
		}
		if ad := a.Advice; ad != nil {
			v := "–"
			if ad.Replicas > 0 {
				v = fmt.Sprint(ad.Replicas)
			}
			pg.Numbers = append(pg.Numbers, htmlNumber{Label: "replicas", Value: v, Sub: "for " + perSec(ad.TargetRatePerSec) + ", " + numfmt.Percent(ad.Headroom) + " headroom", Bad: ad.Replicas == 0})
		}
		pg.Defs = []htmlDetail{
			{Name: "knee", Value: a.Knee.Definition},
			{Name: "SLO", Value: strings.Join(a.SLO.Rules, "; ")},
			{Name: "throughput", Value: "successful completions per second: for a rate stage, those between the 10th and the 90th percentile of completion times over the time between them; for a closed-model stage, by Little's law, VUs over the mean service time"},
		}
		if a.Baseline != nil {
			pg.Defs = append(pg.Defs, htmlDetail{Name: "baseline", Value: fmt.Sprintf("stage %d: p99 latency %s ms", a.Baseline.Stage, numfmt.Sig(a.Baseline.LatencyP99Ms))})
		}
		if ad := a.Advice; ad != nil {
			pg.Defs = append(pg.Defs, htmlDetail{Name: "advice", Value: ad.Formula})
		}
		if r := a.Resources; r != nil {
			pg.Each = resourceRows(s, r)
		}
	}
	for i := range s.Stages {
		pg.Stages = append(pg.Stages, newSweepRow(&s.Stages[i]))
	}
	charts, err := sweepCharts(s)
	if err != nil {
		return nil, err
	}
	pg.Charts = charts
	return pg, nil
}

func kneeSub(k analyze.Knee) string {
	if k.Turned {
		return "turned at " + perSec(k.TurnedAtPerSec)
	}
	return "not turned"
}

func newSweepRow(st *analyze.SweepStage) sweepRow {
	row := sweepRow{Index: fmt.Sprint(st.Index), Stage: stageName(st), Throughput: numfmt.Sig(st.ThroughputPerSec),
		P50: fmtQ(st.Latency, qP50), P99: fmtQ(st.Latency, qP99), TTFT50: fmtQ(st.TTFT, qP50), TTFT99: fmtQ(st.TTFT, qP99),
		Errors: numfmt.Percent(st.ErrorRate), Dropped: numfmt.Percent(st.DropRate), SLO: sloWord(st), Dir: st.Dir,
		Reasons: strings.Join(st.SLO.Reasons, "; ")}
	switch {
	case !st.SLO.Judged:
		row.Class = "inconclusive"
	case !st.SLO.Met:
		row.Class = "fail"
	}
	var server []string
	for _, res := range []string{analyze.ResourceWaiting, analyze.ResourceRunning, analyze.ResourceKVCache} {
		if l, ok := st.Server[res]; ok {
			limit := ""
			if l.Limit > 0 {
				limit = ", limit " + numfmt.Sig(l.Limit)
			}
			server = append(server, fmt.Sprintf("%s %s (p90 %s, max %s%s)", res, numfmt.Sig(l.Mean), numfmt.Sig(l.P90), numfmt.Sig(l.Max), limit))
		}
	}
	row.Server = strings.Join(server, " · ")
	return row
}

func resourceRows(s *Sweep, r *analyze.ResourceReport) []sweepResourceRow {
	var out []sweepResourceRow
	for _, e := range r.Each {
		row := sweepResourceRow{Resource: e.Resource, Metric: e.Metric, Source: e.LimitSource, Peak: numfmt.Sig(e.Peak), Limit: "–", Reached: "–"}
		if e.LimitSource != analyze.LimitNone {
			row.Limit = numfmt.Sig(e.Limit)
		}
		if e.Stage > 0 {
			row.Reached = fmt.Sprintf("stage %d, at %s", e.Stage, perSec(e.AtPerSec))
			if st := s.stageOf(e.Stage); st != nil {
				row.Reached = fmt.Sprintf("stage %d (%s), at %s", e.Stage, stageName(st), perSec(e.AtPerSec))
			}
		}
		if e.Resource == r.First {
			row.Class = "first"
		}
		out = append(out, row)
	}
	return out
}

// curvePoint is one stage on the throughput–latency curve.
type curvePoint struct {
	st *analyze.SweepStage
	x  float64
}

// curveOrder is the stages from the least load to the most, with
// latency data.
func curveOrder(s *Sweep) []curvePoint {
	var out []curvePoint
	add := func(st *analyze.SweepStage) {
		if st.Latency != nil && st.ThroughputPerSec > 0 {
			out = append(out, curvePoint{st, st.ThroughputPerSec})
		}
	}
	for _, kind := range []string{analyze.StageSynchronous, analyze.StageRate, analyze.StageThroughput} {
		var group []*analyze.SweepStage
		for i := range s.Stages {
			if s.Stages[i].Kind == kind {
				group = append(group, &s.Stages[i])
			}
		}
		slices.SortStableFunc(group, func(a, b *analyze.SweepStage) int {
			switch {
			case a.OfferedPerSec < b.OfferedPerSec:
				return -1
			case a.OfferedPerSec > b.OfferedPerSec:
				return 1
			}
			return 0
		})
		for _, st := range group {
			add(st)
		}
	}
	return out
}

// sweepCharts draws the throughput–latency curve (latency and, when
// streamed, TTFT percentiles against throughput, the knee and the
// saturation marked) and the achieved against the offered rate.
func sweepCharts(s *Sweep) ([]htmlChart, error) {
	pts := curveOrder(s)
	if len(pts) == 0 {
		return nil, nil
	}
	f := &chartFigure{title: "Throughput–latency curve",
		caption: "Each point is a stage, from the least load to the most: its throughput (successful completions per second) against its latency percentiles. The knee and the saturation are marked."}
	type series struct {
		pick  func(*analyze.SweepStage) *analyze.Quantiles
		label string
	}
	panels := []series{{func(st *analyze.SweepStage) *analyze.Quantiles { return st.Latency }, "latency (ms)"}}
	for _, p := range pts {
		if p.st.TTFT != nil {
			panels = append(panels, series{func(st *analyze.SweepStage) *analyze.Quantiles { return st.TTFT }, "ttft (ms)"})
			break
		}
	}
	for i, ps := range panels {
		p := newPlot("throughput (req/s)", ps.label)
		if i < len(panels)-1 {
			p.X.Label.Text = ""
		}
		p.X.Min = 0
		legend := len(f.legend)
		for _, q := range []struct {
			name  string
			pick  func(*analyze.Quantiles) float64
			color color.Color
		}{{"p50", qP50, palette.blue}, {"p99", qP99, palette.orange}} {
			var xys plotter.XYs
			for _, pt := range pts {
				if v := ps.pick(pt.st); v != nil {
					xys = append(xys, plotter.XY{X: pt.x, Y: q.pick(v)})
				}
			}
			if err := f.addLine(p, q.name, xys, q.color, 1.4, false); err != nil {
				return nil, err
			}
			if err := addDots(p, xys, q.color); err != nil {
				return nil, err
			}
		}
		if i > 0 {
			f.legend = f.legend[:legend]
		}
		p.Y.Min = 0
		headroom(p)
		f.panels = append(f.panels, p)
	}
	if a := s.Analysis; a != nil {
		if st := s.stageOf(a.Knee.Stage); st != nil && a.Knee.RatePerSec > 0 {
			f.markers = append(f.markers, eventMarker{x: st.ThroughputPerSec, x1: st.ThroughputPerSec, kind: "knee", label: "knee " + perSec(a.Knee.RatePerSec), color: palette.green})
		}
		if a.Saturation.RatePerSec > 0 {
			f.markers = append(f.markers, eventMarker{x: a.Saturation.RatePerSec, x1: a.Saturation.RatePerSec, kind: "saturation", label: "saturation " + perSec(a.Saturation.RatePerSec), color: palette.red})
		}
	}
	f.addEventLegend()
	out := []htmlChart{}
	c, err := renderFigure(f)
	if err != nil {
		return nil, err
	}
	out = append(out, *c)
	if g, err := offeredFigure(s); err != nil {
		return nil, err
	} else if g != nil {
		out = append(out, *g)
	}
	return out, nil
}

// addDots marks every point of a series.
func addDots(p *plot.Plot, xys plotter.XYs, c color.Color) error {
	if len(xys) == 0 {
		return nil
	}
	d, err := plotter.NewScatter(xys)
	if err != nil {
		return fmt.Errorf("reports: sweep chart: %w", err)
	}
	d.GlyphStyle = draw.GlyphStyle{Color: c, Radius: 3, Shape: draw.CircleGlyph{}}
	p.Add(d)
	return nil
}

// offeredFigure draws each rate stage's throughput against its offered
// rate, with the line where they are equal: a service that keeps up
// stays on it.
func offeredFigure(s *Sweep) (*htmlChart, error) {
	var xys plotter.XYs
	hi := 0.0
	for _, pt := range curveOrder(s) {
		if pt.st.Kind == analyze.StageRate {
			xys = append(xys, plotter.XY{X: pt.st.OfferedPerSec, Y: pt.st.ThroughputPerSec})
			hi = max(hi, pt.st.OfferedPerSec, pt.st.ThroughputPerSec)
		}
	}
	if len(xys) < 2 {
		return nil, nil
	}
	f := &chartFigure{title: "Throughput against offered rate", panelH: 220,
		caption: "Each rate stage's throughput against the rate it offered; on the dashed line the service kept up."}
	p := newPlot("offered rate (req/s)", "throughput (req/s)")
	p.X.Min, p.Y.Min = 0, 0
	if err := f.addLine(p, "kept up", plotter.XYs{{X: 0, Y: 0}, {X: hi, Y: hi}}, mutedInk, 0.8, true); err != nil {
		return nil, err
	}
	if err := f.addLine(p, "throughput", xys, palette.blue, 1.4, false); err != nil {
		return nil, err
	}
	if err := addDots(p, xys, palette.blue); err != nil {
		return nil, err
	}
	headroom(p)
	f.panels = []*plot.Plot{p}
	return renderFigure(f)
}

var sweepTemplate = template.Must(template.New("sweep").Parse(sweepPageSource))

const sweepPageSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<section class="banner {{.Class}}" id="verdict">
<div class="knee">{{.Knee}}</div>
<div class="ids">{{.IDs}}</div>
{{with .Partial}}<div class="partial" id="partial">⚠ {{.}}</div>{{end}}
{{if .Lines}}<ul>{{range .Lines}}<li>{{.}}</li>{{end}}</ul>{{end}}
</section>
{{if .Numbers}}<h2>Findings</h2>
<section class="numbers" id="numbers">
{{range .Numbers}}<div class="card{{if .Bad}} bad{{end}}"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div>{{with .Sub}}<div class="sub">{{.}}</div>{{end}}</div>
{{end}}</section>{{end}}
{{if .Charts}}<h2>Curve</h2>
{{range .Charts}}<figure>
{{.SVG}}
<figcaption>{{.Caption}}</figcaption>
</figure>
{{end}}{{end}}
<h2>Stages</h2>
<table id="stages">
<thead><tr><th>#</th><th>stage</th><th>throughput/s</th><th>p50 ms</th><th>p99 ms</th><th>ttft p50 ms</th><th>ttft p99 ms</th><th>errors</th><th>dropped</th><th>SLO</th></tr></thead>
<tbody>
{{range .Stages}}<tr class="{{.Class}} stage"><td class="num">{{.Index}}</td><td>{{.Stage}}</td><td class="num">{{.Throughput}}</td><td class="num">{{.P50}}</td><td class="num">{{.P99}}</td><td class="num">{{.TTFT50}}</td><td class="num">{{.TTFT99}}</td><td class="num">{{.Errors}}</td><td class="num">{{.Dropped}}</td><td class="status">{{.SLO}}</td></tr>
<tr class="{{.Class}} why"><td></td><td colspan="9"><div class="reason"><span class="mono">{{.Dir}}</span>{{with .Server}} · server: {{.}}{{end}}</div>{{with .Reasons}}<div class="reason">{{.}}</div>{{end}}</td></tr>
{{end}}</tbody>
</table>
{{if .Each}}<h2>Server resources</h2>
<table id="resources">
<thead><tr><th>resource</th><th>metric</th><th>limit</th><th>limit from</th><th>peak</th><th>reached</th></tr></thead>
<tbody>
{{range .Each}}<tr class="{{.Class}}"><td>{{.Resource}}</td><td class="mono">{{.Metric}}</td><td class="num">{{.Limit}}</td><td>{{.Source}}</td><td class="num">{{.Peak}}</td><td>{{.Reached}}</td></tr>
{{end}}</tbody>
</table>{{end}}
{{if .Defs}}<h2>Definitions</h2>
<dl id="definitions">
{{range .Defs}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>
{{end}}</dl>{{end}}
</main>
</body>
</html>
`
