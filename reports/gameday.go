package reports

import (
	"fmt"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/fuzz"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// htmlGameDay is the game-day section of a chaos experiment's report.
type htmlGameDay struct {
	Title, Description, Status, Verdict, Reason, Class string
	Hypothesis                                         string
	Gates                                              string
	Phases                                             []htmlPhase
	Activities                                         []htmlActivity
	Rollbacks                                          []htmlActivity
	Numbers                                            []htmlNumber
}

type htmlPhase struct {
	Phase, At, Status, Class, Gates string
}

type htmlActivity struct {
	Name, Kind, Target, Planned, Span, Outcome, Class, Affected, Detect, Recover, Error string
}

// newGameDay builds the game-day section from an experiment's journal.
func newGameDay(j *chaos.Journal) *htmlGameDay {
	if j == nil {
		return nil
	}
	g := &htmlGameDay{Title: j.Title, Description: j.Description, Status: j.Status, Verdict: j.Verdict,
		Reason: j.Reason, Class: experimentClass(j), Hypothesis: j.Hypothesis.Title,
		Gates: strings.Join(j.Hypothesis.Gates, ", ") + " over every " + fmtSeconds(j.Hypothesis.WindowS) + " window; holds " + strings.Join(j.Hypothesis.Hold, ", ")}
	for _, p := range []struct {
		name string
		c    *chaos.Check
	}{{chaos.PhaseBefore, j.Hypothesis.Before}, {chaos.PhaseDuring, j.Hypothesis.During}, {chaos.PhaseAfter, j.Hypothesis.After}} {
		row := htmlPhase{Phase: p.name, Status: "not checked", Class: "inconclusive"}
		if c := p.c; c != nil {
			row.At, row.Status, row.Class = "+"+fmtSeconds(c.ElapsedS), c.Status, checkClass(c.Status)
			var gs []string
			for _, gt := range c.Gates {
				gs = append(gs, gt.Name+": "+gt.Reason)
			}
			row.Gates = strings.Join(gs, "; ")
		}
		g.Phases = append(g.Phases, row)
	}
	for _, a := range j.Activities {
		g.Activities = append(g.Activities, newHTMLActivity(a, j.Started))
	}
	for _, a := range j.Rollbacks {
		g.Rollbacks = append(g.Rollbacks, newHTMLActivity(a, j.Started))
	}
	br := j.BlastRadius
	g.Numbers = []htmlNumber{
		{Label: "requests failed", Value: numfmt.Thousands(br.Failed), Sub: "of " + numfmt.Thousands(br.Requests), Bad: br.Failed > 0},
		{Label: "failed while faults were in force", Value: fmt.Sprintf("%.2f %%", 100*br.DuringErrRate),
			Sub: numfmt.Thousands(br.DuringFailed) + " of " + numfmt.Thousands(br.DuringRequests), Bad: br.DuringFailed > 0},
		{Label: "requests the proxies' faults acted on", Value: numfmt.Thousands(br.Affected)},
	}
	return g
}

func newHTMLActivity(a chaos.Activity, zero time.Time) htmlActivity {
	row := htmlActivity{Name: a.Name, Kind: a.Kind, Target: a.Target, Outcome: a.Outcome, Class: "pass",
		Planned: "+" + fmtSeconds(a.AtS), Detect: "–", Recover: "–", Affected: "–", Error: a.Error}
	if a.DurationS > 0 {
		row.Planned += " for " + fmtSeconds(a.DurationS)
	}
	if a.Start != nil && a.End != nil {
		row.Span = fmt.Sprintf("+%s … +%s", fmtSeconds(a.Start.Sub(zero).Seconds()), fmtSeconds(a.End.Sub(zero).Seconds()))
	}
	if a.Outcome == chaos.OutcomeFailed {
		row.Class = "fail"
	} else if a.Outcome == chaos.OutcomeSkipped {
		row.Class = "inconclusive"
	}
	if a.RevertError != "" {
		row.Class, row.Error = "fail", "revert failed: "+a.RevertError
	}
	if a.TimeToDetectS != nil {
		row.Detect = fmtSeconds(*a.TimeToDetectS)
	}
	if a.TimeToRecoverS != nil {
		row.Recover = fmtSeconds(*a.TimeToRecoverS)
	} else if a.TimeToDetectS != nil {
		row.Recover = "not recovered"
	}
	if a.Affected != nil && a.Matched != nil {
		row.Affected = numfmt.Thousands(*a.Affected) + " of " + numfmt.Thousands(*a.Matched)
	}
	return row
}

// experimentClass is the banner class of an experiment: go when the
// hypothesis held, no-go when it deviated, inconclusive otherwise.
func experimentClass(j *chaos.Journal) string {
	switch {
	case j.ExitCode() == 0:
		return "go"
	case j.Status == chaos.StatusDeviated:
		return "no-go"
	}
	return "inconclusive"
}

func checkClass(status string) string {
	switch status {
	case chaos.Held:
		return "pass"
	case chaos.Deviated:
		return "fail"
	}
	return "inconclusive"
}

// fmtSeconds formats seconds shortly: 12s, 1.5s.
func fmtSeconds(s float64) string {
	return numfmt.Decimals(s, 1) + "s"
}

// experimentBanner fills the banner of an experiment not otherwise
// judged: its status and hypothesis verdict.
func experimentBanner(b *htmlBanner, j *chaos.Journal) {
	b.Class = experimentClass(j)
	b.Decision = strings.ToUpper("hypothesis " + j.Verdict)
	b.Gates = "experiment " + j.Title + ": " + j.Status
	if j.Reason != "" {
		b.Reasons = []string{j.Reason}
	}
}

// fuzzBanner fills the banner of a malformed-input run alone.
func fuzzBanner(b *htmlBanner, r *fuzz.Report) {
	b.Class, b.Decision = "go", "NO FINDINGS"
	if n := r.Bad(); n > 0 {
		b.Class, b.Decision = "no-go", "FINDINGS"
		b.Reasons = []string{fmt.Sprintf("%d of %d malformed requests were mishandled (server errors, crashes, hangs or confident answers to nonsense)", n, r.Sent)}
	}
	b.Gates = "malformed input against " + r.Target
}

// htmlFuzz is the findings section of a malformed-input run.
type htmlFuzz struct {
	Target, Stopped string
	Classes         []htmlFuzzClass
	Findings        []string
	MoreFindings    int
}

type htmlFuzzClass struct {
	Class, Sent, Outcomes, Verdict, Rowclass string
}

// htmlMaxFindings bounds the findings listed.
const htmlMaxFindings = 30

func newHTMLFuzz(r *fuzz.Report) *htmlFuzz {
	if r == nil {
		return nil
	}
	h := &htmlFuzz{Target: r.Target, Stopped: r.Stopped}
	for _, c := range r.Classes {
		var parts []string
		bad := false
		for _, o := range fuzz.Outcomes {
			if n := c.Counts[o]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", o, n))
				bad = bad || o.Bad()
			}
		}
		row := htmlFuzzClass{Class: string(c.Class), Sent: numfmt.Thousands(int64(c.Sent)), Outcomes: strings.Join(parts, ", "), Verdict: "handled", Rowclass: "pass"}
		if bad {
			row.Verdict, row.Rowclass = "finding", "fail"
		}
		h.Classes = append(h.Classes, row)
	}
	for i, f := range r.Findings {
		if i == htmlMaxFindings {
			h.MoreFindings = len(r.Findings) - i
			break
		}
		h.Findings = append(h.Findings, fmt.Sprintf("%s/%s → %s ×%d: %s", f.Class, f.Variant, f.Outcome, f.Count, f.Example.Request))
	}
	return h
}

