package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/analyze"
)

// partialRun is a copy of run with a status: interrupted and aborted runs
// ended at +37.2 s, a killed run recorded no end.
func partialRun(run *Run, status string) *Run {
	r := *run
	r.Status = status
	switch status {
	case StatusRunning:
		r.Ended, r.DurationS = r.Started.Add(0), 0
	case StatusInterrupted, StatusAborted:
		r.DurationS = 37.2
	}
	if status == StatusAborted {
		r.Aborted, r.AbortReason = true, "threshold errors rate<0.01 failed"
	}
	return &r
}

// goVerdict is a go verdict that the partial runs below must not turn
// into a pass.
func goVerdict(runID string) *analyze.Verdict {
	return &analyze.Verdict{
		Schema: analyze.VerdictSchema, Verdict: analyze.Go, Score: 100, PassScore: 90, MarginalScore: 60, Run: runID,
		Reasons: []string{"every gate passed"},
		Gates: []analyze.GateResult{{Name: "errors", Kind: analyze.Absolute, Metric: "errors", Expr: "rate<0.05",
			Observed: 0.01, Pass: true, Status: analyze.GatePass, Weight: 1}},
	}
}

func TestPartialNote(t *testing.T) {
	run := handRun("r", handStats(100, 0, 1, false))
	for _, c := range []struct{ status, want string }{
		{"", ""},
		{StatusComplete, ""},
		{StatusInterrupted, "partial: interrupted at +37.2s"},
		{StatusAborted, "partial: aborted at +37.2s: threshold errors rate<0.01 failed"},
		{StatusRunning, "killed: no end recorded"},
	} {
		t.Run(c.status, func(t *testing.T) {
			if got := partialNote(partialRun(run, c.status)); got != c.want {
				t.Errorf("partialNote = %q, want %q", got, c.want)
			}
		})
	}
}

