package scenarios

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Planned is a Source that knows before the run how many arrivals it
// expects and how uncertain that number is; Schedule is one. Plan.Summary
// uses it.
type Planned interface {
	Bounded
	// Expected is the expected number of arrivals.
	Expected() float64
	// CountRSE is the expected relative standard error of that number; 0
	// when it is exact or unknown.
	CountRSE() float64
}

var _ Planned = (*Schedule)(nil)

// PlanSummary is what a run's plan says of one scenario before it starts:
// what it does, for how long and how many requests it will send.
type PlanSummary struct {
	// Scenario is the scenario's name and Description its Describe.
	Scenario, Description string
	// Open is true for open-model executors (arrivals at intended times).
	Open bool
	// StartTime is when the scenario starts, from time zero; Warmup how
	// long its closed-model VUs run before that, unmeasured.
	StartTime, Warmup time.Duration
	// Duration is how long the scenario runs from its start, gracefulStop
	// not included; 0 when unknown (a timestamps replay of a whole trace).
	Duration time.Duration
	// Requests is the expected number of requests (arrivals, for an open
	// model); 0 when unknown (a closed model's depends on the server's
	// latency).
	Requests float64
	// UpTo says that Duration and Requests are upper bounds, not
	// expectations: shared-iterations may finish early or be cut by its
	// maxDuration, a trace may end before its window or clock does.
	UpTo bool
	// RequestsRSE is the expected relative standard error of Requests
	// (CountRSE): 0 when it is exact or unknown; above 0.1 a short window
	// of bursty arrivals says little about the trace's long-run rate.
	RequestsRSE float64
}

// Summary summarizes the plan's scenario for the run's plan. A Source that
// is Planned (Schedule) or Bounded gives the length and count; without a
// Source the scenario's own schedule does. Call it before the run: it
// reads the Source, which the engine owns once it runs.
func (p Plan) Summary() PlanSummary {
	s := p.Scenario
	ps := PlanSummary{Scenario: s.Name, Description: s.Describe(), Open: s.openModel(), StartTime: s.StartTime}
	if !ps.Open {
		ps.Warmup = s.Warmup
	}
	src := p.Source
	if src == nil && s.Executor != RecordedArrivals {
		if sch := NewSchedule(s); sch != nil {
			src = sch
		}
	}
	switch s.Executor {
	case ConstantVUs:
		ps.Duration = s.Duration
	case RampingVUs:
		for _, st := range s.Stages {
			ps.Duration += st.Duration
		}
	case SharedIterations:
		ps.Duration, ps.Requests, ps.UpTo = s.MaxDuration, float64(s.Iterations), true
	default:
		if pl, ok := src.(Planned); ok {
			ps.Duration, ps.Requests, ps.RequestsRSE = pl.Duration(), pl.Expected(), pl.CountRSE()
			return ps
		}
		// Another source may end the scenario sooner: the schedule, when
		// there is one, says how long and how many at most, else the
		// source or a timestamps replay's window how long.
		ps.UpTo = true
		if sch := NewSchedule(s); sch != nil {
			ps.Duration, ps.Requests = sch.Duration(), sch.Expected()
		} else if b, ok := src.(Bounded); ok && b.Duration() > 0 {
			ps.Duration = b.Duration()
		} else if s.Traffic != nil { // a source that knows its length only later
			ps.Duration, _ = s.Traffic.replayLength()
		}
	}
	return ps
}

// End is when the scenario ends, from time zero: its start time plus its
// duration (0 when unknown).
func (ps PlanSummary) End() time.Duration {
	if ps.Duration == 0 {
		return 0
	}
	return ps.StartTime + ps.Duration
}

// String is one line of the plan, such as
//
//	dist: constant-arrival-rate 20/s for 10s, sizes and gaps drawn from code.csv — 10s, ≈200 requests ±92 %
func (ps PlanSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s —", ps.Scenario, ps.Description)
	if ps.StartTime > 0 {
		fmt.Fprintf(&b, " from +%s,", ps.StartTime)
	}
	if ps.Warmup > 0 {
		fmt.Fprintf(&b, " %s warm-up, then", ps.Warmup)
	}
	switch {
	case ps.Duration == 0:
		b.WriteString(" until the trace ends")
	case ps.UpTo:
		fmt.Fprintf(&b, " up to %s", ps.Duration)
	default:
		fmt.Fprintf(&b, " %s", ps.Duration)
	}
	switch {
	case ps.Requests == 0 && !ps.Open:
		b.WriteString(", requests as fast as the server answers")
	case ps.Requests == 0:
	case ps.UpTo:
		fmt.Fprintf(&b, ", up to %.0f requests", math.Ceil(ps.Requests))
	default:
		fmt.Fprintf(&b, ", ≈%.0f requests", ps.Requests)
		if ps.RequestsRSE >= 0.005 {
			fmt.Fprintf(&b, " ±%.0f %%", 100*ps.RequestsRSE)
		}
	}
	return b.String()
}