// steadyStateFigure plots the hypothesis of a chaos experiment over the
// run: the failed share of each interval, and whether the hypothesis held
// over its window at each check, with the faults shaded.
func steadyStateFigure(in Input, ax timeAxis) ([]*chartFigure, error) {
	j := in.Experiment
	if j == nil || len(j.Intervals) == 0 {
		return nil, nil
	}
	f := newTimeFigure(in, ax, "Steady state", "The steady-state hypothesis over the experiment: failed share of each interval (top), and the hypothesis over its "+
		fmtSeconds(j.Hypothesis.WindowS)+" window at each check (1 held, 0 deviated, ½ not enough data), faults shaded.")
	top := ax.panel("failed (%)")
	var errs plotter.XYs
	for _, iv := range j.Intervals {
		if iv.Requests == 0 {
			continue
		}
		errs = append(errs, plotter.XY{X: ax.at(iv.End), Y: 100 * float64(iv.Failed) / float64(iv.Requests)})
	}
	if err := f.addLine(top, "failed %", errs, palette.red, 1.4, false); err != nil {
		return nil, err
	}
	top.Y.Max = max(top.Y.Max, 1)
	headroom(top)
	bottom := ax.panel("hypothesis")
	top.X.Label.Text = ""
	var held plotter.XYs
	for _, c := range j.Checks {
		y := 0.5
		switch c.Status {
		case chaos.Held:
			y = 1
		case chaos.Deviated:
			y = 0
		}
		held = append(held, plotter.XY{X: ax.at(c.Time), Y: y})
	}
	if err := f.addLine(bottom, "held", held, palette.green, 1.4, false); err != nil {
		return nil, err
	}
	bottom.Y.Min, bottom.Y.Max = -0.1, 1.1
	f.panels = []*plot.Plot{top, bottom}
	return []*chartFigure{f}, nil
}

