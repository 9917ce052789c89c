package reports

import (
	"fmt"
	"html/template"
	"image/color"
	"slices"
	"sort"
	"time"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// htmlChart is one rendered chart of the page.
type htmlChart struct {
	Caption string
	SVG     template.HTML
}

// chartFuncs build the page's charts in order; each returns nil when the
// run has no data for it.
var chartFuncs = []func(in Input, ax timeAxis) ([]*chartFigure, error){
	steadyStateFigure,
	latencyFigure,
	spectrumFigure,
	throughputFigure,
	tokensOverTimeFigure,
	tokenFigures,
	divergenceFigures,
}

// buildCharts renders every chart the run has data for.
func buildCharts(in Input) ([]htmlChart, error) {
	ax := runTimeAxis(in)
	var out []htmlChart
	for _, fn := range chartFuncs {
		figs, err := fn(in, ax)
		if err != nil {
			return nil, err
		}
		for _, f := range figs {
			f.addEventLegend()
			svg, err := f.svg()
			if err != nil {
				return nil, err
			}
			out = append(out, htmlChart{Caption: f.caption, SVG: svg})
		}
	}
	return out, nil
}

// runTimeAxis is the time axis of the run: from its start over its
// duration, widened to the span of its interval histograms and timeline
// (a killed run recorded no end).
func runTimeAxis(in Input) timeAxis {
	var start, end time.Time
	switch {
	case in.Data.Summary != nil:
		start, end = in.Data.Summary.Started, in.Data.Summary.Ended
	case in.Run != nil:
		start, end = in.Run.Started, in.Run.Ended
	}
	for _, iv := range in.Data.Intervals {
		if start.IsZero() || iv.Start.Before(start) {
			start = iv.Start
		}
		if iv.End.After(end) {
			end = iv.End
		}
	}
	if tl := in.Data.Timeline; len(tl) > 0 && !start.IsZero() {
		if e := start.Add(secondsDur(tl[len(tl)-1].EndS)); e.After(end) {
			end = e
		}
	}
	return newTimeAxis(start, max(0, end.Sub(start).Seconds()))
}

// eventMarkers turns the run's events into markers on ax: instants, and
// spans clipped to the axis. Events wholly outside the axis are left out.
func eventMarkers(events []gonogo.Event, ax timeAxis) []eventMarker {
	out := make([]eventMarker, 0, len(events))
	for _, e := range events {
		label := e.Message
		if label == "" {
			label = e.Kind
		}
		m := eventMarker{x: ax.at(e.Time), kind: e.Kind, label: truncRunes(label, maxLabelRune), color: eventColor(e.Kind)}
		m.x1 = m.x
		if e.End != nil {
			m.span, m.x1 = true, ax.at(*e.End)
		}
		if m.x1 < 0 || m.x > ax.max {
			continue
		}
		m.x, m.x1 = max(m.x, 0), min(m.x1, ax.max)
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].x < out[j].x })
	return out
}

// newTimeFigure is a figure over the run's time axis, with the run's
// events on it.
func newTimeFigure(in Input, ax timeAxis, title, caption string) *chartFigure {
	return &chartFigure{title: title, caption: caption, markers: eventMarkers(in.Data.Events, ax)}
}

// oneFigure adapts a builder of at most one figure to chartFuncs.
func oneFigure(f *chartFigure, err error) ([]*chartFigure, error) {
	if f == nil || err != nil {
		return nil, err
	}
	return []*chartFigure{f}, nil
}

// latencyFigure plots p50, p90, p99 and max latency per interval.
func latencyFigure(in Input, ax timeAxis) ([]*chartFigure, error) {
	s := overTime(in.Data.Intervals, analyze.MetricLatency, ax)
	if len(s.x) == 0 {
		return nil, nil
	}
	f := newTimeFigure(in, ax, "Latency percentiles over time",
		"Overall latency per interval, measured from the intended send time."+bucketNote(s.perBucket, "the maximum"))
	p := ax.panel("latency (ms)")
	f.panels = []*plot.Plot{p}
	if err := f.addPercentiles(p, s, true); err != nil {
		return nil, err
	}
	headroom(p)
	return []*chartFigure{f}, nil
}

