package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Overrides are command-line values that replace a scenario file's. A nil
// field was not given.
type Overrides struct {
	Executor   *string
	Rate       *float64 // arrivals per second
	Stages     []Stage
	VUs        *int
	MaxVUs     *int
	Iterations *int
	Duration   *time.Duration
	Arrival    *string
	Burstiness *float64
	Saturation *string
	// Traffic changes every scenario's traffic block; Trace adds one where
	// a scenario has none.
	Traffic TrafficOverrides
}

// TrafficOverrides are the replay flags. A nil field was not given.
type TrafficOverrides struct {
	Trace, Replay, Format, Preset, TimeFormat *string
	Columns                                   map[string]string
	Strict                                    *bool
	Speed, Scale                              *float64
	From, To                                  *time.Duration
	Loop                                      *int
}

// apply changes t, creating it when a trace is given; it returns the
// traffic block the scenario ends up with.
func (o *TrafficOverrides) apply(t *Traffic) *Traffic {
	if t == nil && o.Trace == nil {
		return nil
	}
	if t == nil {
		t = &Traffic{}
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&t.Trace, o.Trace)
	set(&t.Replay, o.Replay)
	set(&t.Format, o.Format)
	set(&t.Preset, o.Preset)
	set(&t.TimeFormat, o.TimeFormat)
	if o.Columns != nil {
		t.Columns = o.Columns
	}
	if o.Strict != nil {
		t.Strict = *o.Strict
	}
	if o.Speed != nil {
		t.Speed = *o.Speed
	}
	if o.Scale != nil {
		t.Scale = *o.Scale
	}
	if o.From != nil {
		t.From = *o.From
	}
	if o.To != nil {
		t.To = *o.To
	}
	if o.Loop != nil {
		t.Loop = *o.Loop
	}
	return t
}

// Replay is the --replay value, "" when not given.
func (o *Overrides) Replay() string {
	if o.Traffic.Replay == nil {
		return ""
	}
	return *o.Traffic.Replay
}

// DefaultFlagRate and DefaultFlagDuration describe a flags-only scenario
// when neither --rate nor --duration is given.
const (
	DefaultFlagRate     = 10.0
	DefaultFlagDuration = 30 * time.Second
)

