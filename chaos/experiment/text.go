package experiment

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gonogo-dev/gonogo/chaos"
)

// WriteTimeline prints the experiment's plan: the load, the hypothesis,
// and the method's timeline.
func WriteTimeline(w io.Writer, x *Experiment) {
	fmt.Fprintf(w, "experiment: %s\n", x.Title)
	target := x.Target
	if x.Load.Through != "" {
		target = "proxy " + x.Load.Through + " → " + x.Target
	}
	fmt.Fprintf(w, "load: %s against %s for %v\n", x.Load.Protocol, target, x.RunLength())
	var gates []string
	for _, g := range x.Hypothesis.Gates {
		gates = append(gates, g.Name)
	}
	fmt.Fprintf(w, "hypothesis: %s, over every %v window, holding %s\n", strings.Join(gates, ", "), x.Window, strings.Join(x.Steady.Hold, ", "))
	if x.AbortGates != nil {
		var names []string
		for _, g := range x.AbortGates.Gates {
			names = append(names, g.Name)
		}
		fmt.Fprintf(w, "abort when: %s\n", strings.Join(names, ", "))
	}
	fmt.Fprintf(w, "faults lease %v, renewed every %v\n", x.Lease.TTL, x.Lease.Renew)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  at\tuntil\tactivity\tkind\ttarget")
	fmt.Fprintf(tw, "  0s\t%v\tsteady state\tcheck\tbefore\n", x.Method[0].At.D())
	for i := range x.Method {
		a := &x.Method[i]
		f := a.fault()
		until := "instant"
		if a.Duration > 0 {
			until = (a.At.D() + a.Duration.D()).String()
		} else if needsRevert(&running{a: a}) {
			until = x.MethodEnd().String() + " (end of method)"
		}
		fmt.Fprintf(tw, "  %v\t%s\t%s\t%s\t%s\n", a.At.D(), until, a.Name, f.Kind, f.Target)
	}
	fmt.Fprintf(tw, "  %v\t%v\trecovery\tcheck\tafter\n", x.MethodEnd(), x.RunLength())
	for _, a := range x.Rollbacks {
		f := a.fault()
		fmt.Fprintf(tw, "  end\t\t%s\trollback %s\t%s\n", a.Name, f.Kind, f.Target)
	}
	tw.Flush()
}

// WriteSummary prints the outcome of an experiment from its journal.
func WriteSummary(w io.Writer, j *chaos.Journal) {
	fmt.Fprintf(w, "experiment %s: %s, hypothesis %s\n", j.Title, j.Status, j.Verdict)
	if j.Reason != "" {
		fmt.Fprintf(w, "  %s\n", j.Reason)
	}
	h := j.Hypothesis
	for _, p := range []struct {
		name string
		c    *chaos.Check
	}{{"before", h.Before}, {"during", h.During}, {"after", h.After}} {
		if p.c == nil {
			continue
		}
		fmt.Fprintf(w, "  %-7s %s at +%.0fs", p.name, p.c.Status, p.c.ElapsedS)
		if len(p.c.Gates) > 0 {
			fmt.Fprintf(w, " (%s)", gateText(p.c.Gates))
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  activity\tkind\toutcome\tspan\tdetected\trecovered\taffected")
	for _, a := range j.Activities {
		span, det, rec, aff := "-", "-", "-", "-"
		if a.Start != nil && a.End != nil {
			span = fmt.Sprintf("+%.1fs..+%.1fs", a.Start.Sub(j.Started).Seconds(), a.End.Sub(j.Started).Seconds())
		}
		if a.TimeToDetectS != nil {
			det = fmt.Sprintf("%.1fs", *a.TimeToDetectS)
		}
		if a.TimeToRecoverS != nil {
			rec = fmt.Sprintf("%.1fs", *a.TimeToRecoverS)
		}
		if a.Affected != nil {
			aff = fmt.Sprintf("%d of %d", *a.Affected, *a.Matched)
		}
		outcome := a.Outcome
		if a.Error != "" {
			outcome += ": " + a.Error
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.Kind, outcome, span, det, rec, aff)
	}
	tw.Flush()
	br := j.BlastRadius
	fmt.Fprintf(w, "  blast radius: %d of %d requests failed; %d of %d while faults were in force (%.2f %%)\n",
		br.Failed, br.Requests, br.DuringFailed, br.DuringRequests, 100*br.DuringErrRate)
}
