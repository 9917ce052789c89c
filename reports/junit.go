package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// junitSuites is the JUnit XML document, in the dialect that Jenkins,
// GitLab and the GitHub test reporters read.
type junitSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suite    junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	Skipped   *junitSkipped `xml:"skipped"`
}

// junitProblem is a failure or an error: a one-line message and the
// details in the body.
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes in as a JUnit XML report for CI test reporters: one
// test suite named after the run, with one test case per verdict gate
// (failed gates fail, inconclusive ones are skipped), or, when the run was
// not judged, one per run.json threshold. A partial run (killed,
// interrupted, aborted) adds an error case "run completed" saying why, so
// that CI does not take partial results for complete ones.
func WriteJUnit(w io.Writer, in Input) error {
	if in.Run == nil {
		return ErrNoRun
	}
	s := junitSuite{
		Name: "gonogo verdict: " + in.Run.ID,
		Time: fmtNum(in.Run.DurationS, 3),
	}
	if !in.Run.Started.IsZero() {
		s.Timestamp = in.Run.Started.UTC().Format("2006-01-02T15:04:05")
	}
	if v := in.Verdict; v != nil {
		s.Properties = append(s.Properties,
			junitProperty{"verdict", string(v.Verdict)},
			junitProperty{"score", numfmt.Decimals(v.Score, 1)})
		for _, g := range v.Gates {
			s.Cases = append(s.Cases, gateCase(g))
		}
	} else if j := in.Experiment; j != nil {
		s.Name = "gonogo chaos experiment: " + j.Title
		s.Properties = append(s.Properties, junitProperty{"status", j.Status}, junitProperty{"hypothesis", j.Verdict})
		s.Cases = append(s.Cases, experimentCases(j)...)
	} else {
		s.Name = "gonogo thresholds: " + in.Run.ID
		for _, t := range in.Run.Thresholds {
			s.Cases = append(s.Cases, thresholdCase(t))
		}
	}
	s.Properties = append(s.Properties, junitProperty{"run", in.Run.ID})
	if id := baselineID(in); id != "" {
		s.Properties = append(s.Properties, junitProperty{"baseline", id})
	}
	if in.Run.Status != "" && in.Experiment == nil {
		s.Properties = append(s.Properties, junitProperty{"status", in.Run.Status})
	}
	if c, ok := runCompletedCase(in.Run); ok {
		s.Cases = append(s.Cases, c)
	}
	for _, c := range s.Cases {
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Error != nil:
			s.Errors++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
	s.Tests = len(s.Cases)
	doc := junitSuites{
		Name: "gonogo", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors,
		Skipped: s.Skipped, Time: s.Time, Suite: s,
	}
	ew := &errWriter{w: w}
	ew.printf("%s", xml.Header)
	enc := xml.NewEncoder(ew)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("reports: encode JUnit: %w", err)
	}
	ew.printf("\n")
	return ew.err
}

// runCompletedCase is the error case "run completed" of a partial or
// aborted run; ok is false for a complete one.
func runCompletedCase(r *Run) (c junitCase, ok bool) {
	c = junitCase{Classname: "gonogo.run", Name: "run completed"}
	switch note := partialNote(r); {
	case note != "":
		typ := r.Status
		if typ == StatusRunning {
			typ = "killed"
		}
		c.Error = &junitProblem{Message: note, Type: typ,
			Body: "status: " + r.Status + "\nthe results cover only what was measured before the run ended; they are not a pass\n"}
	case r.Aborted:
		c.Error = &junitProblem{Message: "run aborted: " + r.AbortReason, Type: "aborted"}
	default:
		return c, false
	}
	return c, true
}

// gateCase is the test case of one verdict gate.
func gateCase(g analyze.GateResult) junitCase {
	kind := string(g.Kind)
	if kind == "" {
		kind = "gate"
	}
	c := junitCase{Classname: "gonogo." + kind, Name: g.Name}
	switch g.Status {
	case analyze.GateFail:
		typ := "gate"
		if g.Critical {
			typ = "critical"
		}
		c.Failure = &junitProblem{Message: gateMessage(g), Type: typ, Body: gateDetails(g)}
	case analyze.GateInconclusive:
		c.Skipped = &junitSkipped{Message: gateMessage(g)}
	}
	return c
}

// gateMessage is the reason of a gate, or a sentence made of its
// expression when it gives none.
func gateMessage(g analyze.GateResult) string {
	if g.Reason != "" {
		return g.Reason
	}
	return fmt.Sprintf("%s %s: observed %s", g.Metric, g.Expr, fmtGateValue(g, g.Observed))
}

// gateDetails lists a gate's figures, one "field: value" a line.
func gateDetails(g analyze.GateResult) string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s: %s\n", k, v) }
	line("metric", g.Metric)
	if g.Scope != "" {
		line("scope", g.Scope)
	}
	line("expr", g.Expr)
	line("observed", fmtGateValue(g, g.Observed))
	if g.Baseline != nil {
		line("baseline", fmtGateValue(g, *g.Baseline))
	}
	if g.ChangePct != nil {
		line("change", numfmt.Change(*g.ChangePct/100))
	}
	if g.PValue != nil {
		line("p-value", numfmt.PValue(*g.PValue))
	}
	if g.EffectSize != nil {
		line("effect size", numfmt.Sig(*g.EffectSize))
	}
	line("critical", strconv.FormatBool(g.Critical))
	return b.String()
}

// thresholdCase is the test case of one run.json threshold.
func thresholdCase(t analyze.ThresholdResult) junitCase {
	c := junitCase{Classname: "gonogo.threshold", Name: t.Metric + " " + t.Expr}
	if t.Pass {
		return c
	}
	obs := numfmt.Sig(t.Observed)
	if t.NoData {
		obs = "no data"
	}
	msg := fmt.Sprintf("%s %s failed: observed %s", t.Metric, t.Expr, obs)
	if t.AbortOnFail {
		msg += " (abortOnFail)"
	}
	body := fmt.Sprintf("metric: %s\nexpr: %s\nobserved: %s\nabortOnFail: %t\n", t.Metric, t.Expr, obs, t.AbortOnFail)
	c.Failure = &junitProblem{Message: msg, Type: "threshold", Body: body}
	return c
}
