package reports

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/fuzz"
)

// gameDayFixture is the HTML fixture's run as a chaos experiment that
// deviated: 5 % errors for 12 s from +36 s, detected after 1 s and
// recovered 2 s after the fault ended; with malformed-input findings.
func gameDayFixture(tb testing.TB) Input {
	in := htmlFixture(tb)
	in.Verdict, in.Baseline, in.BaselineData = nil, nil, nil
	zero := in.Run.Started
	at := func(s float64) *time.Time { t := zero.Add(time.Duration(s * float64(time.Second))); return &t }
	f := func(v float64) *float64 { return &v }
	n := func(v int64) *int64 { return &v }
	j := &chaos.Journal{Title: "errors under a flaky gateway", Started: zero, Ended: at(60), Status: chaos.StatusDeviated,
		Verdict: chaos.Deviated, Reason: "the hypothesis failed during the method at +38s: errors: rate errors is 5 % (outside rate<0.01)",
		Hypothesis: chaos.Hypothesis{Title: "errors stay rare", WindowS: 10, Hold: []string{"before", "during", "after"}, Gates: []string{"errors"},
			Before: &chaos.Check{ElapsedS: 36, Phase: "before", Status: chaos.Held},
			During: &chaos.Check{ElapsedS: 38, Phase: "during", Status: chaos.Deviated, Gates: []chaos.GateOutcome{{Name: "errors", Status: "fail", Observed: 0.05, Reason: "rate errors is 5 % (outside rate<0.01)"}}},
			After:  &chaos.Check{ElapsedS: 60, Phase: "after", Status: chaos.Held}},
		Activities: []chaos.Activity{{Name: "flaky gateway", Kind: "http.error", Target: "edge", AtS: 36, DurationS: 12, Start: at(36), End: at(48),
			Outcome: chaos.OutcomeOK, Matched: n(240), Affected: n(12), DetectedAt: at(37), TimeToDetectS: f(1), RecoveredAt: at(50), TimeToRecoverS: f(2)}},
		BlastRadius: chaos.BlastRadius{Requests: 1200, Failed: 20, DuringRequests: 240, DuringFailed: 12, DuringErrRate: 0.05, Affected: 12},
	}
	for s := 1; s <= 60; s++ {
		st, failed := chaos.Held, int64(0)
		if s > 36 && s <= 48 {
			failed = 1
		}
		if s > 37 && s <= 50 {
			st = chaos.Deviated
		}
		if s < 10 {
			st = chaos.Inconclusive
		}
		j.Checks = append(j.Checks, chaos.Check{Time: *at(float64(s)), ElapsedS: float64(s), Status: st})
		j.Intervals = append(j.Intervals, chaos.IntervalCheck{End: *at(float64(s)), Status: st, Requests: 20, Failed: failed})
	}
	in.Experiment = j
	in.Fuzz = &fuzz.Report{Target: "http://127.0.0.1:8000", Sent: 12,
		Classes: []fuzz.ClassResult{
			{Class: "invalid-json", Sent: 6, Counts: map[fuzz.Outcome]int{fuzz.ValidationError: 6}},
			{Class: "nan-inf", Sent: 6, Counts: map[fuzz.Outcome]int{fuzz.AcceptedNonsense: 6}},
		},
		Findings: []fuzz.Finding{{Class: "nan-inf", Variant: "bare-nan", Outcome: fuzz.AcceptedNonsense, Count: 6,
			Example: fuzz.Example{Request: `POST /v2/models/resnet/infer {"inputs":[{"data":[NaN]}]}`}}},
	}
	return in // the fixture's events hold the fault span, +36s for 12s
}

func TestWriteHTMLGameDay(t *testing.T) {
	page := renderHTML(t, gameDayFixture(t))
	for _, want := range []string{
		`class="banner no-go"`, ">HYPOTHESIS DEVIATED<", "experiment errors under a flaky gateway: deviated",
		`id="gameday"`, "the hypothesis failed during the method at &#43;38s",
		// phases, the activity with its times, the blast radius
		`<tr class="fail"><td>during</td><td class="num">&#43;38s</td><td class="status">deviated</td>`,
		`<td class="num">&#43;36s for 12s</td><td class="num">&#43;36s … &#43;48s</td>`, `<td class="num">12 of 240</td><td class="num">1s</td><td class="num">2s</td>`,
		"5.00 %", ">Steady state<",
		// malformed input
		`id="fuzz"`, `<tr class="fail"><td>nan-inf</td>`, "accepted-nonsense 6", "nan-inf/bare-nan → accepted-nonsense ×6",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the game-day report lacks %q", want)
		}
	}
	// A report of a malformed-input run alone.
	page = renderHTML(t, Input{Fuzz: gameDayFixture(t).Fuzz})
	for _, want := range []string{`class="banner no-go"`, ">FINDINGS<", "6 of 12 malformed requests"} {
		if !strings.Contains(page, want) {
			t.Errorf("the malformed-input report lacks %q", want)
		}
	}
}

// TestGameDayInChromium: the game-day report as a browser shows it: the
// red banner, the sections visible, the steady-state chart drawn with the
// fault shaded on both its panels.
func TestGameDayInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	path, err := filepath.Abs(filepath.Join(artifactDir(t), "gameday.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(renderHTML(t, gameDayFixture(t))), 0o644); err != nil {
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
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS("#details"))); err != nil {
		t.Fatal(err)
	}
	banner, err := chromedp.Run(bctx, chromedp.Evaluate[string](bannerJS))
	if err != nil || !strings.Contains(banner, "HYPOTHESIS DEVIATED") {
		t.Errorf("banner %q (%v)", banner, err)
	}
	visible, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`['#gameday','#phases','#activities','#blast','#fuzz','#findings'].map(s => {
		const e = document.querySelector(s); const r = e ? e.getBoundingClientRect() : {width: 0};
		return r.width > 0 ? e.innerText.slice(0, 40) : 'MISSING ' + s; })`))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range visible {
		if strings.HasPrefix(v, "MISSING") {
			t.Error(v)
		}
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartBox](chartsJS))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range charts {
		if c.Label == "Steady state" {
			found = true
			if c.Drawn < 3 || c.Shaded != 2 {
				t.Errorf("steady-state chart: %d paths drawn, %d span bands, want the fault shaded on both panels", c.Drawn, c.Shaded)
			}
		}
	}
	if !found {
		t.Errorf("no steady-state chart among %d", len(charts))
	}
	for _, p := range problems.all() {
		t.Error(p)
	}
}

// TestGameDayJUnitMarkdown: the experiment's phases are JUnit test cases
// (the deviated one failing) and its activities a Markdown table.
func TestGameDayJUnitMarkdown(t *testing.T) {
	in := gameDayFixture(t)
	var junit, md strings.Builder
	if err := WriteJUnit(&junit, in); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, in); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`name="gonogo chaos experiment: errors under a flaky gateway"`, `tests="4" failures="1"`,
		`<testcase classname="gonogo.chaos.hypothesis" name="steady state during">`, `message="deviated at +38s"`,
		`<property name="hypothesis" value="deviated">`} {
		if !strings.Contains(junit.String(), want) {
			t.Errorf("JUnit lacks %q:\n%s", want, junit.String())
		}
	}
	for _, want := range []string{"### gonogo chaos: **hypothesis DEVIATED** (deviated)", "| flaky gateway | http.error | +36s … +48s | ok | 1s | 2s |", "Blast radius: 20 of 1,200"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
}
