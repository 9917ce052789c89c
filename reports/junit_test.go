package reports

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/rundir"
)

func ptr(v float64) *float64 { return &v }

// handStats builds overall stats whose latencies scale with slow.
func handStats(total, failed int64, slow float64, llm bool) analyze.Stats {
	ms := func(p50, p99 float64) *analyze.MetricStats {
		return &analyze.MetricStats{
			Count: total - failed, Min: p50 / 2 * slow, Mean: p50 * 1.1 * slow, P50: p50 * slow, P90: (p50 + p99) / 2 * slow,
			P95: p99 * 0.9 * slow, P99: p99 * slow, P999: p99 * 1.2 * slow, Max: p99 * 1.3 * slow,
		}
	}
	st := analyze.Stats{
		Requests: analyze.Requests{Total: total, OK: total - failed, Failed: map[string]int64{"http_5xx": failed}},
		Rate:     analyze.Rate{TargetPerSec: 20, AchievedPerSec: float64(total) / 60},
		ActiveS:  60,
		Latency:  ms(180, 412),
	}
	if llm {
		st.TTFT = ms(40, 95.5)
		st.TPOT = ms(12, 21.25)
	}
	return st
}

// handRun builds a run.json by hand.
func handRun(id string, st analyze.Stats) *Run {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &Run{
		Schema: SchemaVersion, ID: id, Started: start, Ended: start.Add(time.Minute), DurationS: 60,
		Command: "gonogo run --out out/" + id, Target: "http://127.0.0.1:8000", Protocol: "openai",
		Overall: st, Files: []string{rundir.IntervalLog, rundir.HTML},
	}
}

// nastyName holds every character that JUnit XML and Markdown tables must
// escape.
const nastyName = `ttft p99 <800ms | "chat" & co`

// verdictInput is a judged run with a baseline: a failing critical gate,
// a passing one, an inconclusive one and a failing non-critical one.
func verdictInput() Input {
	run := handRun("20260301T120000-cand", handStats(1200, 6, 1.381, true))
	base := handRun("20260228T120000-base", handStats(1180, 4, 1, true))
	v := &analyze.Verdict{
		Schema: analyze.VerdictSchema, Verdict: analyze.NoGo, Score: 62.5, PassScore: 90, MarginalScore: 60,
		Run: run.ID, Baseline: base.ID, Created: run.Ended,
		Reasons: []string{
			"critical gate p99 latency failed: p99 latency rose 38.1 % (412 → 569 ms), allowed 10 %",
			"score 62.5 is below the pass score 90",
		},
		Gates: []analyze.GateResult{
			{
				Name: "p99 latency", Kind: analyze.Relative, Metric: "latency", Scope: "overall", Expr: "p(99) < +10%",
				Observed: 569, Baseline: ptr(412), ChangePct: ptr(38.1), Unit: "ms", PValue: ptr(0.0004), EffectSize: ptr(0.41),
				Status: analyze.GateFail, Critical: true, Weight: 1,
				Reason: "p99 latency rose 38.1 % (412 → 569 ms), allowed 10 %, Mann–Whitney p < 0.001",
			},
			{
				Name: "error rate", Kind: analyze.Absolute, Metric: "errors", Scope: "overall", Expr: "rate<0.01",
				Observed: 0.005, Pass: true, Status: analyze.GatePass, Weight: 1, Reason: "error rate 0.005 < 0.01",
			},
			{
				Name: "goodput", Kind: analyze.Goodput, Metric: "goodput", Scope: "overall", Expr: "rate>0.95",
				Observed: 0, Status: analyze.GateInconclusive, Weight: 1,
				Reason: "goodput needs per-request samples; the run kept none",
			},
			{
				Name: nastyName, Kind: analyze.Absolute, Metric: "ttft", Scope: "scenario:chat", Expr: "p(99)<800",
				Observed: 1319.4, Unit: "ms", Status: analyze.GateFail, Weight: 0.5,
				Reason: "p99 ttft 1319 ms > 800 ms for <chat> & \"co\"\nsecond line",
			},
		},
	}
	return Input{
		Run: run, Data: &analyze.RunData{ID: run.ID, Dir: "out/" + run.ID},
		Baseline: base, BaselineData: &analyze.RunData{ID: base.ID, Dir: "out/" + base.ID},
		Verdict: v,
	}
}

// Independent of the writer's types, so that a mistake in those shows.
type parsedSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	parsedCounts
	Suites []struct {
		Name string `xml:"name,attr"`
		parsedCounts
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []parsedCase `xml:"testcase"`
	} `xml:"testsuite"`
}

type parsedCounts struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
}

type parsedProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type parsedCase struct {
	Classname string         `xml:"classname,attr"`
	Name      string         `xml:"name,attr"`
	Failure   *parsedProblem `xml:"failure"`
	Error     *parsedProblem `xml:"error"`
	Skipped   *parsedProblem `xml:"skipped"`
}

func parseJUnit(t *testing.T, b []byte) parsedSuites {
	t.Helper()
	if !bytes.HasPrefix(b, []byte(xml.Header)) {
		t.Errorf("no XML declaration:\n%s", b)
	}
	var doc parsedSuites
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("output is not valid XML: %v\n%s", err, b)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d test suites, want 1", len(doc.Suites))
	}
	s := doc.Suites[0]
	if doc.parsedCounts != s.parsedCounts {
		t.Errorf("testsuites counts %+v differ from the testsuite's %+v", doc.parsedCounts, s.parsedCounts)
	}
	if s.Tests != len(s.Cases) {
		t.Errorf("tests=%d, but %d test cases", s.Tests, len(s.Cases))
	}
	return doc
}

