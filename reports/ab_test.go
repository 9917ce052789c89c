package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gonogo-dev/gonogo/analyze/abtest"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

var abT0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// abRatingName is a metric name that needs escaping everywhere.
const abRatingName = `rating <1-5> & "stars"`

func abBinom(users int64, converted float64) abtest.Summary {
	return abtest.Summary{Users: users, Sum: converted, SumSq: converted}
}

// abCont is the summary of users values with the given mean and
// standard deviation.
func abCont(users int64, mean, sd float64) abtest.Summary {
	n := float64(users)
	return abtest.Summary{Users: users, Sum: n * mean, SumSq: (n-1)*sd*sd + n*mean*mean}
}

// abScale is s for the first share of its users, the treatment's
// conversions scaled by boost (an early novelty effect).
func abScale(s abtest.Summary, kind abtest.Kind, share, boost float64) abtest.Summary {
	users := int64(math.Round(share * float64(s.Users)))
	f := float64(users) / float64(s.Users)
	out := abtest.Summary{Users: users, Sum: s.Sum * f * boost, SumSq: s.SumSq * f * boost}
	if kind == abtest.Binomial {
		out.Sum = math.Min(math.Round(out.Sum), float64(users))
		out.SumSq = out.Sum
	}
	return out
}

// abExperiment is a 50/50 experiment of 50 000 users a variant (control
// and treatment as given) on five metrics: a purchase rate the treatment
// lifts by 12 %, revenue, a rating, a guardrail on support tickets
// (lower is better, 20 % margin), a score whose control mean is 0 and a
// refund rate too rare to test.
func abExperiment(controlUsers, treatmentUsers int64) abtest.Experiment {
	c, t := controlUsers, treatmentUsers
	return abtest.Experiment{
		Variants: []abtest.Variant{{Name: "v1", Weight: 50, Users: c}, {Name: "v2", Weight: 50, Users: t}},
		Metrics: []abtest.Metric{
			{Name: "purchase", Kind: abtest.Binomial, Summaries: []abtest.Summary{abBinom(c, 0.05*float64(c)), abBinom(t, 0.056*float64(t))}},
			{Name: "revenue", Kind: abtest.Continuous, Summaries: []abtest.Summary{abCont(c, 2.5, 12), abCont(t, 2.6, 12.5)}},
			{Name: abRatingName, Kind: abtest.Continuous, Summaries: []abtest.Summary{abCont(c, 3.9, 1.1), abCont(t, 3.91, 1.1)}},
			{Name: "support_tickets", Kind: abtest.Binomial, Role: abtest.Guardrail, LowerIsBetter: true, Margin: 0.2,
				Summaries: []abtest.Summary{abBinom(c, 0.02*float64(c)), abBinom(t, 0.0201*float64(t))}},
			{Name: "nps_delta", Kind: abtest.Continuous, Summaries: []abtest.Summary{{Users: c, Sum: 0, SumSq: float64(c) * 4}, abCont(t, 0.05, 2)}},
			{Name: "refund", Kind: abtest.Binomial, Summaries: []abtest.Summary{abBinom(c, 9), abBinom(t, 12)}},
		},
	}
}

