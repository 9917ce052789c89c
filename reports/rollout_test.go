package reports

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"gonum.org/v1/plot/plotter"

	"github.com/gonogo-dev/gonogo"
)

// rolloutEvent is a transition of rollout name at s seconds into the
// htmlFixture's run, as the rollout controller journals it; weights are
// backend, percent pairs.
func rolloutEvent(name string, s float64, kind, transition, actor, step, phase, reason string, weights ...string) gonogo.Event {
	attrs := map[string]string{"transition": transition, "actor": actor, "step": step, "phase": phase}
	for i := 0; i+1 < len(weights); i += 2 {
		attrs["weight."+weights[i]] = weights[i+1]
	}
	return gonogo.Event{Schema: gonogo.EventSchema, Time: htmlT0.Add(secondsDur(s)), Kind: kind, Source: "rollout", Target: name,
		Message: reason, Attrs: attrs}
}

// canaryEvents are a canary of v2-slow over the htmlFixture's 60 s run:
// started 0.5 s before the run, warmed at +1 s, 25 % at +2 s, held at
// +3 s, 50 % at +20 s, rolled back at +38 s, drained at +42 s; journaled
// out of order, as a journal of several writers may be.
func canaryEvents() []gonogo.Event {
	const name = "v2-slow"
	return []gonogo.Event{
		rolloutEvent(name, 20, "flip", "flip", "controller", "3", "progressing", "setWeight 50%", "v1", "50", "v2-slow", "50"),
		rolloutEvent(name, -0.5, "step", "start", "controller", "0", "progressing", "rollout started", "v1", "100", "v2-slow", "0"),
		rolloutEvent(name, 1, "step", "warm", "controller", "0", "progressing", "v2-slow ready and warm", "v1", "100", "v2-slow", "0"),
		rolloutEvent(name, 2, "flip", "flip", "controller", "1", "progressing", "setWeight 25%", "v1", "75", "v2-slow", "25"),
		rolloutEvent(name, 3, "step", "hold", "analysis", "1", "progressing", "too few requests to judge", "v1", "75", "v2-slow", "25"),
		rolloutEvent(name, 38, "rollback", "rollback", "analysis", "3", "rolled-back", "critical gate failed: canary latency rose 400 %", "v1", "100", "v2-slow", "0"),
		rolloutEvent(name, 42, "step", "drain", "controller", "3", "rolled-back", "v2-slow drained in 4s", "v1", "100", "v2-slow", "0"),
	}
}

// rolloutFixture is the htmlFixture's run with the v2-slow canary in its
// journal beside the fixture's fault and flip events.
func rolloutFixture(tb testing.TB) Input {
	in := htmlFixture(tb)
	in.Data.Events = append(in.Data.Events, canaryEvents()...)
	return in
}

// stepAt is the value of a step series at x: that of its last point at
// or before x; ok is false before the first point.
func stepAt(pts plotter.XYs, x float64) (y float64, ok bool) {
	for _, p := range pts {
		if p.X > x {
			break
		}
		y, ok = p.Y, true
	}
	return y, ok
}

func TestRolloutHistories(t *testing.T) {
	hs := rolloutHistories(append(htmlEvents(), canaryEvents()...))
	if len(hs) != 1 {
		t.Fatalf("%d rollouts, want 1 (the fixture's flip without weights is none)", len(hs))
	}
	h := hs[0]
	if h.name != "v2-slow" || !slices.Equal(h.backends, []string{"v1", "v2-slow"}) {
		t.Errorf("rollout %q with backends %v, want v2-slow with v1, v2-slow", h.name, h.backends)
	}
	var kinds []string
	for _, tr := range h.transitions {
		kinds = append(kinds, tr.kind)
	}
	if want := []string{"start", "warm", "flip", "hold", "flip", "rollback", "drain"}; !slices.Equal(kinds, want) {
		t.Errorf("transitions %v, want in time order %v", kinds, want)
	}
	text, class, reason := h.outcome()
	if text != "rolled back" || class != "no-go" || reason != "critical gate failed: canary latency rose 400 %" {
		t.Errorf("outcome %q (%s): %q, want rolled back for the failed gate", text, class, reason)
	}

	ax := newTimeAxis(htmlT0, 60)
	for _, c := range []struct {
		backend string
		at      float64
		want    float64
	}{
		{"v1", 0, 100}, {"v2-slow", 0, 0}, // the start before the run holds at its start
		{"v1", 1.99, 100}, {"v1", 2, 75}, {"v2-slow", 2, 25}, {"v2-slow", 10, 25},
		{"v2-slow", 19.99, 25}, {"v2-slow", 20, 50}, {"v1", 37.9, 50},
		{"v1", 38, 100}, {"v2-slow", 38, 0}, {"v2-slow", 60, 0},
	} {
		got, ok := stepAt(h.weightSeries(c.backend, ax), c.at)
		if !ok || got != c.want {
			t.Errorf("%s at +%gs: %v (known %v), want %v", c.backend, c.at, got, ok, c.want)
		}
	}
	// One rise and one fall of v2-slow, each a vertical step; the series
	// spans the whole axis.
	s := h.weightSeries("v2-slow", ax)
	if want := (plotter.XYs{{X: 0, Y: 0}, {X: 2, Y: 0}, {X: 2, Y: 25}, {X: 20, Y: 25}, {X: 20, Y: 50}, {X: 38, Y: 50}, {X: 38, Y: 0}, {X: 60, Y: 0}}); !slices.Equal(s, want) {
		t.Errorf("v2-slow series %v, want %v", s, want)
	}
}

