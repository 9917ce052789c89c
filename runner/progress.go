package runner

import (
	"fmt"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
)

// printPlan prints what the run will do, before it does it: each
// scenario's workload, against what, how long and about how many
// requests. It is printed whether or not a person is watching.
func (r *Run) printPlan() {
	target := strings.TrimSpace(r.cfg.Protocol + " " + RedactURL(r.cfg.Target))
	fmt.Fprintf(r.out, "plan: %d scenario(s) against %s → %s\n", len(r.plans), target, r.dir)
	for i, p := range r.plans {
		ps := r.planned[i]
		fmt.Fprintf(r.out, "  %s\n", ps)
		if ps.RequestsRSE > uncertainRSE {
			fmt.Fprintf(r.errw, "warning: %s: a run this short of bursty arrivals sends ±%.0f %% of its expected requests: it says little about the trace's long-run rate\n", ps.Scenario, 100*ps.RequestsRSE)
		}
		if t := p.Scenario.Traffic; t != nil {
			tr := r.traces[p.Scenario.Name]
			unit := ""
			if f := tr.timeFormat(); f != "" {
				unit = "; timestamps " + f
			}
			fmt.Fprintf(r.out, "    traffic: %s (%s replay%s)\n", t.Trace, t.Replay, unit)
			for _, w := range tr.warnings {
				fmt.Fprintf(r.errw, "warning: %s\n", w)
			}
		}
		if p.Checks.Len() > 0 {
			fmt.Fprintf(r.out, "    checks: %s\n", describeChecks(p.Checks))
		}
	}
	if r.cfg.Shadow != nil {
		for _, m := range r.cfg.Shadow.Mirrors {
			fmt.Fprintf(r.out, "  mirror %s: %s\n", m.Name, RedactURL(m.Target))
		}
	}
	if r.cfg.Gates != nil {
		fmt.Fprintf(r.out, "  gates: %s (%d; %d judged live)\n", r.cfg.Gates.Path, len(r.cfg.Gates.Gates), r.watch.Len())
	}
}

// uncertainRSE is the relative standard error of a plan's request count
// above which the plan warns that the run is too short for its arrivals.
const uncertainRSE = 0.1

// progress draws one live status line on a terminal, rewritten in place.
type progress struct {
	r      *Run
	on     bool
	target float64       // peak target rate, req/s; 0 when unknown
	total  time.Duration // the workload's planned length; 0 when unknown
}

func newProgress(r *Run) *progress {
	p := &progress{r: r, on: r.cfg.Progress}
	for i, pl := range r.plans {
		p.target += pl.Scenario.TargetRate()
		p.total = max(p.total, r.planned[i].End())
	}
	return p
}

// update redraws the line at now.
func (p *progress) update(now time.Time) {
	if p.on {
		fmt.Fprintf(p.r.errw, "\r\033[K%s", Line(p.r.rec.Live(now), int(p.r.InFlight()), p.target, p.total))
	}
}

// done clears the line so that the summary starts clean.
func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.r.errw, "\r\033[K")
	}
}

// Line formats a progress line: elapsed time (of the planned total, and
// what is left), target and achieved rate, requests in flight (inFlight <
// 0 leaves it out), p99 of the last interval, errors and drops.
func Line(l analyze.Live, inFlight int, targetPerSec float64, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", l.Elapsed.Truncate(time.Second))
	if total > 0 {
		left := max(total-l.Elapsed, 0).Truncate(time.Second)
		fmt.Fprintf(&b, "/%s (%s left)", total.Truncate(time.Second), left)
	}
	fmt.Fprintf(&b, " · %.0f req/s", l.RatePerSec)
	if targetPerSec > 0 {
		fmt.Fprintf(&b, " (target %.0f)", targetPerSec)
	}
	if inFlight >= 0 {
		fmt.Fprintf(&b, " · in-flight %d", inFlight)
	}
	if l.P99 >= 0 {
		fmt.Fprintf(&b, " · p99 %.1fms", float64(l.P99)/float64(time.Millisecond))
	} else {
		b.WriteString(" · p99 -")
	}
	fmt.Fprintf(&b, " · errors %.1f%%", 100*l.ErrorRate())
	if l.Dropped > 0 {
		fmt.Fprintf(&b, " · dropped %d", l.Dropped)
	}
	return b.String()
}