// abReadout builds the readout of abExperiment with the given users as
// the rollout would: sequential tests, the purchase rate over 12 hours
// (the first point too early to test), by region and by exposure cohort
// (the lift decaying), revenue over time only.
func abReadout(tb testing.TB, controlUsers, treatmentUsers int64) *abtest.Readout {
	tb.Helper()
	cfg := abtest.Config{Sequential: true}
	exp := abExperiment(controlUsers, treatmentUsers)
	rep, err := abtest.Analyze(exp, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	r := &abtest.Readout{
		Schema: abtest.ReadoutSchema, Experiment: "checkout-v2", Time: abT0.Add(12 * time.Hour), Control: "v1", Treatment: "v2", Split: 50,
		Users: []abtest.Users{
			{Variant: "v1", Exposed: controlUsers + 112 + 368, Contaminated: 112, OtherSplit: 368, Analysed: controlUsers},
			{Variant: "v2", Exposed: treatmentUsers + 118 + 352, Contaminated: 118, OtherSplit: 352, Analysed: treatmentUsers},
		},
		Outcomes: abtest.Outcomes{Counted: 9850, UnknownUser: 87, BeforeExposure: 41, Contaminated: 23, Duplicate: 0},
		Stats:    rep, Verdict: rep.Decisions[0].Verdict, Reasons: rep.Decisions[0].Reasons,
	}
	overTime := func(m abtest.Metric, boost func(share float64) float64) []abtest.Point {
		var pts []abtest.Point
		for i, share := range []float64{0.002, 1. / 12, 2. / 12, 3. / 12, 4. / 12, 5. / 12, 6. / 12, 7. / 12, 8. / 12, 9. / 12, 10. / 12, 11. / 12, 1} {
			res, err := abtest.Compare(abScale(m.Summaries[0], m.Kind, share, 1), abScale(m.Summaries[1], m.Kind, share, boost(share)), m.Kind, cfg)
			if err != nil {
				tb.Fatal(err)
			}
			pts = append(pts, abtest.Point{Time: abT0.Add(time.Duration(max(i, 1)) * time.Hour).Add(time.Duration(i) * time.Minute), Result: res})
		}
		return pts
	}
	purchase, revenue := exp.Metrics[0], exp.Metrics[1]
	d := abtest.MetricDetail{Name: purchase.Name, OverTime: overTime(purchase, func(s float64) float64 { return 1 + 0.15*(1-s) })}
	var regions []abtest.Segment
	for _, g := range []struct {
		name        string
		share, lift float64
	}{{"eu", 0.5, 0.2}, {"us", 0.3, 0.1}, {"<apac>", 0.2, 0}} {
		cu, tu := int64(g.share*float64(controlUsers)), int64(g.share*float64(treatmentUsers))
		regions = append(regions, abtest.Segment{Name: g.name, Control: abBinom(cu, math.Round(0.05*float64(cu))), Treatment: abBinom(tu, math.Round(0.05*(1+g.lift)*float64(tu)))})
	}
	byRegion, err := abtest.CompareSegments(regions, abtest.Binomial, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	d.Segments = map[string]*abtest.SegmentReport{"region": byRegion}
	var cohorts []abtest.Cohort
	for i, lift := range []float64{0.30, 0.16, 0.08, 0.04} {
		cohorts = append(cohorts, abtest.Cohort{Label: abT0.Add(time.Duration(3*i) * time.Hour).Format(time.RFC3339),
			Control: abBinom(12000, 600), Treatment: abBinom(12000, math.Round(600*(1+lift)))})
	}
	if d.Novelty, err = abtest.Novelty(cohorts, abtest.Binomial, cfg); err != nil {
		tb.Fatal(err)
	}
	r.Metrics = []abtest.MetricDetail{d, {Name: revenue.Name, OverTime: overTime(revenue, func(float64) float64 { return 1 })}, {Name: abRatingName}}
	return r
}

// abEmptyReadout is an experiment that has just begun: nobody exposed,
// no outcomes, nothing over time.
func abEmptyReadout(tb testing.TB) *abtest.Readout {
	tb.Helper()
	exp := abtest.Experiment{
		Variants: []abtest.Variant{{Name: "stable", Weight: 90}, {Name: "canary", Weight: 10}},
		Metrics:  []abtest.Metric{{Name: "purchase", Kind: abtest.Binomial, Summaries: make([]abtest.Summary, 2)}},
	}
	rep, err := abtest.Analyze(exp, abtest.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return &abtest.Readout{Schema: abtest.ReadoutSchema, Experiment: "fresh", Time: abT0, Control: "stable", Treatment: "canary", Split: 10,
		Stats: rep, Verdict: rep.Decisions[0].Verdict, Reasons: rep.Decisions[0].Reasons, Metrics: []abtest.MetricDetail{{Name: "purchase"}}}
}

func renderAB(tb testing.TB, r *abtest.Readout) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := ABHTML(&buf, r); err != nil {
		tb.Fatal(err)
	}
	return buf.String()
}

var (
	abTag   = regexp.MustCompile(`<[^>]*>`)
	abSpace = regexp.MustCompile(`\s+`)
)

// abText is the text of a page part as a reader sees it: tags removed,
// entities decoded, white space collapsed.
func abText(page string) string {
	return abSpace.ReplaceAllString(html.UnescapeString(abTag.ReplaceAllString(page, " ")), " ")
}

// abSection is the part of page from the element with id on to the next
// <h2> (the whole rest when none follows).
func abSection(t *testing.T, page, id string) string {
	t.Helper()
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("page has no #%s", id)
	}
	s := page[i:]
	if j := strings.Index(s, "<h2>"); j >= 0 {
		s = s[:j]
	}
	return s
}

// abRow is the metrics table's row of metric, as text.
func abRow(t *testing.T, page, metric string) string {
	t.Helper()
	tbl := abSection(t, page, "metrics")
	i := strings.Index(tbl, `data-metric="`+html.EscapeString(metric)+`"`)
	if i < 0 {
		t.Fatalf("no row for %q", metric)
	}
	row, why, _ := strings.Cut(tbl[i:], "</tr>")
	why, _, _ = strings.Cut(why, "</tr>")
	return abText(row + why)
}

func TestABHTML(t *testing.T) {
	r := abReadout(t, 50000, 50150)
	if r.Verdict != abtest.Ship {
		t.Fatalf("fixture: verdict %s (%q), want ship", r.Verdict, r.Reasons)
	}
	page := renderAB(t, r)
	text := abText(page)
	for _, want := range []string{
		"SHIP", "experiment checkout-v2", "v2 vs v1", "split 50 % on v2, 50 % on v1", "at 2026-03-02T20:00:00Z",
		"sequential tests (always-valid", "α = 0.05", "goals holm-corrected",
	} {
		if !strings.Contains(abText(abSection(t, page, "verdict")), want) {
			t.Errorf("banner lacks %q", want)
		}
	}
	if !strings.Contains(page, `class="banner go"`) {
		t.Error("a ship verdict's banner is not green")
	}
	for _, reason := range r.Reasons {
		if !strings.Contains(text, reason) {
			t.Errorf("reason %q not shown", reason)
		}
	}
	// SRM: 50 000 against 50 150 of an expected 50 075 each.
	srm := abText(abSection(t, page, "srm"))
	chi := 2 * 75. * 75 / 50075
	for _, want := range []string{"Sample-ratio check: OK", "chi-square " + numfmt.Sig(chi), "p " + numfmt.PValue(r.Stats.SRM.PValue), "50,000 49.9 %", "50,150 50.1 %", "50,075 50 %"} {
		if !strings.Contains(srm, want) {
			t.Errorf("SRM section lacks %q: %s", want, srm)
		}
	}
	if math.Abs(r.Stats.SRM.ChiSq-chi) > 1e-9 {
		t.Errorf("chi-square %g, want %g", r.Stats.SRM.ChiSq, chi)
	}
	users := abText(abSection(t, page, "users"))
	for _, want := range []string{"v1 50,480 112 368 50,000", "v2 50,620 118 352 50,150", "total 101,100 230 720 100,150"} {
		if !strings.Contains(users, want) {
			t.Errorf("users table lacks %q: %s", want, users)
		}
	}
	outcomes := abText(abSection(t, page, "outcomes"))
	for _, want := range []string{"counted (joined to the user's exposure, after it) 9,850 98.5 %", "unknown user (never exposed) 87 0.87 % left out",
		"before the user's exposure 41 0.41 % left out", "contaminated user (routed to both variants) 23 0.23 % left out",
		"duplicate event id (counted once) 0 0 % left out", "ingested 10,001"} {
		if !strings.Contains(outcomes, want) {
			t.Errorf("outcomes table lacks %q: %s", want, outcomes)
		}
	}
	// The purchase rate: 5 % against 5.6 %, a lift of +12 % (+0.6 points).
	for metric, wants := range map[string][]string{
		"purchase":        {"goal · binomial · 95 % sequential (always valid) 5 % 5.6 % +0.6 pp [", "+12 % [", " better purchase is better"},
		"revenue":         {"goal · continuous · 95 % sequential (always valid) 2.5 2.6 +0.1 [", "+4 % ["},
		abRatingName:      {abRatingName + " goal · continuous", "(always valid) 3.9 3.91"},
		"support_tickets": {"guardrail, margin 20 % · binomial · 95 % sequential (always valid) · lower is better 2 % 2.01 %", "+0.5 % [", "non-inferior"},
		"nps_delta":       {"undefined (control mean 0)", "undefined", "the lift is undefined"},
		"refund":          {"0.018 % 0.0239 % – – – – undefined", "cannot be judged: too few outcomes"},
	} {
		row := abRow(t, page, metric)
		for _, want := range wants {
			if !strings.Contains(row, want) {
				t.Errorf("%s row lacks %q: %s", metric, want, row)
			}
		}
	}
	// Every string is escaped: the metric name never appears raw.
	if strings.Contains(page, "<1-5>") || strings.Contains(page, "<apac>") {
		t.Error("a name appears unescaped")
	}
	if !strings.Contains(page, "rating &lt;1-5&gt; &amp; &#34;stars&#34;") {
		t.Error("the escaped metric name is missing")
	}
	charts := chartSVGs(page)
	// The forest plot, purchase and revenue over time, purchase by cohort.
	if len(charts) != 4 {
		t.Errorf("%d charts, want 4: %v", len(charts), mapKeys(charts))
	}
	forest := charts["Relative lift by metric"]
	for _, want := range []string{">purchase</text>", ">support_tickets (guardrail)</text>", ">rating &lt;1-5&gt; &amp; &#34;stars&#34;</text>", ">margin</text>", ">better</text>", ">non-inferior</text>"} {
		if !strings.Contains(forest, want) {
			t.Errorf("forest plot lacks %q", want)
		}
	}
	if strings.Contains(forest, ">nps_delta<") || strings.Contains(forest, ">refund<") {
		t.Error("the forest plot shows a metric without a lift")
	}
	if !strings.Contains(text, "Not shown, no lift yet: nps_delta, refund.") {
		t.Error("the forest plot does not say which metrics it leaves out")
	}
	for _, want := range []string{
		"Cumulative relative lift of v2 over v1 on purchase", "1 of 13 points have no lift yet and are left out",
		"on revenue: at each time", "earlier, wider ones run off it",
		"By region", r.Metrics[0].Segments["region"].Caveat, "<apac>",
		"Novelty: DECAYS", r.Metrics[0].Novelty.Reasons[0], "points per cohort",
		"No novelty check yet", "No points over time yet.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if ot := charts["Cumulative lift over time: purchase"]; !strings.Contains(ot, ">interval</text>") || !strings.Contains(ot, ">no effect</text>") {
		t.Error("the purchase chart over time lacks its band or zero line")
	}
	if ot := charts["Cumulative lift over time: revenue"]; strings.Contains(ot, ">margin") {
		t.Error("revenue has no margin, but its chart draws one")
	}
	order := []string{`id="verdict"`, `id="srm"`, `id="users"`, `id="outcomes"`, `id="metrics"`, `aria-label="Relative lift by metric"`, `class="ab-metric"`}
	for i := 1; i < len(order); i++ {
		if strings.Index(page, order[i-1]) > strings.Index(page, order[i]) {
			t.Errorf("%s comes after %s", order[i-1], order[i])
		}
	}
	assertSelfContained(t, page)
}

func mapKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestABHTMLSegmentsAndCohorts(t *testing.T) {
	r := abReadout(t, 50000, 50150)
	page := renderAB(t, r)
	seg := r.Metrics[0].Segments["region"]
	tbl := page[strings.Index(page, `class="segments"`):]
	tbl, _, _ = strings.Cut(tbl, "</table>")
	rows := strings.Split(tbl, "</tr>")
	for i, s := range seg.Segments {
		row := abText(rows[i+1])
		want := fmt.Sprintf("%s %s / %s", s.Name, numfmt.Thousands(s.Result.Control.Users), numfmt.Thousands(s.Result.Treatment.Users))
		if !strings.HasPrefix(strings.TrimSpace(row), want) || !strings.Contains(row, numfmt.PValue(s.AdjustedP)) {
			t.Errorf("segment row %q, want it to start %q and show adjusted p %s", row, want, numfmt.PValue(s.AdjustedP))
		}
		if sig := strings.HasSuffix(strings.TrimSpace(row), "yes"); sig != s.Significant {
			t.Errorf("segment %s: shown significant %v, is %v", s.Name, sig, s.Significant)
		}
	}
	// The cohorts' lifts are 30, 16, 8 and 4 %.
	coh := page[strings.Index(page, `class="cohorts"`):]
	coh, _, _ = strings.Cut(coh, "</table>")
	for i, lift := range []string{"+30 % [", "+16 % [", "+8 % [", "+4 % ["} {
		row := abText(strings.Split(coh, "</tr>")[i+1])
		if !strings.Contains(row, lift) || !strings.Contains(row, "12,000 / 12,000") {
			t.Errorf("cohort %d: %q, want lift %s", i, row, lift)
		}
	}
}

func TestABHTMLInvalidAndEmpty(t *testing.T) {
	// 50 000 against 52 000 under a 50/50 split: chi-square 39.2.
	r := abReadout(t, 50000, 52000)
	if r.Verdict != abtest.Invalid {
		t.Fatalf("fixture: verdict %s, want invalid", r.Verdict)
	}
	page := renderAB(t, r)
	if !strings.Contains(page, `class="banner invalid"`) || !strings.Contains(abText(page), "INVALID") {
		t.Error("an invalid experiment's banner does not say so")
	}
	if srm := abText(abSection(t, page, "srm")); !strings.Contains(srm, "MISMATCH") || !strings.Contains(srm, "p < 0.001") {
		t.Errorf("SRM section: %s", srm)
	}
	if !strings.Contains(abText(page), "Sample ratio mismatch: users v1=50000 v2=52000") {
		t.Error("the SRM reason is not shown")
	}

	for name, r := range map[string]*abtest.Readout{
		"just begun": abEmptyReadout(t),
		"bare":       {Experiment: "bare"},
	} {
		page := renderAB(t, r)
		text := abText(page)
		if strings.Contains(page, "<svg") {
			t.Errorf("%s: charts without data", name)
		}
		for _, want := range []string{"Sample-ratio check: not checked", "ingested 0", "No users exposed yet."} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: page lacks %q", name, want)
			}
		}
		assertSelfContained(t, page)
	}
	fresh := renderAB(t, abEmptyReadout(t))
	for _, want := range []string{"NOT YET DECIDED", "split 10 % on canary, 90 % on stable", "cannot be judged: too few users", "No points over time yet.", "No novelty check yet"} {
		if !strings.Contains(abText(fresh), want) {
			t.Errorf("fresh experiment's page lacks %q", want)
		}
	}
	if !strings.Contains(renderAB(t, &abtest.Readout{}), "NOT JUDGED") {
		t.Error("a readout without a verdict is not marked unjudged")
	}
	if err := ABHTML(io.Discard, nil); !errors.Is(err, ErrNoReadout) {
		t.Errorf("nil readout: %v", err)
	}
	if err := ABMarkdown(io.Discard, nil); !errors.Is(err, ErrNoReadout) {
		t.Errorf("nil readout (Markdown): %v", err)
	}
}