func TestRolloutHistoriesEdgeCases(t *testing.T) {
	if hs := rolloutHistories(htmlEvents()); len(hs) != 0 {
		t.Errorf("%d rollouts from a journal without rollout weights, want none", len(hs))
	}
	if hs := rolloutHistories(nil); len(hs) != 0 {
		t.Errorf("%d rollouts from no events", len(hs))
	}
	ax := newTimeAxis(htmlT0, 60)
	evs := []gonogo.Event{
		// Two rollouts; bad weights are left out; a backend first named
		// late has no weight before; an event from another source with
		// weights is none of them.
		rolloutEvent("b", 10, "step", "start", "controller", "0", "progressing", "rollout started", "blue", "100", "green", "NaN"),
		rolloutEvent("a", 5, "step", "start", "controller", "0", "progressing", "rollout started", "v1", "100", "v2", "0"),
		rolloutEvent("b", 30, "flip", "flip", "controller", "1", "progressing", "flip", "blue", "0", "green", "100", "ghost", "150"),
		rolloutEvent("a", 50, "step", "promote", "alice", "4", "promoted", "promoted by alice", "v1", "0", "v2", "100"),
		rolloutEvent("a", 70, "step", "drain", "controller", "4", "promoted", "v1 drained", "v1", "0", "v2", "100"),
		{Schema: gonogo.EventSchema, Time: htmlT0.Add(20 * time.Second), Kind: "flip", Source: "chaos", Target: "a", Attrs: map[string]string{"weight.v1": "10"}},
	}
	hs := rolloutHistories(evs)
	if len(hs) != 2 || hs[0].name != "a" || hs[1].name != "b" {
		t.Fatalf("rollouts %v, want a then b", hs)
	}
	a, b := hs[0], hs[1]
	if len(a.transitions) != 3 || !slices.Equal(b.backends, []string{"blue", "green"}) {
		t.Errorf("a has %d transitions (want 3), b backends %v (want blue, green)", len(a.transitions), b.backends)
	}
	if y, ok := stepAt(b.weightSeries("green", ax), 20); ok {
		t.Errorf("green at +20s is %v, want unknown before the event that first gives it a weight", y)
	}
	if y, ok := stepAt(a.weightSeries("v2", ax), 0); ok {
		t.Errorf("v2 at +0s is %v, want unknown before the rollout's first event", y)
	}
	// The drain after the axis' end sits on it; the promotion is the
	// outcome, with its reason.
	if s := a.weightSeries("v2", ax); s[len(s)-1] != (plotter.XY{X: 60, Y: 100}) {
		t.Errorf("v2 series ends %v, want (60, 100)", s[len(s)-1])
	}
	if text, class, reason := a.outcome(); text != "promoted" || class != "go" || reason != "promoted by alice" {
		t.Errorf("a's outcome %q (%s): %q", text, class, reason)
	}
	if text, class, reason := b.outcome(); text != "progressing when the run ended" || class != "inconclusive" || reason != "" {
		t.Errorf("b's outcome %q (%s): %q", text, class, reason)
	}
}