// check rejects flag values that no scenario could accept.
func (o *Overrides) check() error {
	bad := func(flag, format string, args ...any) error {
		return &ValidationError{Field: flag, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case o.Rate != nil && !(*o.Rate > 0):
		return bad("--rate", "must be > 0 (got %g)", *o.Rate)
	case o.Duration != nil && *o.Duration <= 0:
		return bad("--duration", "must be > 0 (got %s)", *o.Duration)
	case o.VUs != nil && *o.VUs <= 0:
		return bad("--vus", "must be > 0 (got %d)", *o.VUs)
	case o.MaxVUs != nil && *o.MaxVUs <= 0:
		return bad("--max-vus", "must be > 0 (got %d)", *o.MaxVUs)
	case o.Iterations != nil && *o.Iterations <= 0:
		return bad("--iterations", "must be > 0 (got %d)", *o.Iterations)
	case o.Burstiness != nil && !(*o.Burstiness > 0):
		return bad("--burstiness", "must be > 0 (got %g)", *o.Burstiness)
	}
	if o.Executor != nil && !known(Executors, *o.Executor) {
		return bad("--executor", "unknown executor %q; one of %s", *o.Executor, strings.Join(Executors, ", "))
	}
	return nil
}

func known(list []string, s string) bool {
	for _, k := range list {
		if k == s {
			return true
		}
	}
	return false
}

// FromFlags builds a one-scenario file from flags alone, named "default".
func FromFlags(o Overrides) (*File, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	s := &Scenario{Executor: ConstantArrivalRate}
	switch {
	case o.Traffic.Trace != nil && o.Executor == nil && len(o.Stages) == 0:
		s.Executor = "" // the traffic block picks it (validateTraffic)
	case o.Executor != nil:
		s.Executor = *o.Executor
	case len(o.Stages) > 0 && o.VUs != nil && o.Rate == nil:
		s.Executor = RampingVUs
	case len(o.Stages) > 0:
		s.Executor = RampingArrivalRate
	case o.Iterations != nil:
		s.Executor = SharedIterations
	case o.VUs != nil && o.Rate == nil:
		s.Executor = ConstantVUs
	}
	s.Rate, s.Duration = DefaultFlagRate, DefaultFlagDuration
	if o.Traffic.Trace != nil {
		s.Rate = 0 // a distribution replay runs at the trace's mean rate unless --rate says otherwise
	}
	f := &File{Scenarios: map[string]*Scenario{"default": s}}
	o.apply(s)
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// Apply replaces the file's values with the given flags, in every scenario,
// and validates the result.
//
// On a ramping-arrival-rate scenario --rate scales the start rate and every
// stage target so that the peak equals it, and --duration scales every
// stage's length so that they add up to it: a profile keeps its shape at any
// size.
func (f *File) Apply(o Overrides) error {
	if err := o.check(); err != nil {
		return err
	}
	for _, s := range f.Scenarios {
		o.apply(s)
	}
	return f.Validate()
}

func (o *Overrides) apply(s *Scenario) {
	if o.Executor != nil {
		s.Executor = *o.Executor
	}
	if t := o.Traffic.apply(s.Traffic); t != nil {
		s.Traffic = t
		// --replay switches the executor with the mode, unless --executor
		// names one.
		switch {
		case (o.Replay() == ReplayDistribution || o.Replay() == ReplaySequential) && s.Executor == RecordedArrivals && o.Executor == nil:
			s.Executor = ConstantArrivalRate
		case o.Replay() == ReplayTimestamps && o.Executor == nil:
			s.Executor = RecordedArrivals
		}
	}
	if len(o.Stages) > 0 {
		s.Stages = append([]Stage(nil), o.Stages...)
	}
	if o.Rate != nil {
		switch s.Executor {
		case RampingArrivalRate:
			if peak := s.peakRate(); peak > 0 {
				k := *o.Rate / peak
				s.StartRate *= k
				for i := range s.Stages {
					s.Stages[i].Target *= k
				}
			}
		default:
			s.Rate, s.TimeUnit = *o.Rate, time.Second
		}
	}
	if o.Duration != nil {
		switch s.Executor {
		case RampingArrivalRate, RampingVUs:
			var total time.Duration
			for _, st := range s.Stages {
				total += st.Duration
			}
			if total > 0 {
				// Scale the stage boundaries, not the lengths, so that
				// rounding to milliseconds keeps the total exact.
				k := float64(*o.Duration) / float64(total)
				var end, prev time.Duration
				for i := range s.Stages {
					end += s.Stages[i].Duration
					at := time.Duration(float64(end) * k).Round(time.Millisecond)
					s.Stages[i].Duration, prev = at-prev, at
				}
			}
		case SharedIterations:
			s.MaxDuration = *o.Duration
		default:
			s.Duration = *o.Duration
		}
	}
	if o.VUs != nil {
		switch s.Executor {
		case ConstantArrivalRate, RampingArrivalRate:
			s.PreAllocatedVUs = *o.VUs
		case RampingVUs:
			s.StartVUs = *o.VUs
		default:
			s.VUs = *o.VUs
		}
	}
	if o.MaxVUs != nil {
		s.MaxVUs = *o.MaxVUs
		s.PreAllocatedVUs = min(s.PreAllocatedVUs, s.MaxVUs)
	}
	if o.Iterations != nil {
		s.Iterations = *o.Iterations
	}
	if o.Arrival != nil {
		s.Arrival = *o.Arrival
	}
	if o.Burstiness != nil {
		s.Burstiness = *o.Burstiness
	}
	if o.Saturation != nil {
		s.Saturation = *o.Saturation
	}
}

// peakRate is the highest stage rate in arrivals per second.
func (s *Scenario) peakRate() float64 {
	unit := s.TimeUnit
	if unit <= 0 {
		unit = DefaultTimeUnit
	}
	peak := s.StartRate
	for _, st := range s.Stages {
		peak = max(peak, st.Target)
	}
	return peak * float64(time.Second) / float64(unit)
}

// ParseStages reads k6-style stages from a flag: "30s:100,1m:100,10s:0"
// (duration:target, comma-separated).
func ParseStages(v string) ([]Stage, error) {
	var out []Stage
	for i, part := range strings.Split(v, ",") {
		d, t, ok := strings.Cut(strings.TrimSpace(part), ":")
		bad := func(msg string) error {
			return &ValidationError{Field: "--stages", Msg: fmt.Sprintf("stage %d %q: %s; want DURATION:TARGET, e.g. 30s:100,1m:100", i+1, part, msg)}
		}
		if !ok {
			return nil, bad("missing ':'")
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return nil, bad("bad duration")
		}
		target, err := strconv.ParseFloat(t, 64)
		if err != nil || target < 0 {
			return nil, bad("bad target")
		}
		out = append(out, Stage{Duration: dur, Target: target})
	}
	return out, nil
}

// TargetRate is the mean arrival rate an open-model scenario intends, in
// arrivals per second; 0 for VU executors.
func (s *Scenario) TargetRate() float64 {
	sch := NewSchedule(s)
	if sch == nil || sch.Duration() <= 0 {
		return 0
	}
	return sch.Expected() / sch.Duration().Seconds()
}

// Describe summarizes the executor in a few words for reports, such as
// "constant-arrival-rate 50/s for 1m0s (poisson)".
func (s *Scenario) Describe() string {
	var d string
	switch s.Executor {
	case ConstantArrivalRate:
		d = fmt.Sprintf("%s %g/s for %s", s.Executor, s.TargetRate(), s.Duration)
	case RampingArrivalRate:
		sch := NewSchedule(s)
		d = fmt.Sprintf("%s to %g/s over %s in %d stages", s.Executor, s.peakRate(), sch.Duration(), len(s.Stages))
	case ConstantVUs:
		return fmt.Sprintf("%s %d VUs for %s", s.Executor, s.VUs, s.Duration)
	case RampingVUs:
		return fmt.Sprintf("%s over %d stages", s.Executor, len(s.Stages))
	case SharedIterations:
		return fmt.Sprintf("%s %d iterations on %d VUs", s.Executor, s.Iterations, s.VUs)
	case RecordedArrivals:
		t := s.Traffic
		d = fmt.Sprintf("%s from %s at %g× speed", s.Executor, t.Trace, t.Speed)
		if t.Scale != 1 {
			d += fmt.Sprintf(", %g× traffic", t.Scale)
		}
		return d
	}
	if t := s.Traffic; t != nil && t.Replay == ReplaySequential {
		d += fmt.Sprintf(", the rows of %s in order", t.Trace)
	} else if t != nil {
		d += fmt.Sprintf(", sizes and gaps drawn from %s", t.Trace)
	}
	if s.Arrival != ArrivalConstant {
		d += " (" + s.Arrival
		if s.Arrival == ArrivalGamma {
			d += fmt.Sprintf(", burstiness %g", s.Burstiness)
		}
		d += ")"
	}
	return d
}