// addPercentiles draws a series' p50, p90 and p99 lines on p, and its
// maximum when withMax.
func (f *chartFigure) addPercentiles(p *plot.Plot, s latencySeries, withMax bool) error {
	lines := []struct {
		name  string
		y     []float64
		color color.Color
		width vg.Length
	}{
		{"p50", s.p50, palette.blue, 1.4},
		{"p90", s.p90, palette.green, 1.2},
		{"p99", s.p99, palette.orange, 1.4},
		{"max", s.max, palette.red, 0.8},
	}
	if !withMax {
		lines = lines[:3]
	}
	for _, l := range lines {
		if err := f.addLine(p, l.name, toXYs(s.x, l.y), l.color, l.width, false); err != nil {
			return err
		}
	}
	return nil
}

// tokensOverTimeFigure plots TTFT p50, p90 and p99 per interval and,
// below, TPOT's when the run has them.
func tokensOverTimeFigure(in Input, ax timeAxis) ([]*chartFigure, error) {
	ttft := overTime(in.Data.Intervals, analyze.MetricTTFT, ax)
	if len(ttft.x) == 0 {
		return nil, nil
	}
	f := newTimeFigure(in, ax, "Time to first token (TTFT) over time",
		"TTFT per interval: time from send to the first non-empty content chunk."+bucketNote(ttft.perBucket, "the maximum"))
	series, yLabels := []latencySeries{ttft}, []string{"ttft (ms)"}
	if tpot := overTime(in.Data.Intervals, analyze.MetricTPOT, ax); len(tpot.x) > 0 {
		f.title = "TTFT and TPOT over time"
		f.caption += " Time per output token (TPOT) per interval below."
		series, yLabels = append(series, tpot), append(yLabels, "tpot (ms)")
	}
	for i, s := range series {
		p := ax.panel(yLabels[i])
		if i < len(series)-1 {
			p.X.Label.Text = ""
		}
		f.panels = append(f.panels, p)
		legend := len(f.legend)
		if err := f.addPercentiles(p, s, false); err != nil {
			return nil, err
		}
		if i > 0 {
			f.legend = f.legend[:legend] // the panels share the top one's legend
		}
		headroom(p)
	}
	return []*chartFigure{f}, nil
}

// bucketNote explains a downsampled series in a caption.
func bucketNote(perBucket int, agg string) string {
	if perBucket <= 1 {
		return ""
	}
	return fmt.Sprintf(" Each point is %s over %d intervals.", agg, perBucket)
}

// spectrumFigure plots the overall latency percentile spectrum, the
// baseline's overlaid.
func spectrumFigure(in Input, _ timeAxis) ([]*chartFigure, error) {
	return oneFigure(spectrumChart(in, analyze.MetricLatency, "Latency percentile spectrum",
		"Latency at each percentile of the whole run; the x axis stretches the tail (HdrHistogram style)."))
}

