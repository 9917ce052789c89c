package scenarios

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Overrides are command-line values that replace a scenario file's. A nil
// field was not given.
//
// A flag changes every scenario it applies to. One that applies to none
// of them (--rate on a timestamps replay, --stages on
// constant-arrival-rate, --iterations on anything but shared-iterations)
// is refused, naming the flag and what to use instead: a flag is never
// silently ignored.
type Overrides struct {
	Executor   *string
	Rate       *float64 // arrivals per second
	Stages     []Stage
	VUs        *int
	MaxVUs     *int
	Iterations *int
	// Duration is the scenarios' length; on a timestamps replay it ends the
	// window so that the replay lasts it (see Apply).
	Duration   *time.Duration
	Arrival    *string
	Burstiness *float64
	Saturation *string
	// Warmup is the warm-up of closed-model scenarios (Scenario.Warmup).
	Warmup *time.Duration
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

// check rejects flag values that no scenario could accept: out of their
// limits (see LimitRatePerSec and the others) or contradicting each other.
func (o *Overrides) check() error {
	var c checks
	positive := func(flag string, ok bool, got any) {
		if !ok {
			c.fail(flag, "must be > 0 (got %v)", got)
		}
	}
	if o.Rate != nil {
		positive("--rate", *o.Rate > 0, *o.Rate)
		c.rate("--rate", *o.Rate, time.Second, true)
	}
	if o.Duration != nil {
		positive("--duration", *o.Duration > 0, *o.Duration)
		c.duration("--duration", *o.Duration, 0, LimitDuration)
	}
	for _, v := range []struct {
		flag    string
		n       *int
		hi      int
		unit    string
		nonZero bool
	}{
		{"--vus", o.VUs, LimitVUs, "VUs", true},
		{"--max-vus", o.MaxVUs, LimitVUs, "VUs", true},
		{"--iterations", o.Iterations, LimitIterations, "iterations", true},
		{"--loop", o.Traffic.Loop, LimitLoop, "loops", false},
	} {
		if v.n != nil {
			if v.nonZero {
				positive(v.flag, *v.n > 0, *v.n)
			}
			c.count(v.flag, *v.n, v.hi, v.unit)
		}
	}
	for _, v := range []struct {
		flag   string
		x      *float64
		lo, hi float64
	}{
		{"--burstiness", o.Burstiness, LimitBurstinessMin, LimitBurstinessMax},
		{"--speed", o.Traffic.Speed, LimitSpeedMin, LimitSpeedMax},
		{"--scale", o.Traffic.Scale, 0, LimitScale},
	} {
		if v.x != nil {
			positive(v.flag, *v.x > 0, *v.x)
			c.number(v.flag, *v.x, v.hi, "", true)
			if *v.x > 0 && *v.x < v.lo {
				c.fail(v.flag, "must be at least %g (got %g)", v.lo, *v.x)
			}
		}
	}
	if o.Warmup != nil {
		c.duration("--warmup", *o.Warmup, 0, LimitWarmup)
	}
	if o.Traffic.From != nil {
		c.duration("--from", *o.Traffic.From, 0, LimitTraceOffset)
	}
	if o.Traffic.To != nil {
		c.duration("--to", *o.Traffic.To, 0, LimitTraceOffset)
	}
	if len(o.Stages) > 0 {
		if field, msg := checkStages(o.Stages, anyTarget); msg != "" {
			c.fail("--stages", "%s: %s", field, msg)
		}
	}
	if o.Duration != nil && o.Traffic.To != nil {
		c.fail("--duration", "cannot go with --to: both end a timestamps replay's window; give one")
	}
	if o.Executor != nil && !known(Executors, *o.Executor) {
		c.fail("--executor", "unknown executor %q; one of %s", *o.Executor, strings.Join(Executors, ", "))
	}
	if c.msg != "" {
		return &ValidationError{Field: c.field, Msg: c.msg}
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
	case o.Traffic.Trace != nil && o.Executor == nil && len(o.Stages) == 0 && (o.Replay() == ReplayDistribution || o.Replay() == ReplaySequential):
		s.Executor = ConstantArrivalRate
	case o.Traffic.Trace != nil && o.Executor == nil && len(o.Stages) == 0:
		s.Executor = "" // a timestamps replay: the traffic block picks it (validateTraffic)
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
	if err := o.unused(f); err != nil {
		return nil, err
	}
	return f, nil
}

// Apply replaces the file's values with the given flags, in every scenario
// they apply to, and validates the result. A value a flag set that the
// scenario cannot take is an error naming the flag and the scenario, not
// the file's line; a flag no scenario takes is an error (see Overrides).
//
// On a ramping-arrival-rate scenario --rate scales the start rate and every
// stage target so that the peak equals it, and --duration scales every
// stage's length so that they add up to it: a profile keeps its shape at any
// size. On a timestamps replay --duration ends the window at
// from + duration × speed / loops, so that the replay, every loop
// included, lasts the duration (less when the trace ends first).
func (f *File) Apply(o Overrides) error {
	if err := o.check(); err != nil {
		return err
	}
	for _, s := range f.Scenarios {
		o.apply(s)
	}
	if err := f.Validate(); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) && ve.File != "" {
			if flag, scenario := o.flagOf(f, ve.Field); flag != "" {
				return &ValidationError{Field: flag, Msg: fmt.Sprintf("scenario %s: %s", scenario, ve.Msg)}
			}
		}
		return err
	}
	return o.unused(f)
}

