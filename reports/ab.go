package reports

import (
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// ErrNoReadout is returned by ABHTML and ABMarkdown for a nil readout.
var ErrNoReadout = errors.New("reports: no A/B readout to report")

// ABHTML writes an A/B experiment's readout as one self-contained HTML
// page (the run report's style, inline SVG, no script):
//   - a banner with the verdict (ship, worse, not yet decided, invalid)
//     and its reasons, the experiment, control and treatment, the split,
//     the time and how the tests were made;
//   - the sample-ratio check (observed against expected users,
//     chi-square p, OK or mismatch), the users per variant with those
//     left out (contaminated, joined under another split) and the
//     outcomes by what became of them, the excluded ones included;
//   - per metric its role, kind, control and treatment means (rates for
//     binomial metrics), absolute and relative lift with their intervals
//     (sequential or fixed, as the test was made), p and adjusted p and
//     status, and a forest plot of the relative lifts with the zero line
//     and the guardrails' margins;
//   - per metric its cumulative lift over time with its interval band,
//     its lift per segment with adjusted p-values and the caveat of
//     comparing many, and its lift per exposure cohort with the novelty
//     (decay) flag and its reasons.
//
// Parts without data (no statistics yet, no points over time, no
// segments, a metric too small to test or whose control mean is 0) say
// so instead of a number.
func ABHTML(w io.Writer, r *abtest.Readout) error {
	if r == nil {
		return ErrNoReadout
	}
	pg, err := newABPage(r)
	if err != nil {
		return err
	}
	if err := abTemplate.Execute(w, pg); err != nil {
		return fmt.Errorf("reports: write A/B HTML: %w", err)
	}
	return nil
}

// abPage is what the A/B template renders.
type abPage struct {
	Title    string
	CSS      template.CSS
	Banner   abBanner
	SRM      abSRM
	Users    []abUserRow
	Outcomes []abCountRow
	Metrics  []abMetricRow
	Forest   *htmlChart
	Details  []abDetail
}

type abBanner struct {
	Class, Decision, Experiment, Arms, Split, Time, Method string
	Reasons                                                []string
	MoreReasons                                            int
}

type abSRM struct {
	// Status is OK, MISMATCH or a sentence saying why there is no check.
	Status, Class, ChiSq, P, Alpha string
	Rows                           []abSRMRow
}

type abSRMRow struct{ Variant, Observed, ObservedShare, Expected, ExpectedShare string }

type abUserRow struct {
	Variant, Exposed, Contaminated, OtherSplit, Analysed string
	Total                                                bool
}

type abCountRow struct {
	What, Count, Share string
	// Excluded marks outcomes left out of the statistics, highlighted
	// when there are any.
	Excluded bool
	Class    string
}

type abMetricRow struct {
	Class, Name, Variant, Role, Kind, Control, Treatment, Absolute, Relative, Interval, P, AdjustedP, Status, Reason string
	LowerIsBetter                                                                                                    bool
}

// abDetail is one metric's section: over time, by segment, by cohort.
type abDetail struct {
	Name         string
	OverTime     *htmlChart
	OverTimeNote string
	Segments     []abSegments
	Novelty      *abNovelty
	NoveltyNote  string
}

type abSegments struct {
	Attribute, Caveat string
	Rows              []abSegmentRow
}

type abSegmentRow struct{ Class, Name, Users, Control, Treatment, Relative, P, AdjustedP, Significant string }

type abNovelty struct {
	Flag, Class, Slope string
	Reasons            []string
	Chart              *htmlChart
	Rows               []abSegmentRow
}

// abCSS is the run report's style sheet and what the A/B page adds.
var abCSS = template.CSS(htmlStyle(htmlPageSource) + `
.banner.invalid{background:var(--nogo)}
.banner .method{margin-top:2px;font-size:13.5px;opacity:.92}
tr.total td{font-weight:700;background:#eef1f4}
#metrics tr.metric td{border-bottom:0}
#metrics tr.why td{padding-top:0}
.ab-metric{margin-top:30px}
.ab-metric h3{font-size:16px;margin:0 0 8px}
.ab-metric h4{font-size:14.5px;margin:16px 0 6px}
.caveat{color:var(--muted);font-size:13px;margin:6px 0 0}
.note{color:var(--muted);font-style:italic;margin:4px 0}
`)

// htmlStyle is the content of the first <style> element of page.
func htmlStyle(page string) string {
	_, rest, _ := strings.Cut(page, "<style>")
	css, _, _ := strings.Cut(rest, "</style>")
	return css
}

func newABPage(r *abtest.Readout) (*abPage, error) {
	pg := &abPage{CSS: abCSS, Banner: newABBanner(r), SRM: newABSRM(r), Users: abUserRows(r.Users), Outcomes: abOutcomeRows(r.Outcomes)}
	pg.Title = "gonogo A/B · " + r.Experiment + " · " + pg.Banner.Decision
	var results []abtest.MetricResult
	if r.Stats != nil {
		results = r.Stats.Metrics
	}
	multi := abVariantCount(results) > 1
	for _, m := range results {
		pg.Metrics = append(pg.Metrics, newABMetricRow(m, multi))
	}
	forest, err := abMetricForest(r, results)
	if err != nil {
		return nil, err
	}
	pg.Forest = forest
	for _, d := range r.Metrics {
		det, err := newABDetail(r, d, abResultOf(r, d.Name))
		if err != nil {
			return nil, err
		}
		pg.Details = append(pg.Details, det)
	}
	return pg, nil
}

// abDecisions are the banner's class and text of each verdict.
var abDecisions = map[abtest.Verdict][2]string{
	abtest.Ship:          {"go", "SHIP"},
	abtest.Worse:         {"no-go", "WORSE"},
	abtest.NotYetDecided: {"inconclusive", "NOT YET DECIDED"},
	abtest.Invalid:       {"invalid", "INVALID"},
}

func newABBanner(r *abtest.Readout) abBanner {
	b := abBanner{Class: "none", Decision: "NOT JUDGED", Experiment: r.Experiment, Arms: r.Treatment + " vs " + r.Control}
	if d, ok := abDecisions[r.Verdict]; ok {
		b.Class, b.Decision = d[0], d[1]
	} else if r.Verdict != "" {
		b.Decision = strings.ToUpper(string(r.Verdict))
	}
	if r.Split > 0 {
		b.Split = fmt.Sprintf("%s on %s, %s on %s", numfmt.Percent(r.Split/100), r.Treatment, numfmt.Percent(1-r.Split/100), r.Control)
	}
	if !r.Time.IsZero() {
		b.Time = r.Time.UTC().Format(time.RFC3339)
	}
	if r.Stats != nil {
		b.Method = abMethodLine(r.Stats.Config)
	}
	b.Reasons = r.Reasons
	if len(b.Reasons) > htmlMaxReasons {
		b.Reasons, b.MoreReasons = b.Reasons[:htmlMaxReasons], len(b.Reasons)-htmlMaxReasons
	}
	return b
}

// abMethodLine says how the tests were made.
func abMethodLine(c abtest.Config) string {
	parts := []string{"fixed-horizon tests (valid when read once, at the planned end)"}
	if c.Sequential {
		parts[0] = "sequential tests (always-valid confidence sequences: reading them at any time is safe)"
	}
	parts = append(parts, fmt.Sprintf("α = %g", c.Alpha))
	switch c.Correction {
	case abtest.NoCorrection:
		parts = append(parts, "goals not corrected for multiplicity")
	case "":
	default:
		parts = append(parts, "goals "+string(c.Correction)+"-corrected")
	}
	if c.CUPED {
		parts = append(parts, "CUPED on")
	}
	return strings.Join(parts, " · ")
}

func newABSRM(r *abtest.Readout) abSRM {
	switch {
	case r.Stats == nil:
		return abSRM{Status: "not checked: no statistics yet", Class: "inconclusive"}
	case r.Stats.SRM == nil:
		return abSRM{Status: fmt.Sprintf("not checked yet: a variant expects fewer than %d users, too few for the chi-square test", abtest.MinSRMCount), Class: "inconclusive"}
	}
	s := r.Stats.SRM
	out := abSRM{Status: "OK", Class: "go", ChiSq: numfmt.Sig(s.ChiSq), P: numfmt.PValue(s.PValue), Alpha: numfmt.Sig(s.Alpha)}
	if s.Mismatch {
		out.Status, out.Class = "MISMATCH", "no-go"
	}
	var n int64
	var e float64
	for _, v := range s.Observed {
		n += v
	}
	for _, v := range s.Expected {
		e += v
	}
	for _, v := range abVariantOrder(r, slices.Collect(maps.Keys(s.Observed)), slices.Collect(maps.Keys(s.Expected))) {
		row := abSRMRow{Variant: v, Observed: numfmt.Thousands(s.Observed[v]), ObservedShare: fmtShare(s.Observed[v], n), Expected: "–", ExpectedShare: "–"}
		if x, ok := s.Expected[v]; ok {
			row.Expected, row.ExpectedShare = numfmt.Thousands(int64(math.Round(x))), numfmt.Percent(x/e)
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

// abVariantOrder is the variants named in any of names, control first,
// treatment second, the others by name.
func abVariantOrder(r *abtest.Readout, names ...[]string) []string {
	var all []string
	for _, ns := range names {
		for _, n := range ns {
			if !slices.Contains(all, n) {
				all = append(all, n)
			}
		}
	}
	rank := func(v string) int {
		switch v {
		case r.Control:
			return 0
		case r.Treatment:
			return 1
		}
		return 2
	}
	slices.SortFunc(all, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return all
}

func abUserRows(us []abtest.Users) []abUserRow {
	if len(us) == 0 {
		return nil
	}
	var tot abtest.Users
	out := make([]abUserRow, 0, len(us)+1)
	row := func(name string, u abtest.Users, total bool) abUserRow {
		return abUserRow{Variant: name, Exposed: numfmt.Thousands(u.Exposed), Contaminated: numfmt.Thousands(u.Contaminated),
			OtherSplit: numfmt.Thousands(u.OtherSplit), Analysed: numfmt.Thousands(u.Analysed), Total: total}
	}
	for _, u := range us {
		out = append(out, row(u.Variant, u, false))
		tot.Exposed += u.Exposed
		tot.Contaminated += u.Contaminated
		tot.OtherSplit += u.OtherSplit
		tot.Analysed += u.Analysed
	}
	return append(out, row("total", tot, true))
}

func abOutcomeRows(o abtest.Outcomes) []abCountRow {
	total := o.Counted + o.UnknownUser + o.BeforeExposure + o.Contaminated + o.Duplicate
	out := make([]abCountRow, 0, 6)
	for _, c := range []struct {
		what     string
		n        int64
		excluded bool
	}{
		{"counted (joined to the user's exposure, after it)", o.Counted, false},
		{"unknown user (never exposed)", o.UnknownUser, true},
		{"before the user's exposure", o.BeforeExposure, true},
		{"contaminated user (routed to both variants)", o.Contaminated, true},
		{"duplicate event id (counted once)", o.Duplicate, true},
	} {
		row := abCountRow{What: c.what, Count: numfmt.Thousands(c.n), Share: fmtShare(c.n, total), Excluded: c.excluded}
		if c.excluded && c.n > 0 {
			row.Class = "inconclusive"
		}
		out = append(out, row)
	}
	return append(out, abCountRow{What: "ingested", Count: numfmt.Thousands(total), Share: fmtShare(total, total), Class: "total"})
}

// abVariantCount is the number of treatments the results compare.
func abVariantCount(results []abtest.MetricResult) int {
	var vs []string
	for _, m := range results {
		if !slices.Contains(vs, m.Variant) {
			vs = append(vs, m.Variant)
		}
	}
	return len(vs)
}

// abResultOf is the judged result of metric for the readout's treatment
// (else for the first treatment with one), nil when there is none.
func abResultOf(r *abtest.Readout, metric string) *abtest.MetricResult {
	if r.Stats == nil {
		return nil
	}
	var first *abtest.MetricResult
	for i, m := range r.Stats.Metrics {
		if m.Metric != metric {
			continue
		}
		if m.Variant == r.Treatment {
			return &r.Stats.Metrics[i]
		}
		if first == nil {
			first = &r.Stats.Metrics[i]
		}
	}
	return first
}

// abStatusClass is the row class of a metric's status.
func abStatusClass(s abtest.Status) string {
	switch s {
	case abtest.StatusWorse:
		return "fail"
	case abtest.StatusBetter, abtest.StatusNonInferior:
		return "pass"
	}
	return "inconclusive"
}

func newABMetricRow(m abtest.MetricResult, withVariant bool) abMetricRow {
	res := m.Result
	row := abMetricRow{
		Class: abStatusClass(m.Status), Name: m.Metric, Role: string(m.Role), Kind: string(res.Kind),
		Control: abMean(res.Kind, res.Control.Mean), Treatment: abMean(res.Kind, res.Treatment.Mean),
		Interval: abInterval(res), Status: string(m.Status), Reason: m.Reason, LowerIsBetter: m.LowerIsBetter,
		Absolute: "–", Relative: "–", P: "–", AdjustedP: "–",
	}
	if withVariant {
		row.Variant = m.Variant
	}
	if m.Margin > 0 {
		row.Role += ", margin " + numfmt.Percent(m.Margin)
	}
	if res.Insufficient != "" {
		return row
	}
	if c := res.CUPED; c != nil {
		row.Kind += ", CUPED: variance " + abSigned(-100*c.VarianceReduction) + " %"
	}
	row.Absolute = abAbsolute(res.Kind, res.Absolute)
	row.P, row.AdjustedP = numfmt.PValue(abLiftP(res)), numfmt.PValue(m.AdjustedP)
	row.Relative = "undefined (control mean 0)"
	if res.Relative != nil {
		row.Relative = abRelative(*res.Relative)
	}
	return row
}

// abLiftP is the p-value a result is judged by: the lift's, or the
// difference's where the lift is undefined.
func abLiftP(r abtest.Result) float64 {
	if r.Relative != nil {
		return r.Relative.PValue
	}
	return r.Absolute.PValue
}

// abMean is a variant's mean: a rate for binomial metrics.
func abMean(kind abtest.Kind, v float64) string {
	if kind == abtest.Binomial {
		return numfmt.Percent(v)
	}
	return numfmt.Sig(v)
}

func abSigned(v float64) string {
	if v > 0 {
		return "+" + numfmt.Sig(v)
	}
	return numfmt.Sig(v)
}

// abAbsolute is the difference of means with its interval: percentage
// points for binomial metrics.
func abAbsolute(kind abtest.Kind, e abtest.Estimate) string {
	if kind == abtest.Binomial {
		return fmt.Sprintf("%s pp [%s, %s]", abSigned(100*e.Value), abSigned(100*e.Lower), abSigned(100*e.Upper))
	}
	return fmt.Sprintf("%s [%s, %s]", abSigned(e.Value), abSigned(e.Lower), abSigned(e.Upper))
}

// abRelative is the lift with its interval.
func abRelative(e abtest.Estimate) string {
	return fmt.Sprintf("%s [%s, %s]", abChange(e.Value), abChange(e.Lower), abChange(e.Upper))
}

// abChange is numfmt.Change, which signs +Inf twice, for any value.
func abChange(v float64) string {
	if !finite(v) {
		return numfmt.Sig(v) + " %"
	}
	return numfmt.Change(v)
}

// abInterval says what a result's intervals are.
func abInterval(r abtest.Result) string {
	level := numfmt.Percent(1 - r.Alpha)
	switch r.Method {
	case abtest.MethodSequential:
		return level + " sequential (always valid)"
	case abtest.MethodWelch:
		return level + " fixed (Welch t)"
	case abtest.MethodZ:
		return level + " fixed (z)"
	}
	return level + " " + r.Method
}

// abIntervalWord is how a caption names the interval of a result.
func abIntervalWord(r abtest.Result) string {
	if r.Method == abtest.MethodSequential {
		return numfmt.Percent(1-r.Alpha) + " always-valid confidence sequence"
	}
	return numfmt.Percent(1-r.Alpha) + " fixed-horizon confidence interval"
}

// forestRow is one interval of a forest plot, in percent.
type forestRow struct {
	label       string
	est, lo, hi float64
	group       string
	// margin is where the row's margin sits (−1.5 for a 1.5 % margin
	// on a higher-is-better metric), NaN without one.
	margin float64
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// abGroupColors colour a forest plot's groups: metric statuses, and the
// cohorts of a novelty chart.
var abGroupColors = map[string]color.Color{
	string(abtest.StatusBetter):       palette.green,
	string(abtest.StatusWorse):        palette.red,
	string(abtest.StatusNonInferior):  palette.blue,
	string(abtest.StatusInconclusive): palette.orange,
	"cohort":                          palette.blue,
}

// forestFigure draws rows top to bottom as horizontal intervals around
// their estimates, coloured by group, with a line at zero and each row's
// margin as a short dashed red line.
func forestFigure(title, caption, xLabel string, rows []forestRow) (*chartFigure, error) {
	f := &chartFigure{title: title, caption: caption, panelH: vg.Length(max(140, 26*len(rows)+60))}
	p := newPlot(xLabel, "")
	names := make([]string, len(rows))
	n := len(rows)
	y := func(i int) float64 { return float64(n - 1 - i) } // the first row on top
	for i, r := range rows {
		names[n-1-i] = truncRunes(r.label, 28)
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
	f.panels = []*plot.Plot{p}
	var groups []string
	for _, r := range rows {
		if !slices.Contains(groups, r.group) {
			groups = append(groups, r.group)
		}
	}
	for _, g := range groups {
		c := abGroupColors[g]
		if c == nil {
			c = mutedInk
		}
		bars := &plotter.XErrorBars{LineStyle: draw.LineStyle{Color: c, Width: 2}, CapWidth: 8}
		var pts plotter.XYs
		for i, r := range rows {
			if r.group == g {
				pts = append(pts, plotter.XY{X: r.est, Y: y(i)})
				bars.XErrors = append(bars.XErrors, struct{ Low, High float64 }{r.est - r.lo, r.hi - r.est})
			}
		}
		bars.XYs = pts
		dots, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, fmt.Errorf("reports: chart %q: %w", title, err)
		}
		dots.GlyphStyle = draw.GlyphStyle{Color: c, Radius: 4, Shape: draw.CircleGlyph{}}
		p.Add(bars, dots)
		f.legend = append(f.legend, chartLegendEntry{g, dots})
	}
	zero, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.6}, {X: 0, Y: float64(n) - 0.4}})
	if err != nil {
		return nil, fmt.Errorf("reports: chart %q: %w", title, err)
	}
	zero.Color, zero.Width = inkColor, 1
	p.Add(zero)
	var margin *plotter.Line
	for i, r := range rows {
		if math.IsNaN(r.margin) {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: r.margin, Y: y(i) - 0.4}, {X: r.margin, Y: y(i) + 0.4}})
		if err != nil {
			return nil, fmt.Errorf("reports: chart %q: %w", title, err)
		}
		l.Color, l.Width, l.Dashes = palette.red, 1.4, []vg.Length{4, 2}
		p.Add(l)
		margin = l
	}
	if margin != nil {
		f.legend = append(f.legend, chartLegendEntry{"margin", margin})
	}
	// Room on both sides of the widest interval.
	if w := p.X.Max - p.X.Min; w > 0 {
		p.X.Min, p.X.Max = p.X.Min-0.05*w, p.X.Max+0.05*w
	}
	return f, nil
}

// abMargin is where a metric's margin sits on a relative-lift axis in
// percent: below zero when higher is better; NaN without one.
func abMargin(m abtest.MetricResult) float64 {
	switch {
	case m.Margin <= 0:
		return math.NaN()
	case m.LowerIsBetter:
		return 100 * m.Margin
	}
	return -100 * m.Margin
}

// abMetricForest is the forest plot of the metrics' relative lifts, nil
// when none has one.
func abMetricForest(r *abtest.Readout, results []abtest.MetricResult) (*htmlChart, error) {
	var rows []forestRow
	var left []string
	var res abtest.Result
	multi := abVariantCount(results) > 1
	for _, m := range results {
		e := m.Result.Relative
		if e == nil || !finite(e.Value, e.Lower, e.Upper) {
			left = append(left, m.Metric)
			continue
		}
		res = m.Result
		label := m.Metric
		if multi {
			label += " · " + m.Variant
		}
		if m.Role == abtest.Guardrail {
			label += " (guardrail)"
		}
		rows = append(rows, forestRow{label: label, est: 100 * e.Value, lo: 100 * e.Lower, hi: 100 * e.Upper, group: string(m.Status), margin: abMargin(m)})
	}
	if len(rows) == 0 {
		return nil, nil
	}
	caption := fmt.Sprintf("Relative lift of %s over %s per metric with its %s; coloured by status. "+
		"Red dashes mark a margin: how much worse a metric may be (lower-is-better metrics: worse is to the right).",
		r.Treatment, r.Control, abIntervalWord(res))
	if len(left) > 0 {
		caption += " Not shown, no lift yet: " + strings.Join(left, ", ") + "."
	}
	f, err := forestFigure("Relative lift by metric", caption, "relative lift (%)", rows)
	if err != nil {
		return nil, err
	}
	return renderFigure(f)
}

// renderFigure renders f as a chart of the page.
func renderFigure(f *chartFigure) (*htmlChart, error) {
	svg, err := f.svg()
	if err != nil {
		return nil, err
	}
	return &htmlChart{Caption: f.caption, SVG: svg}, nil
}

func newABDetail(r *abtest.Readout, d abtest.MetricDetail, m *abtest.MetricResult) (abDetail, error) {
	det := abDetail{Name: d.Name}
	var err error
	if det.OverTime, det.OverTimeNote, err = abOverTime(r, d, m); err != nil {
		return det, err
	}
	for _, attr := range slices.Sorted(maps.Keys(d.Segments)) {
		if s := d.Segments[attr]; s != nil {
			det.Segments = append(det.Segments, newABSegments(attr, s))
		}
	}
	if d.Novelty == nil {
		det.NoveltyNote = "No novelty check yet: it needs users first exposed in 2 or more cohorts."
		return det, nil
	}
	det.Novelty, err = newABNovelty(r, d.Name, d.Novelty)
	return det, err
}

// abOverTime draws a metric's cumulative lift over time: the lift as a
// line with its interval as a band, a line at zero and, for a metric
// with a margin, the margin. Points without a lift (too little data
// yet) leave gaps. Without any it returns a note instead.
func abOverTime(r *abtest.Readout, d abtest.MetricDetail, m *abtest.MetricResult) (*htmlChart, string, error) {
	var pts []abtest.Point
	for _, p := range d.OverTime {
		if e := p.Result.Relative; e != nil && finite(e.Value, e.Lower, e.Upper) {
			pts = append(pts, p)
		}
	}
	if len(pts) == 0 {
		if len(d.OverTime) == 0 {
			return nil, "No points over time yet.", nil
		}
		return nil, fmt.Sprintf("None of the %d points over time has a lift yet (too little data, or a control mean of 0).", len(d.OverTime)), nil
	}
	first, last := pts[0].Time, pts[len(pts)-1].Time
	ax := newTimeAxis(first, max(1, last.Sub(first).Seconds()))
	caption := fmt.Sprintf("Cumulative relative lift of %s over %s on %s: at each time, the users exposed and their outcomes up to then; band: the %s.",
		r.Treatment, r.Control, d.Name, abIntervalWord(pts[0].Result))
	if pts[0].Result.Method != abtest.MethodSequential {
		caption += " These are fixed-horizon intervals: reading them at every point inflates false positives, so judge only at the planned end."
	}
	if k := len(d.OverTime) - len(pts); k > 0 {
		caption += fmt.Sprintf(" %d of %d points have no lift yet and are left out.", k, len(d.OverTime))
	}
	f := &chartFigure{title: "Cumulative lift over time: " + truncRunes(d.Name, 50), caption: caption}
	p := ax.panel("relative lift (%)")
	p.X.Label.Text = "time since " + first.UTC().Format("2006-01-02 15:04:05") + " UTC (" + ax.unit + ")"
	f.panels = []*plot.Plot{p}
	runs := abLiftRuns(d.OverTime)
	band := translucent(palette.blue, 0x40)
	shown := map[string]bool{}
	legend := func(name string, t plot.Thumbnailer) {
		if !shown[name] {
			shown[name] = true
			f.legend = append(f.legend, chartLegendEntry{name, t})
		}
	}
	for _, run := range runs {
		var line, ring plotter.XYs
		for _, q := range run {
			line = append(line, plotter.XY{X: ax.at(q.Time), Y: 100 * q.Result.Relative.Value})
			ring = append(ring, plotter.XY{X: ax.at(q.Time), Y: 100 * q.Result.Relative.Upper})
		}
		for i := len(run) - 1; i >= 0; i-- {
			ring = append(ring, plotter.XY{X: ax.at(run[i].Time), Y: 100 * run[i].Result.Relative.Lower})
		}
		if len(run) == 1 {
			// A lone point: its interval as an error bar.
			e := run[0].Result.Relative
			p.Add(&plotter.YErrorBars{XYs: line, YErrors: plotter.YErrors{{Low: 100 * (e.Value - e.Lower), High: 100 * (e.Upper - e.Value)}},
				LineStyle: draw.LineStyle{Color: palette.blue, Width: 1.4}, CapWidth: 8})
		} else {
			poly, err := plotter.NewPolygon(ring)
			if err != nil {
				return nil, "", fmt.Errorf("reports: chart %q: %w", f.title, err)
			}
			poly.Color, poly.LineStyle.Width = band, 0
			p.Add(poly)
			legend("interval", poly)
		}
		l, err := plotter.NewLine(line)
		if err != nil {
			return nil, "", fmt.Errorf("reports: chart %q: %w", f.title, err)
		}
		l.Color, l.Width = palette.blue, 1.6
		dots, err := plotter.NewScatter(line)
		if err != nil {
			return nil, "", fmt.Errorf("reports: chart %q: %w", f.title, err)
		}
		dots.GlyphStyle = draw.GlyphStyle{Color: palette.blue, Radius: 2.2, Shape: draw.CircleGlyph{}}
		p.Add(l, dots)
		legend("lift", l)
	}
	if err := f.addLine(p, "no effect", plotter.XYs{{X: 0, Y: 0}, {X: ax.max, Y: 0}}, inkColor, 1, false); err != nil {
		return nil, "", err
	}
	if m != nil && m.Margin > 0 {
		y := abMargin(*m)
		if err := f.addLine(p, "margin "+abChange(y/100), plotter.XYs{{X: 0, Y: y}, {X: ax.max, Y: y}}, palette.red, 1.2, true); err != nil {
			return nil, "", err
		}
	}
	abLiftRange(f, p, pts, m)
	c, err := renderFigure(f)
	return c, "", err
}

// abLiftRange sets the y range of a lift-over-time panel: every lift,
// zero, the margin and the intervals of the later half of pts. The
// early intervals, many times wider, would flatten the rest; they run
// off the panel, and the caption says so.
func abLiftRange(f *chartFigure, p *plot.Plot, pts []abtest.Point, m *abtest.MetricResult) {
	lo, hi := 0.0, 0.0
	if m != nil && m.Margin > 0 {
		lo, hi = min(lo, abMargin(*m)), max(hi, abMargin(*m))
	}
	for i, q := range pts {
		e := q.Result.Relative
		lo, hi = min(lo, 100*e.Value), max(hi, 100*e.Value)
		if i >= len(pts)/2 {
			lo, hi = min(lo, 100*e.Lower), max(hi, 100*e.Upper)
		}
	}
	for _, q := range pts {
		if e := q.Result.Relative; 100*e.Lower < lo || 100*e.Upper > hi {
			f.caption += " The axis spans the later points' intervals: earlier, wider ones run off it."
			break
		}
	}
	pad := max(0.08*(hi-lo), 0.5)
	p.Y.Min, p.Y.Max = lo-pad, hi+pad
}

// abLiftRuns splits pts into runs of consecutive points with a lift: a
// point without one (too little data yet) breaks the line and the band.
func abLiftRuns(pts []abtest.Point) [][]abtest.Point {
	var runs [][]abtest.Point
	prev := -2
	for i, q := range pts {
		if e := q.Result.Relative; e == nil || !finite(e.Value, e.Lower, e.Upper) {
			continue
		}
		if i != prev+1 {
			runs = append(runs, nil)
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], q)
		prev = i
	}
	return runs
}