// tokenFigures plot the TTFT and TPOT spectra when the run has them.
func tokenFigures(in Input, _ timeAxis) ([]*chartFigure, error) {
	var out []*chartFigure
	for _, m := range []struct{ metric, title, caption string }{
		{analyze.MetricTTFT, "Time to first token (TTFT) spectrum", "Time from send to the first non-empty content chunk."},
		{analyze.MetricTPOT, "Time per output token (TPOT) spectrum", "(e2e − ttft) / (output tokens − 1), per request."},
	} {
		f, err := spectrumChart(in, m.metric, m.title, m.caption)
		if err != nil {
			return nil, err
		}
		if f != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// spectrumChart is the percentile spectrum of one metric, nil when the run
// has no values for it.
func spectrumChart(in Input, metric, title, caption string) (*chartFigure, error) {
	h := in.Data.Histogram(analyze.Overall, metric)
	if h == nil || h.TotalCount() == 0 {
		return nil, nil
	}
	f := &chartFigure{title: title, caption: caption}
	p := newPlot("percentile", metric+" (ms)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ninesTicks{}
	p.Y.Min = 0
	f.panels = []*plot.Plot{p}
	if in.BaselineData != nil {
		if bh := in.BaselineData.Histogram(analyze.Overall, metric); bh != nil && bh.TotalCount() > 0 {
			name := "baseline " + truncRunes(in.BaselineData.ID, 40)
			if err := f.addLine(p, name, percentileSpectrum(bh, 1000), palette.grey, 1.4, true); err != nil {
				return nil, err
			}
		}
	}
	name := "this run " + truncRunes(in.Data.ID, 40)
	if err := f.addLine(p, name, percentileSpectrum(h, 1000), palette.blue, 1.6, false); err != nil {
		return nil, err
	}
	p.X.Min = 1
	headroom(p)
	return f, nil
}

// throughputFigure plots completions per second (and the target rate) and,
// below, failures and drops per second.
func throughputFigure(in Input, ax timeAxis) ([]*chartFigure, error) {
	s := ratesFromTimeline(in.Data.Timeline, ax)
	if len(s.x) == 0 {
		s = ratesFromIntervals(in.Data.Intervals, ax)
	}
	if len(s.x) == 0 {
		return nil, nil
	}
	f := newTimeFigure(in, ax, "Throughput and errors", "Completed requests per second"+bucketNote(s.perBucket, "the average"))
	top := ax.panel("completed (req/s)")
	f.panels = []*plot.Plot{top}
	if err := f.addLine(top, "completed/s", toXYs(s.x, s.done), palette.blue, 1.4, false); err != nil {
		return nil, err
	}
	if target := targetRatePerSec(in); target > 0 {
		line := plotter.XYs{{X: 0, Y: target}, {X: ax.max, Y: target}}
		if err := f.addLine(top, fmt.Sprintf("target %s/s", numfmt.Sig(target)), line, palette.grey, 1, true); err != nil {
			return nil, err
		}
	}
	headroom(top)
	if !s.counts {
		f.caption = "Completed requests per second, from the latency interval histograms (the run has no timeline)." + bucketNote(s.perBucket, "the average")
		return []*chartFigure{f}, nil
	}
	f.caption += "; failed requests and dropped arrivals per second below."
	bottom := ax.panel("failed, dropped (/s)")
	top.X.Label.Text = ""
	f.panels = append(f.panels, bottom)
	if err := f.addLine(bottom, "failed/s", toXYs(s.x, s.failed), palette.red, 1.4, false); err != nil {
		return nil, err
	}
	if err := f.addLine(bottom, "dropped/s", toXYs(s.x, s.dropped), palette.purple, 1.2, false); err != nil {
		return nil, err
	}
	bottom.Y.Max = max(bottom.Y.Max, 1) // a run without failures keeps a 0..1 axis
	headroom(bottom)
	return []*chartFigure{f}, nil
}

// maxSegments bounds the segments of a divergence chart (the most
// divergent are kept).
const maxSegments = 15

// divergenceFigures plot, per candidate, the raw and noise-corrected
// divergence of each segment.
func divergenceFigures(in Input, _ timeAxis) ([]*chartFigure, error) {
	d := in.Data.Divergence
	if d == nil {
		return nil, nil
	}
	var out []*chartFigure
	for _, c := range d.Candidates {
		if len(c.Segments) == 0 {
			continue
		}
		f, err := divergenceChart(c, d.NoiseMeasured)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// chartSegments are the segments a divergence chart shows, top to
// bottom: the most divergent maxSegments, ordered by key and then value
// with numbers compared as numbers ("0-128" before "128-512").
func chartSegments(c divergence.CandidateReport) []divergence.SegmentReport {
	segs := slices.Clone(c.Segments)
	if len(segs) > maxSegments {
		sort.SliceStable(segs, func(i, j int) bool { return segs[i].Corrected > segs[j].Corrected })
		segs = segs[:maxSegments]
	}
	sort.SliceStable(segs, func(i, j int) bool {
		if segs[i].Key != segs[j].Key {
			return naturalLess(segs[i].Key, segs[j].Key)
		}
		return naturalLess(segs[i].Value, segs[j].Value)
	})
	return segs
}

// divergenceChart plots the chartSegments of a candidate, each bar pair
// labelled with the pairs compared.
func divergenceChart(c divergence.CandidateReport, noise bool) (*chartFigure, error) {
	segs := chartSegments(c)
	kept := ""
	if len(segs) < len(c.Segments) {
		kept = fmt.Sprintf(" The %d most divergent of %d segments.", len(segs), len(c.Segments))
	}
	// The first segment goes on top: the nominal axis counts up.
	slices.Reverse(segs)
	names := make([]string, len(segs))
	raw, corr := make(plotter.Values, len(segs)), make(plotter.Values, len(segs))
	counts := plotter.XYLabels{XYs: make(plotter.XYs, len(segs)), Labels: make([]string, len(segs))}
	for i, s := range segs {
		names[i] = truncRunes(s.Key+"="+s.Value, 28)
		if s.ExceedsNoise {
			names[i] += " *"
		}
		raw[i], corr[i] = 100*s.DivergedRate, 100*s.Corrected
		counts.XYs[i] = plotter.XY{X: max(raw[i], corr[i], 0), Y: float64(i)}
		counts.Labels[i] = "n=" + numfmt.Thousands(s.Compared)
	}
	f := &chartFigure{
		title:   "Output divergence by segment: " + truncRunes(c.Target, 40) + " vs primary",
		caption: "Share of compared pairs whose outputs differ, raw and corrected for the primary-vs-secondary noise; n pairs compared; * the segment's divergence exceeds its noise by the McNemar test." + kept,
		panelH:  vg.Length(max(140, 24*len(segs)+60)),
	}
	if !noise {
		f.caption = "Share of compared pairs whose outputs differ; n pairs compared; no secondary ran, so nothing is noise-corrected or tested against noise." + kept
	}
	p := newPlot("diverged pairs (%)", "")
	p.NominalY(names...)
	p.X.Min = 0
	p.Y.Min, p.Y.Max = -0.6, float64(len(segs))-0.4
	f.panels = []*plot.Plot{p}
	for _, b := range []struct {
		name   string
		vals   plotter.Values
		color  color.Color
		offset vg.Length
	}{
		{"raw", raw, palette.paleBlue, 4.5},
		{"noise-corrected", corr, palette.blue, -4.5},
	} {
		bars, err := plotter.NewBarChart(b.vals, 9)
		if err != nil {
			return nil, fmt.Errorf("reports: chart %q: %w", f.title, err)
		}
		bars.Horizontal, bars.Color, bars.Offset, bars.LineStyle.Width = true, b.color, b.offset, 0
		p.Add(bars)
		f.legend = append(f.legend, chartLegendEntry{b.name, bars})
	}
	labels, err := plotter.NewLabels(counts)
	if err != nil {
		return nil, fmt.Errorf("reports: chart %q: %w", f.title, err)
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i] = textStyle(9, xfont.WeightNormal)
		labels.TextStyle[i].Color = mutedInk
		labels.TextStyle[i].YAlign = draw.YCenter
	}
	labels.Offset = vg.Point{X: 4}
	p.Add(labels)
	// Percent; no divergence keeps a 0..1 axis. The headroom leaves room
	// for the counts at the bars' ends.
	p.X.Max = max(1.2*p.X.Max, 1)
	return f, nil
}