// given lists the flags given, in a fixed order.
func (o *Overrides) given() []string {
	t := &o.Traffic
	var out []string
	for _, v := range []struct {
		flag string
		set  bool
	}{
		{"--executor", o.Executor != nil}, {"--rate", o.Rate != nil}, {"--stages", len(o.Stages) > 0},
		{"--vus", o.VUs != nil}, {"--max-vus", o.MaxVUs != nil}, {"--iterations", o.Iterations != nil},
		{"--duration", o.Duration != nil}, {"--arrival", o.Arrival != nil}, {"--burstiness", o.Burstiness != nil},
		{"--saturation", o.Saturation != nil}, {"--warmup", o.Warmup != nil},
		{"--speed", t.Speed != nil}, {"--scale", t.Scale != nil}, {"--from", t.From != nil},
		{"--to", t.To != nil}, {"--loop", t.Loop != nil},
	} {
		if v.set {
			out = append(out, v.flag)
		}
	}
	return out
}

// flagOf returns the given flag that set field (a path such as
// scenarios.a.stages[0].target) and the scenario's name; "" when no given
// flag did.
func (o *Overrides) flagOf(f *File, field string) (flag, scenario string) {
	for _, name := range f.Names() {
		if strings.HasPrefix(field, "scenarios."+name+".") {
			scenario = name
		}
	}
	if scenario == "" {
		return "", ""
	}
	candidates := []string{flagFor(field)}
	switch {
	case strings.Contains(field, ".stages["):
		candidates = []string{"--stages", "--rate", "--duration", "--vus"}
	case strings.HasSuffix(field, ".traffic.to"):
		candidates = []string{"--to", "--duration"}
	case strings.HasSuffix(field, ".preAllocatedVUs"):
		candidates = []string{"--vus", "--max-vus"}
	}
	given := o.given()
	for _, c := range candidates {
		if known(given, c) {
			return c, scenario
		}
	}
	return "", ""
}

// unused refuses a flag that no scenario of f takes, with the reason the
// first scenario gives.
func (o *Overrides) unused(f *File) error {
	names := f.Names()
	for _, flag := range o.given() {
		used := false
		for _, name := range names {
			if takes(f.Scenarios[name], flag) {
				used = true
				break
			}
		}
		if used {
			continue
		}
		s := f.Scenarios[names[0]]
		what := fmt.Sprintf("scenario %s is %s", s.Name, s.Executor)
		if len(names) > 1 {
			what = "no scenario takes it: " + what
		}
		if o.Executor != nil {
			flag += " with --executor " + *o.Executor
		}
		return &ValidationError{Field: flag, Msg: what + "; " + whyNot(s, strings.Fields(flag)[0])}
	}
	return nil
}

// takes reports whether a flag changes scenario s.
func takes(s *Scenario, flag string) bool {
	rate := s.Executor == ConstantArrivalRate || s.Executor == RampingArrivalRate
	switch flag {
	case "--rate", "--arrival":
		return rate
	case "--stages":
		return s.Executor == RampingArrivalRate || s.Executor == RampingVUs
	case "--max-vus", "--saturation":
		return s.openModel()
	case "--iterations":
		return s.Executor == SharedIterations
	case "--burstiness":
		return rate && s.Arrival == ArrivalGamma
	case "--warmup":
		return !s.openModel()
	case "--speed", "--scale", "--from", "--to", "--loop":
		return s.Executor == RecordedArrivals
	}
	return true
}