// experimentCases are the JUnit test cases of an experiment: one per
// phase of the hypothesis it holds to (a deviated phase fails, an
// inconclusive or missing one is an error: no data is never a pass), and
// one per activity that could not be applied or reverted.
func experimentCases(j *chaos.Journal) []junitCase {
	var out []junitCase
	checks := map[string]*chaos.Check{chaos.PhaseBefore: j.Hypothesis.Before, chaos.PhaseDuring: j.Hypothesis.During, chaos.PhaseAfter: j.Hypothesis.After}
	for _, p := range j.Hypothesis.Hold {
		c := junitCase{Classname: "gonogo.chaos.hypothesis", Name: "steady state " + p}
		switch chk := checks[p]; {
		case chk == nil:
			c.Error = &junitProblem{Message: "not checked: the experiment " + j.Status + " (" + j.Reason + ")", Type: j.Status}
		case chk.Status == chaos.Deviated:
			c.Failure = &junitProblem{Message: "deviated at +" + fmtSeconds(chk.ElapsedS), Type: "hypothesis", Body: gateReasons(chk.Gates)}
		case chk.Status == chaos.Inconclusive:
			c.Error = &junitProblem{Message: "not enough data at +" + fmtSeconds(chk.ElapsedS), Type: "inconclusive", Body: gateReasons(chk.Gates)}
		}
		out = append(out, c)
	}
	for _, a := range j.Activities {
		c := junitCase{Classname: "gonogo.chaos.activity", Name: a.Name + " (" + a.Kind + ")"}
		switch {
		case a.Outcome == chaos.OutcomeFailed:
			c.Error = &junitProblem{Message: "could not be applied: " + a.Error, Type: "activity"}
		case a.RevertError != "":
			c.Error = &junitProblem{Message: "could not be reverted: " + a.RevertError, Type: "revert"}
		case a.Outcome == chaos.OutcomeSkipped:
			c.Skipped = &junitSkipped{Message: "never started: the experiment stopped first"}
		}
		out = append(out, c)
	}
	return out
}

func gateReasons(gs []chaos.GateOutcome) string {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString(g.Name + ": " + g.Reason + "\n")
	}
	return b.String()
}

// writeExperiment writes an experiment's outcome to a Markdown summary.
func writeExperiment(ew *errWriter, j *chaos.Journal) {
	ew.printf("\n**Chaos experiment** %s: %s, hypothesis **%s**", mdInline(j.Title), j.Status, j.Verdict)
	if j.Reason != "" {
		ew.printf(" — %s", mdInline(j.Reason))
	}
	ew.printf("\n\n")
	var rows [][]string
	for _, a := range j.Activities {
		h := newHTMLActivity(a, j.Started)
		rows = append(rows, []string{a.Name, a.Kind, h.Span, a.Outcome, h.Detect, h.Recover})
	}
	mdTable(ew, "lllcrr", []string{"activity", "kind", "in force", "outcome", "time to detect", "time to recover"}, rows)
	br := j.BlastRadius
	ew.printf("\nBlast radius: %s of %s requests failed; %s while faults were in force.\n",
		numfmt.Thousands(br.Failed), numfmt.Thousands(br.Requests), numfmt.Percent(br.DuringErrRate))
}