// TestABHTMLSparse: an effect over time with gaps and a lone point, and
// estimates that are not finite, render without error; what cannot be
// drawn is left out of the charts.
func TestABHTMLSparse(t *testing.T) {
	r := abReadout(t, 50000, 50150)
	ot := r.Metrics[1].OverTime
	none := abtest.Point{Time: ot[0].Time, Result: abtest.Result{Kind: abtest.Continuous, Insufficient: "too few users"}}
	// lift, gap, lift (alone), gap, lift, lift
	r.Metrics[1].OverTime = []abtest.Point{ot[3], none, ot[5], none, ot[8], ot[12]}
	nan := math.NaN()
	r.Stats.Metrics[2].Result.Relative = &abtest.Estimate{Value: nan, Lower: nan, Upper: math.Inf(1)}
	r.Metrics[2].OverTime = []abtest.Point{{Time: abT0, Result: r.Stats.Metrics[2].Result}}
	page := renderAB(t, r)
	charts := chartSVGs(page)
	if _, ok := charts["Cumulative lift over time: revenue"]; !ok || len(charts) != 4 {
		t.Errorf("charts %v, want the forest, purchase and revenue over time, purchase by cohort", mapKeys(charts))
	}
	if strings.Contains(charts["Relative lift by metric"], "rating &lt;1-5&gt;") {
		t.Error("a metric whose lift is not finite is drawn")
	}
	text := abText(page)
	for _, want := range []string{"2 of 6 points have no lift yet", "None of the 1 points over time has a lift yet", "NaN % [NaN %, +Inf %]"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestABLiftRuns(t *testing.T) {
	lift := abtest.Result{Relative: &abtest.Estimate{Value: 0.1, Lower: 0, Upper: 0.2}}
	none := abtest.Result{Insufficient: "too few"}
	for _, c := range []struct {
		name string
		in   []abtest.Result
		want []int
	}{
		{"empty", nil, nil},
		{"all", []abtest.Result{lift, lift, lift}, []int{3}},
		{"early gap", []abtest.Result{none, lift, lift}, []int{2}},
		{"gap in the middle", []abtest.Result{lift, none, lift, lift, none}, []int{1, 2}},
		{"none", []abtest.Result{none, none}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var pts []abtest.Point
			for i, r := range c.in {
				pts = append(pts, abtest.Point{Time: abT0.Add(time.Duration(i) * time.Hour), Result: r})
			}
			var got []int
			for _, run := range abLiftRuns(pts) {
				got = append(got, len(run))
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("runs of %v, want %v", got, c.want)
			}
		})
	}
}

func TestABMarkdown(t *testing.T) {
	r := abReadout(t, 50000, 50150)
	var buf bytes.Buffer
	if err := ABMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if n := tableColumns(t, md); n != 2 {
		t.Errorf("%d tables, want users and metrics", n)
	}
	for _, want := range []string{
		"### gonogo A/B: **SHIP** — checkout-v2", "v2 vs v1 · split 50 % on v2",
		"**Sample ratio:** OK", "| v1 | 50,480 | 112 | 368 | 50,000 |",
		"unknown user (never exposed) 87", "before the user's exposure 41", "duplicate event id (counted once) 0",
		"| purchase | goal | 5 % | 5.6 % |", `| rating <1-5> & "stars" |`, "undefined (control mean 0)",
		"purchase: novelty — the lift decays", "purchase by region: significant in",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	for _, reason := range r.Reasons {
		if !strings.Contains(md, "- "+reason) {
			t.Errorf("reason %q not listed", reason)
		}
	}
	buf.Reset()
	if err := ABMarkdown(&buf, abEmptyReadout(t)); err != nil || !strings.Contains(buf.String(), "NOT YET DECIDED") {
		t.Errorf("empty readout: %v\n%s", err, buf.String())
	}
}

// abPageJS reports, for the A/B page, the banner's text, each section's
// visibility and the metrics table's text as the browser shows them.
const abPageJS = `(() => {
	const seen = s => { const e = document.querySelector(s); if (!e) return ''; const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility === 'visible' ? e.innerText : ''; };
	return {banner: seen('#verdict'), srm: seen('#srm'), users: seen('#users'), outcomes: seen('#outcomes'), metrics: seen('#metrics'),
		sections: document.querySelectorAll('section.ab-metric').length,
		bannerColor: getComputedStyle(document.querySelector('#verdict')).backgroundColor};
})()`

type abPageState struct {
	Banner      string `json:"banner"`
	SRM         string `json:"srm"`
	Users       string `json:"users"`
	Outcomes    string `json:"outcomes"`
	Metrics     string `json:"metrics"`
	Sections    int    `json:"sections"`
	BannerColor string `json:"bannerColor"`
}

// TestABHTMLInChromium loads the A/B pages in headless Chromium: no
// console errors or requests, the banner and the tables visible with the
// names as written, every chart drawn at a readable size.
func TestABHTMLInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	dir := artifactDir(t)
	pages := map[string]*abtest.Readout{"ab.html": abReadout(t, 50000, 50150), "ab-empty.html": abEmptyReadout(t)}
	var urls []string
	for name, r := range pages {
		path, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(renderAB(t, r)), 0o644); err != nil {
			t.Fatal(err)
		}
		urls = append(urls, "file://"+path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var problems pageProblems
	bctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(problems.listen(urls...)))
	defer cancelTab()
	for _, u := range urls {
		full := strings.HasSuffix(u, "/ab.html")
		if err := chromedp.Do(bctx, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("#outcomes"))); err != nil {
			t.Fatalf("load %s: %v", u, err)
		}
		st, err := chromedp.Run(bctx, chromedp.Evaluate[abPageState](abPageJS))
		if err != nil {
			t.Fatal(err)
		}
		if st.SRM == "" || st.Users == "" || st.Outcomes == "" || st.Metrics == "" {
			t.Errorf("%s: a section is not visible: %+v", u, st)
		}
		charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartBox](chartsJS))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range charts {
			if c.Width < 300 || c.Height < 100 || c.Drawn < 3 {
				t.Errorf("chart %q: %.0f×%.0f px, %d paths of which %d drawn", c.Label, c.Width, c.Height, c.Paths, c.Drawn)
			}
		}
		if !full {
			if !strings.Contains(st.Banner, "NOT YET DECIDED") || st.BannerColor != "rgb(154, 103, 0)" || len(charts) != 0 || st.Sections != 1 {
				t.Errorf("empty readout: %+v, %d charts", st, len(charts))
			}
			continue
		}
		if !strings.Contains(st.Banner, "SHIP") || !strings.Contains(st.Banner, "checkout-v2") || st.BannerColor != "rgb(26, 127, 55)" {
			t.Errorf("banner %q (%s), want SHIP in green", st.Banner, st.BannerColor)
		}
		if !strings.Contains(st.Metrics, abRatingName) || !strings.Contains(st.Metrics, "undefined (control mean 0)") {
			t.Errorf("metrics table as shown: %q", st.Metrics)
		}
		if len(charts) != 4 || st.Sections != 3 {
			t.Errorf("%d charts and %d metric sections, want 4 and 3", len(charts), st.Sections)
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		shot := filepath.Join(dir, "ab.png")
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", shot)
	}
	for _, p := range problems.all() {
		t.Error(p)
	}
}
