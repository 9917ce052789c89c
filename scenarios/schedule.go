package scenarios

import (
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gonogo-dev/gonogo"
)

// Source yields the arrivals of an open-model scenario. Schedule is the
// built-in one; recorded traffic (package replay) provides others.
type Source interface {
	// Next fills the payload fields of req that the source knows (tokens,
	// tags, recorded request, trace row) and returns the arrival's offset
	// from the scenario start, or false when there are no more arrivals.
	// Offsets never decrease.
	Next(req *gonogo.Request) (time.Duration, bool)
}

var _ Source = (*Schedule)(nil)

// Schedule yields the intended send times of an open-model scenario as
// offsets from the scenario's start.
//
// The rate over time r(t) is piecewise linear (one segment for
// constant-arrival-rate, one per stage for ramping-arrival-rate). Arrivals
// are drawn in "operational time" s = Λ(t) = ∫₀ᵗ r, where a process of unit
// rate is easy: evenly spaced (constant), exponential gaps (poisson) or
// gamma gaps of mean 1 (gamma). Each s is mapped back to wall time with
// Λ⁻¹, so any process follows any ramp exactly (time rescaling).
type Schedule struct {
	segs    []segment
	total   time.Duration
	gap     func() float64 // random operational-time increment of mean 1; nil for constant pacing
	payload func(*gonogo.Request)
	s       float64 // operational time of the last arrival
	seg     int     // segment holding s
	first   bool
}

type segment struct {
	start, dur float64 // seconds
	r0, r1     float64 // arrivals per second at the segment's ends
	lambda0    float64 // Λ at the segment's start
}

// ScheduleOption changes what a Schedule draws.
type ScheduleOption func(*Schedule)

// WithGaps replaces the scenario's arrival process with gaps drawn from
// gap, which must have mean 1: the schedule scales them to the scenario's
// rate, ramps included. Recorded inter-arrival times, normalised by their
// mean, make a schedule follow a trace's burstiness at any rate.
func WithGaps(gap func() float64) ScheduleOption {
	return func(s *Schedule) { s.gap = gap }
}

// WithPayload calls fill for every arrival, to give it a payload (tokens,
// tags) drawn from recorded traffic.
func WithPayload(fill func(*gonogo.Request)) ScheduleOption {
	return func(s *Schedule) { s.payload = fill }
}

// NewSchedule builds the arrival schedule of a validated arrival-rate
// scenario. It returns nil for VU executors.
func NewSchedule(sc *Scenario, opts ...ScheduleOption) *Schedule {
	perSec := float64(time.Second) / float64(sc.TimeUnit)
	var segs []segment
	var t, lambda float64
	add := func(dur, r0, r1 float64) {
		segs = append(segs, segment{start: t, dur: dur, r0: r0, r1: r1, lambda0: lambda})
		t += dur
		lambda += (r0 + r1) / 2 * dur
	}
	switch sc.Executor {
	case ConstantArrivalRate:
		add(sc.Duration.Seconds(), sc.Rate*perSec, sc.Rate*perSec)
	case RampingArrivalRate:
		prev := sc.StartRate * perSec
		for _, st := range sc.Stages {
			add(st.Duration.Seconds(), prev, st.Target*perSec)
			prev = st.Target * perSec
		}
	default:
		return nil
	}
	src := rand.NewPCG(uint64(sc.Seed), 0x9e3779b97f4a7c15)
	sch := &Schedule{segs: segs, total: time.Duration(t * float64(time.Second)), first: true}
	switch sc.Arrival {
	case ArrivalPoisson:
		exp := distuv.Exponential{Rate: 1, Src: src}
		sch.gap = exp.Rand
	case ArrivalGamma:
		g := distuv.Gamma{Alpha: sc.Burstiness, Beta: sc.Burstiness, Src: src}
		sch.gap = g.Rand
	}
	for _, o := range opts {
		o(sch)
	}
	return sch
}

// Duration is the scenario's length.
func (sch *Schedule) Duration() time.Duration { return sch.total }

// Expected is the expected number of arrivals, Λ(duration).
func (sch *Schedule) Expected() float64 {
	last := sch.segs[len(sch.segs)-1]
	return last.lambda0 + (last.r0+last.r1)/2*last.dur
}

// Next returns the offset of the next arrival, or false when the scenario
// has no more. Constant pacing sends its first arrival at once, as k6 does;
// random processes draw the first gap too. req may be nil when there is no
// payload to fill.
func (sch *Schedule) Next(req *gonogo.Request) (time.Duration, bool) {
	if sch.first && sch.gap == nil {
		sch.first = false
	} else {
		sch.first = false
		if sch.gap == nil {
			sch.s++
		} else {
			sch.s += sch.gap()
		}
	}
	for ; sch.seg < len(sch.segs); sch.seg++ {
		g := sch.segs[sch.seg]
		if sch.s < g.lambda0+(g.r0+g.r1)/2*g.dur {
			u := invertLinear(g.r0, g.r1, g.dur, sch.s-g.lambda0)
			if sch.payload != nil && req != nil {
				sch.payload(req)
			}
			return time.Duration((g.start + u) * float64(time.Second)), true
		}
	}
	return 0, false
}

// invertLinear solves r0·u + (r1−r0)/(2·dur)·u² = d for u in [0, dur]: the
// time into a linear-rate segment at which d arrivals have accumulated.
func invertLinear(r0, r1, dur, d float64) float64 {
	if d <= 0 {
		return 0
	}
	a := (r1 - r0) / (2 * dur)
	var u float64
	if math.Abs(a) < 1e-12 {
		u = d / r0
	} else {
		// The stable root of a·u² + r0·u − d = 0.
		u = 2 * d / (r0 + math.Sqrt(r0*r0+4*a*d))
	}
	return min(max(u, 0), dur)
}
