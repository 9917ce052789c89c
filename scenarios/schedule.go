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

// Bounded is a Source that knows how long its arrivals last, from the
// scenario's start. The engine keeps an open-model scenario going until
// then, even when its last arrival comes earlier (a bursty schedule's
// last gap may reach past its end), so that the scenario lasts its
// duration; gracefulStop counts from there. The engine asks once Next has
// returned false.
type Bounded interface {
	Source
	// Duration is how long the arrivals last.
	Duration() time.Duration
}

var _ Bounded = (*Schedule)(nil)

// Schedule yields the intended send times of an open-model scenario as
// offsets from the scenario's start.
//
// The rate over time r(t) is piecewise linear (one segment for
// constant-arrival-rate, one per stage for ramping-arrival-rate). Arrivals
// are drawn in "operational time" s = Λ(t) = ∫₀ᵗ r, where a process of unit
// rate is easy: evenly spaced (constant), exponential gaps (poisson) or
// gamma gaps of mean 1 (gamma). Each s is mapped back to wall time with
// Λ⁻¹, so any process follows any ramp exactly (time rescaling).
//
// Random processes start in their stationary state: the first arrival
// comes after a forward-recurrence time (the rest of a gap that began
// before the start), not after a whole gap. So the expected number of
// arrivals in any window is exactly Λ of it, however bursty the process;
// a process started at an arrival instead would send (CV² − 1)/2 more in
// expectation, 84 for a trace whose gaps have a CV of 13. Constant pacing
// sends its first arrival at once, as k6 does.
type Schedule struct {
	segs    []segment
	total   time.Duration
	gap     func() float64 // random operational-time increment of mean 1; nil for constant pacing
	start   func() float64 // the first increment, when the process's differs from gap (gamma)
	payload func(*gonogo.Request)
	cv      float64 // coefficient of variation of gap; 0 for constant pacing, < 0 when unknown
	pass    int     // gaps are drawn without replacement in passes of this many (WithGapStats); 0 independent
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
// mean, make a schedule follow a trace's burstiness at any rate. The first
// value gap returns is the first arrival's offset: a stationary source
// returns a forward-recurrence time first (replay.Distribution.Gap does).
// Give the gaps' statistics with WithGapStats, for CountRSE.
func WithGaps(gap func() float64) ScheduleOption {
	return func(s *Schedule) { s.gap, s.start, s.cv, s.pass = gap, nil, -1, 0 }
}

// WithGapStats tells the schedule the coefficient of variation of the
// gaps WithGaps draws and, when they are drawn without replacement in
// shuffled passes, the length of a pass (0 for independent draws), so that
// CountRSE can say how uncertain the number of arrivals is.
func WithGapStats(cv float64, pass int) ScheduleOption {
	return func(s *Schedule) { s.cv, s.pass = cv, pass }
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
		sch.gap, sch.cv = exp.Rand, 1 // memoryless: its first gap is a forward-recurrence time
	case ArrivalGamma:
		// The forward-recurrence time of gamma(α, α) gaps is U·L, L drawn
		// length-biased: gamma(α+1, α).
		a := sc.Burstiness
		g := distuv.Gamma{Alpha: a, Beta: a, Src: src}
		biased := distuv.Gamma{Alpha: a + 1, Beta: a, Src: src}
		uniform := rand.New(src)
		sch.gap, sch.cv = g.Rand, 1/math.Sqrt(a)
		sch.start = func() float64 { return uniform.Float64() * biased.Rand() }
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

// CountRSE is the expected relative standard error of the number of
// arrivals (see the function CountRSE): 0 for constant pacing, 1/√Expected
// for Poisson, CV/√Expected for gamma, and for WithGaps what WithGapStats
// says (0 when it was not given).
func (sch *Schedule) CountRSE() float64 {
	if sch.cv <= 0 {
		return 0
	}
	return CountRSE(sch.cv, sch.Expected(), sch.pass)
}

// CountRSE is the expected relative standard error of the number of
// arrivals of a renewal process whose gaps have the coefficient of
// variation cv, over a window in which expected arrivals are due.
//
// Over a window of length T of a renewal process with mean gap μ and gap
// standard deviation σ, the count N has mean T/μ and, by the renewal
// central limit theorem, variance T·σ²/μ³ = E[N]·cv². So the relative
// standard error is cv/√E[N]: with independent gaps of CV 13, a window of
// 200 arrivals holds 200 ± 92 %, and it takes 17 000 arrivals to get
// within ±10 %.
//
// When the gaps are drawn without replacement in shuffled passes of pass
// gaps each (replay.Distribution), every whole pass sums to the same time,
// so only the r = E[N] mod pass arrivals of the last, partial pass vary,
// with the finite-population variance r·(pass − r)/(pass − 1)·cv². pass 0
// means independent draws. The formula leaves out the spread of where the
// replay starts in its first gap, which does not grow with the window
// (about ±120 arrivals for the Azure code trace) and shows only near whole
// passes. Checked against 400 seeds of that trace (CV 13.2, 8 818 gaps)
// at 20/s: 10 s, predicted 0.92, measured 0.84; 1 min, 0.35 and 0.33;
// 10 min, 0.049 and 0.052.
func CountRSE(cv, expected float64, pass int) float64 {
	if cv <= 0 || expected <= 0 {
		return 0
	}
	if pass <= 0 {
		return cv / math.Sqrt(expected)
	}
	m := float64(pass)
	if m <= 1 {
		return 0
	}
	r := math.Mod(expected, m)
	return cv * math.Sqrt(r*(m-r)/(m-1)) / expected
}

// Next returns the offset of the next arrival, or false when the scenario
// has no more. Constant pacing sends its first arrival at once, as k6 does;
// random processes start stationary (see Schedule). req may be nil when
// there is no payload to fill.
func (sch *Schedule) Next(req *gonogo.Request) (time.Duration, bool) {
	switch {
	case sch.first && sch.gap == nil:
	case sch.first && sch.start != nil:
		sch.s += sch.start()
	case sch.gap == nil:
		sch.s++
	default:
		sch.s += sch.gap()
	}
	sch.first = false
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