func TestWriteHTMLRollout(t *testing.T) {
	if page := renderHTML(t, htmlFixture(t)); strings.Contains(page, `id="rollout"`) || strings.Contains(page, "Traffic weights") {
		t.Error("a run without rollout weights has a rollout section")
	}
	page := renderHTML(t, rolloutFixture(t))
	for _, want := range []string{
		`id="rollout"`, `data-rollout="v2-slow"`,
		`<strong>v2-slow</strong>: <span class="status-no-go">rolled back</span> — critical gate failed: canary latency rose 400 %`,
		// the rows, with the weights after each transition
		`<td class="num">-500ms</td><td><span class="swatch" style="background:#17becf"></span>start</td><td>controller</td><td class="num">0</td><td>progressing</td><td class="mono">v1 100 % · v2-slow 0 %</td><td>rollout started</td>`,
		`<tr class="inconclusive"><td class="num">&#43;3s</td>`,
		`<tr class="fail"><td class="num">&#43;38s</td><td><span class="swatch" style="background:#8c564b"></span>rollback</td><td>analysis</td><td class="num">3</td><td>rolled-back</td><td class="mono">v1 100 % · v2-slow 0 %</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if got := strings.Count(page, `<svg class="chart"`); got != htmlFixtureCharts+1 {
		t.Errorf("%d charts, want %d", got, htmlFixtureCharts+1)
	}
	section := page[strings.Index(page, `id="rollout"`):]
	section = section[:strings.Index(section, "</section>")]
	if got := strings.Count(section, "<tr class="); got != len(canaryEvents()) {
		t.Errorf("%d transition rows, want %d", got, len(canaryEvents()))
	}
	svg := chartSVGs(page)["Traffic weights: v2-slow"]
	if svg == "" {
		t.Fatal("no weights chart")
	}
	for _, want := range []string{">v1</text>", ">v2-slow</text>", ">flip</text>", ">rollback</text>", ">weight (%)</text>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("weights chart lacks %q", want)
		}
	}
	assertSelfContained(t, page)
}

// TestRolloutMarksEveryTransition: each transition is a marker of the
// weights chart, labelled with its kind, the one before the run on the
// axis' start.
func TestRolloutMarksEveryTransition(t *testing.T) {
	in := rolloutFixture(t)
	hs := rolloutHistories(in.Data.Events)
	ax := runTimeAxis(in)
	f, err := hs[0].figure(in.Data.Events, ax)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range f.markers {
		if m.kind == "fault" {
			continue
		}
		got = append(got, m.label+"@"+strconv.FormatFloat(math.Round(m.x*1000)/1000, 'f', -1, 64))
	}
	want := []string{"start@0", "warm@1", "flip@2", "hold@3", "flip@20", "rollback@38", "drain@42", "traffic flipped to v2@50"}
	if !slices.Equal(got, want) {
		t.Errorf("markers %v, want %v", got, want)
	}
}

// TestRolloutInChromium: the rollout section as a browser shows it: the
// outcome line, the weights chart drawn with a series per backend and a
// dashed line per transition, and the transitions table with its rows.
func TestRolloutInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	path, err := filepath.Abs(filepath.Join(artifactDir(t), "rollout.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(renderHTML(t, rolloutFixture(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var problems pageProblems
	bctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(problems.listen("file://"+path)))
	defer cancelTab()
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS("#rollout"))); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(bctx, chromedp.Evaluate[rolloutView](rolloutJS))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Outcome, "v2-slow: rolled back") {
		t.Errorf("outcome line %q, want it visible and rolled back", got.Outcome)
	}
	if got.Width < 100 || got.Height < 100 {
		t.Errorf("weights chart %.0f×%.0f px", got.Width, got.Height)
	}
	// v1 blue and v2-slow orange, each drawn in the data area.
	if got.Series["rgb(31,119,180)"] < 1 || got.Series["rgb(255,127,14)"] < 1 {
		t.Errorf("series drawn by colour %v, want one for v1 (blue) and one for v2-slow (orange)", got.Series)
	}
	// Seven transitions and the fixture's flip and fault: dashed lines
	// across the panel (legend samples are shorter).
	if got.Markers != len(canaryEvents())+2 {
		t.Errorf("%d event lines across the chart, want %d", got.Markers, len(canaryEvents())+2)
	}
	if len(got.Rows) != len(canaryEvents()) || !strings.HasPrefix(got.Rows[0], "-500ms\tstart") || !strings.HasPrefix(got.Rows[5], "+38s\trollback") {
		t.Errorf("transition rows %q", got.Rows)
	}
	png, err := chromedp.Run(bctx, chromedp.Screenshot(chromedp.CSS("#rollout")))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(filepath.Dir(path), "rollout.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (page %s)", shot, path)
	for _, p := range problems.all() {
		t.Error(p)
	}
}

// rolloutView is what the browser reports of the rollout section.
type rolloutView struct {
	Outcome string         `json:"outcome"`
	Width   float64        `json:"width"`
	Height  float64        `json:"height"`
	Series  map[string]int `json:"series"`
	Markers int            `json:"markers"`
	Rows    []string       `json:"rows"`
}

// rolloutJS reads the rollout section: the visible outcome line; the
// weights chart's size, its solid lines wider than half the chart by
// stroke colour (the series) and its dashed lines taller than half the
// chart (the event lines); the transitions table's visible rows.
const rolloutJS = `(() => {
	const sec = document.querySelector('#rollout');
	const o = sec.querySelector('.outcome'), or = o.getBoundingClientRect();
	const svg = sec.querySelector('svg.chart'), r = svg.getBoundingClientRect();
	const series = {};
	let markers = 0;
	for (const p of svg.querySelectorAll('path')) {
		const st = getComputedStyle(p), b = p.getBoundingClientRect();
		if (st.stroke === 'none' || p.getTotalLength() === 0) continue;
		const dashed = st.strokeDasharray && st.strokeDasharray !== 'none';
		if (!dashed && b.width > r.width / 2) {
			const c = st.stroke.replace(/ /g, '');
			series[c] = (series[c] || 0) + 1;
		}
		if (dashed && b.height > r.height / 3) markers++;
	}
	const rows = Array.from(sec.querySelectorAll('table.transitions tbody tr'))
		.filter(tr => tr.getBoundingClientRect().height > 0)
		.map(tr => Array.from(tr.cells).map(td => td.innerText.trim()).join('\t'));
	return {outcome: or.width > 0 ? o.innerText : '', width: r.width, height: r.height, series, markers, rows};
})()`