// whyNot says what to do instead of a flag s does not take.
func whyNot(s *Scenario, flag string) string {
	recorded := s.Executor == RecordedArrivals
	switch {
	case flag == "--rate" && recorded:
		return "a timestamps replay sends at the recorded times: change its rate with --speed or --scale, or draw arrivals at a rate with --replay distribution"
	case flag == "--rate":
		return "a closed-model executor has no rate, its VUs send as fast as the server answers: use --vus, or --executor constant-arrival-rate"
	case flag == "--stages" && s.Executor == ConstantArrivalRate:
		return "constant-arrival-rate has no stages: add --executor ramping-arrival-rate to ramp the rate"
	case flag == "--stages":
		return "it has no stages: use --executor ramping-arrival-rate or ramping-vus"
	case flag == "--max-vus" || flag == "--saturation":
		return "a closed-model executor runs exactly --vus VUs and never drops an arrival"
	case flag == "--iterations":
		return "iterations belong to --executor shared-iterations"
	case flag == "--arrival" && recorded:
		return "a timestamps replay sends at the recorded times"
	case flag == "--arrival":
		return "an arrival process belongs to constant-arrival-rate and ramping-arrival-rate"
	case flag == "--burstiness" && (s.Executor == ConstantArrivalRate || s.Executor == RampingArrivalRate):
		return fmt.Sprintf("burstiness is the shape of --arrival gamma (arrival is %s)", s.Arrival)
	case flag == "--burstiness":
		return "burstiness is the shape of --arrival gamma, for constant-arrival-rate and ramping-arrival-rate"
	case flag == "--warmup":
		return "an open-model scenario needs no warm-up: its connections are opened before time zero"
	case s.Traffic == nil:
		return flag + " needs a trace: add --trace"
	}
	return fmt.Sprintf("%s applies to --replay timestamps; a %s replay runs at --rate", flag, s.Traffic.Replay)
}

// apply sets the flags' values in s, where they apply (see takes; the
// rest is left for unused to refuse).
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
		switch {
		case s.recorded():
			t := s.Traffic
			speed := t.Speed
			if speed <= 0 {
				speed = 1
			}
			t.To = t.From + time.Duration(float64(*o.Duration)*speed/float64(max(t.Loop, 1)))
		case s.Executor == RampingArrivalRate || s.Executor == RampingVUs:
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
		case s.Executor == SharedIterations:
			s.MaxDuration = *o.Duration
		default:
			s.Duration = *o.Duration
		}
	}
	if o.VUs != nil {
		switch {
		case s.openModel() || s.recorded():
			s.PreAllocatedVUs = *o.VUs
		case s.Executor == RampingVUs:
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
		if s.Arrival != ArrivalGamma {
			s.Burstiness = 0 // the shape of the gamma process the flag replaced
		}
	}
	if o.Burstiness != nil && s.Arrival == ArrivalGamma {
		s.Burstiness = *o.Burstiness
	}
	if o.Saturation != nil {
		s.Saturation = *o.Saturation
	}
	if o.Warmup != nil && !s.openModel() && !s.recorded() {
		s.Warmup = *o.Warmup
	}
}

// recorded reports whether s replays a trace at its timestamps, before
// validation has settled its executor.
func (s *Scenario) recorded() bool {
	t := s.Traffic
	return t != nil && (t.Replay == "" || t.Replay == ReplayTimestamps) && (s.Executor == "" || s.Executor == RecordedArrivals)
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
// (duration:target, comma-separated). Durations and targets must be within
// the limits of every executor (LimitDuration in all, LimitStages stages,
// targets finite and at most LimitRatePerSec); the scenario's own executor
// may take less (LimitVUs).
func ParseStages(v string) ([]Stage, error) {
	var out []Stage
	parts := strings.Split(v, ",")
	for i, part := range parts {
		d, t, ok := strings.Cut(strings.TrimSpace(part), ":")
		bad := func(msg string) error {
			return &ValidationError{Field: "--stages", Msg: fmt.Sprintf("stage %d %q: %s; want DURATION:TARGET, e.g. 30s:100,1m:100", i+1, part, msg)}
		}
		if !ok {
			return nil, bad("missing ':'")
		}
		if i >= LimitStages {
			return nil, bad(fmt.Sprintf("at most %d stages", LimitStages))
		}
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur < 0 {
			return nil, bad("bad duration")
		}
		target, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || target < 0 || math.IsNaN(target) || math.IsInf(target, 0) {
			return nil, bad("bad target")
		}
		out = append(out, Stage{Duration: dur, Target: target})
	}
	if field, msg := checkStages(out, anyTarget); msg != "" {
		var i int
		fmt.Sscanf(field, "stages[%d]", &i)
		return nil, &ValidationError{Field: "--stages", Msg: fmt.Sprintf("stage %d %q: %s", i+1, parts[i], msg)}
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