func newABSegments(attr string, s *abtest.SegmentReport) abSegments {
	out := abSegments{Attribute: attr, Caveat: s.Caveat}
	for _, sr := range s.Segments {
		row := abCompareRow(sr.Name, sr.Result)
		if sr.Result.Insufficient == "" {
			row.AdjustedP = numfmt.PValue(sr.AdjustedP)
			if sr.Significant {
				row.Significant, row.Class = "yes", "pass"
			}
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

// abCompareRow is a segment's or a cohort's row: its users, means, lift
// and p-value, or why it has none.
func abCompareRow(name string, r abtest.Result) abSegmentRow {
	row := abSegmentRow{Name: name, Users: numfmt.Thousands(r.Control.Users) + " / " + numfmt.Thousands(r.Treatment.Users),
		Control: abMean(r.Kind, r.Control.Mean), Treatment: abMean(r.Kind, r.Treatment.Mean), P: "–", AdjustedP: "–", Significant: "no"}
	switch {
	case r.Insufficient != "":
		row.Relative, row.Class, row.Significant = "not tested: "+r.Insufficient, "inconclusive", "–"
	case r.Relative == nil:
		row.Relative, row.P = "undefined (control mean 0)", numfmt.PValue(r.Absolute.PValue)
	default:
		row.Relative, row.P = abRelative(*r.Relative), numfmt.PValue(r.Relative.PValue)
	}
	return row
}

func newABNovelty(r *abtest.Readout, metric string, n *abtest.NoveltyResult) (*abNovelty, error) {
	out := &abNovelty{Flag: "no decay", Class: "go", Reasons: n.Reasons}
	if n.Decay {
		out.Flag, out.Class = "DECAYS", "no-go"
	}
	if n.SlopeSE > 0 {
		out.Slope = fmt.Sprintf("Weighted trend of the lift: %s points per cohort (± %s), one-sided p of a decrease %s.",
			abSigned(100*n.Slope), numfmt.Sig(100*n.SlopeSE), numfmt.PValue(n.SlopeP))
	}
	var rows []forestRow
	var res abtest.Result
	for _, c := range n.Cohorts {
		out.Rows = append(out.Rows, abCompareRow(c.Label, c.Result))
		if e := c.Result.Relative; e != nil && finite(e.Value, e.Lower, e.Upper) {
			res = c.Result
			rows = append(rows, forestRow{label: c.Label, est: 100 * e.Value, lo: 100 * e.Lower, hi: 100 * e.Upper, group: "cohort", margin: math.NaN()})
		}
	}
	if len(rows) == 0 {
		return out, nil
	}
	f, err := forestFigure("Lift by exposure cohort: "+truncRunes(metric, 50),
		fmt.Sprintf("Relative lift of %s over %s among the users first exposed in each cohort, oldest on top, with its %s. A novelty effect shows as lifts that shrink in later cohorts.",
			r.Treatment, r.Control, abIntervalWord(res)), "relative lift (%)", rows)
	if err != nil {
		return nil, err
	}
	out.Chart, err = renderFigure(f)
	return out, err
}

// ABMarkdown writes the readout as a short GitHub-flavoured Markdown
// summary for CI: the verdict and its reasons, the sample-ratio check,
// the users and the outcomes with those left out, the metrics table, and
// the novelty flags and significant segments of each metric.
func ABMarkdown(w io.Writer, r *abtest.Readout) error {
	if r == nil {
		return ErrNoReadout
	}
	ew := &errWriter{w: w}
	b := newABBanner(r)
	ew.printf("### gonogo A/B: **%s** — %s\n\n", b.Decision, mdInline(r.Experiment))
	line := []string{mdInline(b.Arms)}
	if b.Split != "" {
		line = append(line, "split "+b.Split)
	}
	if b.Time != "" {
		line = append(line, "at "+b.Time)
	}
	if b.Method != "" {
		line = append(line, b.Method)
	}
	ew.printf("%s\n", strings.Join(line, " · "))
	if len(r.Reasons) > 0 {
		ew.printf("\n")
		for _, s := range r.Reasons {
			ew.printf("- %s\n", mdInline(s))
		}
	}
	srm := newABSRM(r)
	ew.printf("\n**Sample ratio:** %s", srm.Status)
	if srm.P != "" {
		ew.printf(" (chi-square %s, p %s, α %s)", srm.ChiSq, srm.P, srm.Alpha)
	}
	ew.printf("\n")
	if rows := abUserRows(r.Users); rows != nil {
		var cells [][]string
		for _, u := range rows {
			cells = append(cells, []string{u.Variant, u.Exposed, u.Contaminated, u.OtherSplit, u.Analysed})
		}
		mdTable(ew, "lrrrr", []string{"users", "exposed", "contaminated", "other split", "analysed"}, cells)
	}
	var parts []string
	for _, o := range abOutcomeRows(r.Outcomes) {
		parts = append(parts, o.What+" "+o.Count)
	}
	ew.printf("\n**Outcomes:** %s\n", strings.Join(parts, " · "))
	var results []abtest.MetricResult
	if r.Stats != nil {
		results = r.Stats.Metrics
	}
	if len(results) > 0 {
		multi := abVariantCount(results) > 1
		var cells [][]string
		for _, m := range results {
			row := newABMetricRow(m, multi)
			name := row.Name
			if row.Variant != "" {
				name += " · " + row.Variant
			}
			cells = append(cells, []string{name, row.Role, row.Control, row.Treatment, row.Absolute, row.Relative, row.Interval, row.AdjustedP, row.Status})
		}
		mdTable(ew, "llrrrrlrl", []string{"metric", "role", "control", "treatment", "absolute lift", "relative lift", "interval", "adj. p", "status"}, cells)
	} else {
		ew.printf("\nNo metric results yet.\n")
	}
	var notes []string
	for _, d := range r.Metrics {
		if d.Novelty != nil && d.Novelty.Decay {
			notes = append(notes, fmt.Sprintf("%s: novelty — the lift decays over exposure cohorts. %s", d.Name, strings.Join(d.Novelty.Reasons, " ")))
		}
		for _, attr := range slices.Sorted(maps.Keys(d.Segments)) {
			s := d.Segments[attr]
			if s == nil {
				continue
			}
			var sig []string
			for _, sr := range s.Segments {
				if sr.Significant {
					sig = append(sig, sr.Name)
				}
			}
			if len(sig) > 0 {
				notes = append(notes, fmt.Sprintf("%s by %s: significant in %s. %s", d.Name, attr, strings.Join(sig, ", "), s.Caveat))
			}
		}
	}
	if len(notes) > 0 {
		ew.printf("\n")
		for _, n := range notes {
			ew.printf("- %s\n", mdInline(n))
		}
	}
	return ew.err
}

var abTemplate = template.Must(template.New("ab").Parse(abPageSource))

const abPageSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<section class="banner {{.Banner.Class}}" id="verdict">
<div><span class="decision">{{.Banner.Decision}}</span></div>
<div class="ids">experiment <span class="mono">{{.Banner.Experiment}}</span> · {{.Banner.Arms}}{{with .Banner.Split}} · split {{.}}{{end}}{{with .Banner.Time}} · at {{.}}{{end}}</div>
{{with .Banner.Method}}<div class="method">{{.}}</div>{{end}}
{{if .Banner.Reasons}}<ul>{{range .Banner.Reasons}}<li>{{.}}</li>{{end}}{{with .Banner.MoreReasons}}<li>and {{.}} more (see the metrics below)</li>{{end}}</ul>{{end}}
</section>
<h2>Sample ratio</h2>
<section id="srm">
<p>Sample-ratio check: <span class="status-{{.SRM.Class}}">{{.SRM.Status}}</span>{{with .SRM.P}} — chi-square {{$.SRM.ChiSq}}, p {{.}} (mismatch below {{$.SRM.Alpha}}){{end}}</p>
{{if .SRM.Rows}}<table>
<thead><tr><th>variant</th><th>observed users</th><th>observed share</th><th>expected users</th><th>expected share</th></tr></thead>
<tbody>
{{range .SRM.Rows}}<tr><td>{{.Variant}}</td><td class="num">{{.Observed}}</td><td class="num">{{.ObservedShare}}</td><td class="num">{{.Expected}}</td><td class="num">{{.ExpectedShare}}</td></tr>
{{end}}</tbody>
</table>{{end}}
</section>
<h2>Users</h2>
{{if .Users}}<table id="users">
<thead><tr><th>variant</th><th>exposed</th><th>contaminated (left out)</th><th>joined under another split (left out)</th><th>analysed</th></tr></thead>
<tbody>
{{range .Users}}<tr{{if .Total}} class="total"{{end}}><td>{{.Variant}}</td><td class="num">{{.Exposed}}</td><td class="num">{{.Contaminated}}</td><td class="num">{{.OtherSplit}}</td><td class="num">{{.Analysed}}</td></tr>
{{end}}</tbody>
</table>{{else}}<p class="note" id="users">No users exposed yet.</p>{{end}}
<h2>Outcomes</h2>
<table id="outcomes">
<thead><tr><th>outcomes</th><th>count</th><th>share</th><th></th></tr></thead>
<tbody>
{{range .Outcomes}}<tr class="{{.Class}}"><td>{{.What}}</td><td class="num">{{.Count}}</td><td class="num">{{.Share}}</td><td>{{if .Excluded}}left out of the statistics{{end}}</td></tr>
{{end}}</tbody>
</table>
<h2>Metrics</h2>
{{if .Metrics}}<table id="metrics">
<thead><tr><th>metric</th><th>control</th><th>treatment</th><th>absolute lift</th><th>relative lift</th><th>p</th><th>adjusted p</th><th>status</th></tr></thead>
<tbody>
{{range .Metrics}}<tr class="{{.Class}} metric" data-metric="{{.Name}}"><td><strong>{{.Name}}</strong>{{with .Variant}} · {{.}}{{end}}<div class="reason">{{.Role}} · {{.Kind}} · {{.Interval}}{{if .LowerIsBetter}} · lower is better{{end}}</div></td><td class="num">{{.Control}}</td><td class="num">{{.Treatment}}</td><td class="num">{{.Absolute}}</td><td class="num">{{.Relative}}</td><td class="num">{{.P}}</td><td class="num">{{.AdjustedP}}</td><td class="status">{{.Status}}</td></tr>
<tr class="{{.Class}} why"><td colspan="8"><div class="reason">{{.Reason}}</div></td></tr>
{{end}}</tbody>
</table>{{else}}<p class="note" id="metrics">No metric results yet.</p>{{end}}
{{with .Forest}}<figure>
{{.SVG}}
<figcaption>{{.Caption}}</figcaption>
</figure>{{end}}
{{range .Details}}<section class="ab-metric" data-metric="{{.Name}}">
<h3>{{.Name}}</h3>
{{with .OverTime}}<figure>
{{.SVG}}
<figcaption>{{.Caption}}</figcaption>
</figure>{{end}}{{with .OverTimeNote}}<p class="note">{{.}}</p>{{end}}
{{range .Segments}}<h4>By {{.Attribute}}</h4>
<table class="segments">
<thead><tr><th>{{.Attribute}}</th><th>users (control / treatment)</th><th>control</th><th>treatment</th><th>relative lift</th><th>p</th><th>adjusted p</th><th>significant</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="{{.Class}}"><td>{{.Name}}</td><td class="num">{{.Users}}</td><td class="num">{{.Control}}</td><td class="num">{{.Treatment}}</td><td class="num">{{.Relative}}</td><td class="num">{{.P}}</td><td class="num">{{.AdjustedP}}</td><td>{{.Significant}}</td></tr>
{{end}}</tbody>
</table>
<p class="caveat">{{.Caveat}}</p>
{{end}}{{with .Novelty}}<h4>Novelty: <span class="status-{{.Class}}">{{.Flag}}</span></h4>
<ul class="novelty-reasons">{{range .Reasons}}<li>{{.}}</li>{{end}}</ul>
{{with .Slope}}<p class="caveat">{{.}}</p>{{end}}
{{with .Chart}}<figure>
{{.SVG}}
<figcaption>{{.Caption}}</figcaption>
</figure>{{end}}
<table class="cohorts">
<thead><tr><th>cohort</th><th>users (control / treatment)</th><th>control</th><th>treatment</th><th>relative lift</th><th>p</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="{{.Class}}"><td class="mono">{{.Name}}</td><td class="num">{{.Users}}</td><td class="num">{{.Control}}</td><td class="num">{{.Treatment}}</td><td class="num">{{.Relative}}</td><td class="num">{{.P}}</td></tr>
{{end}}</tbody>
</table>
{{end}}{{with .NoveltyNote}}<p class="note">{{.}}</p>{{end}}
</section>
{{end}}
</main>
</body>
</html>
`