func TestWriteJUnitVerdict(t *testing.T) {
	in := verdictInput()
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, in); err != nil {
		t.Fatal(err)
	}
	golden(t, "golden/verdict.junit.xml", buf.Bytes())
	doc := parseJUnit(t, buf.Bytes())
	s := doc.Suites[0]
	if want := "gonogo verdict: " + in.Run.ID; s.Name != want {
		t.Errorf("suite name %q, want %q", s.Name, want)
	}
	if s.Tests != 4 || s.Failures != 2 || s.Errors != 0 || s.Skipped != 1 || len(s.Cases) != 4 {
		t.Errorf("tests %d failures %d errors %d skipped %d cases %d, want 4 2 0 1 4",
			s.Tests, s.Failures, s.Errors, s.Skipped, len(s.Cases))
	}
	props := map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	wantProps := map[string]string{"verdict": "no-go", "score": "62.5", "run": in.Run.ID, "baseline": in.Baseline.ID}
	for k, v := range wantProps {
		if props[k] != v {
			t.Errorf("property %s = %q, want %q", k, props[k], v)
		}
	}
	for i, g := range in.Verdict.Gates {
		c := s.Cases[i]
		if c.Name != g.Name || c.Classname != "gonogo."+string(g.Kind) {
			t.Errorf("case %d: %s %q, want gonogo.%s %q", i, c.Classname, c.Name, g.Kind, g.Name)
		}
		switch g.Status {
		case analyze.GateFail:
			if c.Failure == nil {
				t.Errorf("%s: no failure", g.Name)
				continue
			}
			wantType := "gate"
			if g.Critical {
				wantType = "critical"
			}
			if c.Failure.Message != g.Reason || c.Failure.Type != wantType {
				t.Errorf("%s: failure %q type %q, want %q type %q", g.Name, c.Failure.Message, c.Failure.Type, g.Reason, wantType)
			}
			for _, want := range []string{"metric: " + g.Metric, "scope: " + g.Scope, "expr: " + g.Expr} {
				if !strings.Contains(c.Failure.Body, want) {
					t.Errorf("%s: details lack %q:\n%s", g.Name, want, c.Failure.Body)
				}
			}
		case analyze.GateInconclusive:
			if c.Skipped == nil || c.Skipped.Message != g.Reason || c.Failure != nil {
				t.Errorf("%s: want skipped with %q, got %+v", g.Name, g.Reason, c)
			}
		default:
			if c.Failure != nil || c.Skipped != nil || c.Error != nil {
				t.Errorf("%s: passing gate reported %+v", g.Name, c)
			}
		}
	}
	body := s.Cases[0].Failure.Body
	for _, want := range []string{"observed: 569 ms", "baseline: 412 ms", "change: +38.1 %", "p-value: < 0.001", "effect size: 0.41"} {
		if !strings.Contains(body, want) {
			t.Errorf("critical gate details lack %q:\n%s", want, body)
		}
	}
}

func TestWriteJUnitThresholds(t *testing.T) {
	run := fixtureRun(t)
	run.Aborted, run.AbortReason = true, "threshold errors rate<0.01 failed"
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, Input{Run: run}); err != nil {
		t.Fatal(err)
	}
	golden(t, "golden/thresholds.junit.xml", buf.Bytes())
	s := parseJUnit(t, buf.Bytes()).Suites[0]
	// Four thresholds, two failing (errors, and ttft with no data), and
	// the aborted run as an error.
	if s.Tests != 5 || s.Failures != 2 || s.Errors != 1 || s.Skipped != 0 {
		t.Errorf("tests %d failures %d errors %d skipped %d, want 5 2 1 0", s.Tests, s.Failures, s.Errors, s.Skipped)
	}
	msgs := map[string]string{}
	for _, c := range s.Cases {
		switch {
		case c.Failure != nil:
			msgs[c.Name] = c.Failure.Message
		case c.Error != nil:
			msgs[c.Name] = c.Error.Message
		}
	}
	want := map[string]string{
		"errors rate<0.01":                "errors rate<0.01 failed: observed 0.1 (abortOnFail)",
		"ttft{scenario:warmup} p(99)<100": "ttft{scenario:warmup} p(99)<100 failed: observed no data",
		"run completed":                   "run aborted: threshold errors rate<0.01 failed",
	}
	for name, m := range want {
		if msgs[name] != m {
			t.Errorf("%s: message %q, want %q", name, msgs[name], m)
		}
	}
	for _, p := range s.Properties {
		if p.Name == "verdict" || p.Name == "baseline" {
			t.Errorf("unjudged run without baseline has property %s=%q", p.Name, p.Value)
		}
	}
}

func TestWriteNoRun(t *testing.T) {
	for name, write := range map[string]func(io.Writer, Input) error{"junit": WriteJUnit, "markdown": WriteMarkdown} {
		if err := write(io.Discard, Input{Verdict: &analyze.Verdict{}}); err == nil {
			t.Errorf("%s: no error for an input without a run", name)
		}
	}
}