func TestWriteHTMLPartial(t *testing.T) {
	for _, c := range []struct {
		name, status string
		verdict      analyze.Decision // "" for none
		class        string
		want         []string
	}{
		{"interrupted go", StatusInterrupted, analyze.Go, "partial",
			[]string{">PARTIAL RUN<", "partial: interrupted at &#43;37.2s", "verdict.json says go, but a partial run is not a pass"}},
		{"interrupted not judged", StatusInterrupted, "", "partial",
			[]string{">PARTIAL RUN<", "partial: interrupted at &#43;37.2s"}},
		{"killed", StatusRunning, "", "partial severe",
			[]string{">PARTIAL RUN<", "killed: no end recorded; data up to &#43;1m0s", "<dd>running</dd>"}},
		{"aborted inconclusive", StatusAborted, analyze.Inconclusive, "partial severe",
			[]string{">INCONCLUSIVE<", "partial: aborted at &#43;37.2s: threshold errors"}},
		{"interrupted no-go", StatusInterrupted, analyze.NoGo, "no-go",
			[]string{">NO-GO<", "partial: interrupted at &#43;37.2s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := htmlFixture(t)
			in.Run = partialRun(in.Run, c.status)
			if c.status == StatusRunning {
				// The run's summary has no end; the charts' axis comes
				// from the intervals.
				in.Data.Summary.Ended, in.Data.Summary.DurationS = in.Data.Summary.Started.Add(0), 0
			}
			in.Verdict = nil
			if c.verdict != "" {
				in.Verdict = goVerdict(in.Run.ID)
				in.Verdict.Verdict = c.verdict
			}
			page := renderHTML(t, in)
			if want := `class="banner ` + c.class + `"`; !strings.Contains(page, want) {
				t.Errorf("banner is not %q", want)
			}
			for _, bad := range []string{`class="banner go"`, ">GO<"} {
				if strings.Contains(page, bad) {
					t.Errorf("a partial run's page has %q", bad)
				}
			}
			for _, want := range c.want {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
	if page := renderHTML(t, htmlFixture(t)); strings.Contains(page, `id="partial"`) {
		t.Error("a complete run is called partial")
	}
}

func TestWriteMarkdownPartial(t *testing.T) {
	run := handRun("r", handStats(100, 0, 1, false))
	run.Thresholds = []analyze.ThresholdResult{{Metric: "errors", Expr: "rate<0.01", Pass: true}}
	for _, c := range []struct {
		name     string
		status   string
		verdict  bool
		headline string
		partial  string
	}{
		{"interrupted go", StatusInterrupted, true, "### gonogo: **PARTIAL RUN** (verdict go, score 100/100, is not a pass)",
			"**Partial run** — partial: interrupted at +37.2s"},
		{"interrupted thresholds passed", StatusInterrupted, false, "### gonogo: **PARTIAL RUN** (1 thresholds passed)",
			"**Partial run** — partial: interrupted at +37.2s"},
		{"killed", StatusRunning, false, "### gonogo: **PARTIAL RUN**", "**Partial run** — killed: no end recorded"},
		{"complete", StatusComplete, true, "### gonogo: **GO** (score 100/100)", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := Input{Run: partialRun(run, c.status)}
			if c.verdict {
				in.Verdict = goVerdict(run.ID)
			}
			md := writeMarkdown(t, in)
			if !strings.HasPrefix(md, c.headline) {
				t.Errorf("headline %q, want %q", strings.SplitN(md, "\n", 2)[0], c.headline)
			}
			if c.partial == "" && strings.Contains(md, "Partial run") || !strings.Contains(md, c.partial) {
				t.Errorf("partial line, want %q:\n%s", c.partial, md)
			}
			if c.partial != "" && strings.Contains(md, "THRESHOLDS PASSED") {
				t.Errorf("a partial run's thresholds read as passed:\n%s", md)
			}
		})
	}
}

func TestWriteJUnitPartial(t *testing.T) {
	run := handRun("r", handStats(100, 0, 1, false))
	for _, c := range []struct{ status, typ, message string }{
		{StatusInterrupted, "interrupted", "partial: interrupted at +37.2s"},
		{StatusRunning, "killed", "killed: no end recorded"},
		{StatusAborted, "aborted", "partial: aborted at +37.2s: threshold errors rate<0.01 failed"},
		{StatusComplete, "", ""},
	} {
		t.Run(c.status, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteJUnit(&buf, Input{Run: partialRun(run, c.status), Verdict: goVerdict(run.ID)}); err != nil {
				t.Fatal(err)
			}
			s := parseJUnit(t, buf.Bytes()).Suites[0]
			var completed *parsedCase
			for i := range s.Cases {
				if s.Cases[i].Name == "run completed" {
					completed = &s.Cases[i]
				}
			}
			if c.typ == "" {
				if completed != nil || s.Errors != 0 {
					t.Errorf("a complete run has a run completed case or errors: %d", s.Errors)
				}
				return
			}
			if completed == nil || completed.Error == nil || s.Errors != 1 {
				t.Fatalf("no run completed error (errors %d):\n%s", s.Errors, buf.Bytes())
			}
			if completed.Error.Type != c.typ || completed.Error.Message != c.message {
				t.Errorf("error %q type %q, want %q type %q", completed.Error.Message, completed.Error.Type, c.message, c.typ)
			}
		})
	}
}

func TestWriteTextPartial(t *testing.T) {
	run := partialRun(fixtureRun(t), StatusInterrupted)
	var buf bytes.Buffer
	if err := WriteText(&buf, run); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(buf.String(), "\n", 3)
	if want := "PARTIAL RUN: partial: interrupted at +37.2s"; !strings.HasPrefix(lines[1], want) {
		t.Errorf("second line %q, want it to start with %q", lines[1], want)
	}
}

func TestGoodputAsPercentage(t *testing.T) {
	g := analyze.GateResult{Name: "goodput", Kind: analyze.Goodput, Metric: "goodput", Scope: "overall", Expr: "rate>0.99",
		Observed: 0.973, Status: analyze.GateFail, Weight: 1}
	v := goVerdict("r")
	v.Verdict, v.Gates = analyze.NoGo, []analyze.GateResult{g}
	in := Input{Run: handRun("r", handStats(100, 0, 1, false)), Verdict: v}
	var md, xml, text bytes.Buffer
	if err := WriteMarkdown(&md, in); err != nil {
		t.Fatal(err)
	}
	if err := WriteJUnit(&xml, in); err != nil {
		t.Fatal(err)
	}
	if err := WriteVerdictText(&text, v); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"html": renderHTML(t, in), "markdown": md.String(), "junit": xml.String(), "verdict text": text.String(),
	} {
		if !strings.Contains(out, "97.3 %") || strings.Contains(out, "0.973") {
			t.Errorf("%s does not show goodput as 97.3 %%:\n%s", name, out)
		}
	}
}

func TestFmtGateValue(t *testing.T) {
	goodput := analyze.GateResult{Kind: analyze.Goodput, Metric: "goodput"}
	for _, c := range []struct {
		name string
		g    analyze.GateResult
		v    float64
		want string
	}{
		{"goodput", goodput, 0.973, "97.3 %"},
		{"goodput all", goodput, 1, "100 %"},
		{"goodput none", goodput, 0, "0 %"},
		{"goodput just below all", goodput, 0.99996, "99.996 %"},
		{"latency", analyze.GateResult{Metric: "latency", Unit: "ms"}, 50.015, "50 ms"},
		{"error rate", analyze.GateResult{Metric: "errors"}, 0.04, "0.04"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := fmtGateValue(c.g, c.v); got != c.want {
				t.Errorf("fmtGateValue(%v) = %q, want %q", c.v, got, c.want)
			}
		})
	}
}

func TestNaturalLess(t *testing.T) {
	want := []string{"", "0-128", "128-512", "512-1024", "1024-2048", "2048+", "a", "a2", "a10", "b"}
	for i := range want {
		for j := range want {
			if got := naturalLess(want[i], want[j]); got != (i < j) {
				t.Errorf("naturalLess(%q, %q) = %v, want %v", want[i], want[j], got, i < j)
			}
		}
	}
}
