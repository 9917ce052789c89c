package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Limits on every number of a scenario, in a file or from flags. They are
// far beyond what a run is meant to use: a value past one is a typo or a
// unit mistake (rate: 1e308, vus: 10000000), and is refused with the
// field's file and line instead of running until killed.
const (
	// LimitRatePerSec bounds rate, startRate and the stage targets of
	// ramping-arrival-rate, converted to arrivals per second by timeUnit.
	LimitRatePerSec = 1_000_000
	// LimitVUs bounds vus, startVUs, maxVUs, preAllocatedVUs and the stage
	// targets of ramping-vus.
	LimitVUs = 100_000
	// LimitIterations bounds the iterations of shared-iterations.
	LimitIterations = 1_000_000_000
	// LimitQueue bounds maxQueue (the queue is allocated up front).
	LimitQueue = 1_000_000
	// LimitStages bounds the number of stages of one scenario.
	LimitStages = 10_000
	// LimitDuration bounds duration, maxDuration, startTime, the stages'
	// total and a timestamps replay's length: a week.
	LimitDuration = 7 * 24 * time.Hour
	// LimitGracefulStop bounds gracefulStop and LimitWarmup bounds warmup.
	LimitGracefulStop = time.Hour
	LimitWarmup       = time.Hour
	// LimitTimeUnitMin and LimitTimeUnitMax bound timeUnit.
	LimitTimeUnitMin = time.Millisecond
	LimitTimeUnitMax = 24 * time.Hour
	// LimitBurstinessMin and LimitBurstinessMax bound the gamma shape:
	// coefficients of variation from 10 down to 0.03.
	LimitBurstinessMin = 0.01
	LimitBurstinessMax = 1000
	// LimitSpeedMin and LimitSpeedMax bound a timestamps replay's speed.
	LimitSpeedMin = 0.001
	LimitSpeedMax = 100_000
	// LimitScale bounds a timestamps replay's scale.
	LimitScale = 1000
	// LimitTraceOffset bounds traffic.from and traffic.to: a year of trace.
	LimitTraceOffset = 366 * 24 * time.Hour
	// LimitLoop bounds traffic.loop.
	LimitLoop = 10_000
	// LimitTokens bounds a request's promptTokens and maxTokens.
	LimitTokens = 10_000_000
)

// durationText renders a limit: whole days as days, else as Go does.
func durationText(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		if d == day {
			return "1 day"
		}
		return strconv.FormatInt(int64(d/day), 10) + " days"
	}
	return d.String()
}

// checks collects the first problem of a run of field checks.
type checks struct {
	field, msg string
}

// fail keeps the first problem.
func (c *checks) fail(field, format string, args ...any) {
	if c.msg == "" {
		c.field, c.msg = field, fmt.Sprintf(format, args...)
	}
}

// duration checks lo ≤ v ≤ hi.
func (c *checks) duration(field string, v, lo, hi time.Duration) {
	switch {
	case v < lo && lo == 0:
		c.fail(field, "must not be negative (got %s)", v)
	case v < lo:
		c.fail(field, "must be at least %s (got %s)", durationText(lo), v)
	case v > hi:
		c.fail(field, "must be at most %s (got %s)", durationText(hi), v)
	}
}

// count checks 0 ≤ v ≤ hi.
func (c *checks) count(field string, v, hi int, unit string) {
	switch {
	case v < 0:
		c.fail(field, "must not be negative (got %d)", v)
	case v > hi:
		c.fail(field, "must be at most %d %s (got %d)", hi, unit, v)
	}
}

// sign refuses NaN and negative values: as "must be > 0" where zero only
// stands for a default (positive), as "must not be negative" where zero
// is a value. It reports whether v passed.
func (c *checks) sign(field string, v float64, positive bool) bool {
	switch {
	case math.IsNaN(v):
		c.fail(field, "must be a number (got NaN)")
	case v < 0 && positive:
		c.fail(field, "must be > 0 (got %g)", v)
	case v < 0:
		c.fail(field, "must not be negative (got %g)", v)
	default:
		return true
	}
	return false
}

// number checks that v is a number, not negative (see sign) and at most
// hi.
func (c *checks) number(field string, v, hi float64, unit string, positive bool) {
	if c.sign(field, v, positive) && v > hi {
		c.fail(field, "must be at most %s (got %g)", strings.TrimSpace(fmt.Sprintf("%g %s", hi, unit)), v)
	}
}

// rate checks a rate given per timeUnit: not negative (see sign) and at
// most LimitRatePerSec once converted.
func (c *checks) rate(field string, v float64, unit time.Duration, positive bool) {
	perSec := v * float64(time.Second) / float64(unit)
	switch {
	case !c.sign(field, v, positive), perSec <= LimitRatePerSec:
	case unit == time.Second:
		c.fail(field, "must be at most %d per second (got %g)", LimitRatePerSec, v)
	default:
		c.fail(field, "must be at most %d per second (got %g per %s, %g per second)", LimitRatePerSec, v, unit, perSec)
	}
}

// checkBounds checks every number of the scenario against its limits, the
// timeUnit first since rates count in it. Zero stands for a default here
// and passes; the executor's own checks refuse a zero it needs.
func (s *Scenario) checkBounds() (field, msg string) {
	var c checks
	if s.TimeUnit != 0 {
		c.duration("timeUnit", s.TimeUnit, LimitTimeUnitMin, LimitTimeUnitMax)
	}
	unit := s.TimeUnit
	if unit <= 0 {
		unit = DefaultTimeUnit
	}
	c.duration("startTime", s.StartTime, 0, LimitDuration)
	c.duration("gracefulStop", s.GracefulStop, 0, LimitGracefulStop)
	c.duration("duration", s.Duration, 0, LimitDuration)
	c.duration("maxDuration", s.MaxDuration, 0, LimitDuration)
	c.duration("warmup", s.Warmup, 0, LimitWarmup)
	c.rate("rate", s.Rate, unit, true)
	c.rate("startRate", s.StartRate, unit, false)
	c.count("vus", s.VUs, LimitVUs, "VUs")
	c.count("startVUs", s.StartVUs, LimitVUs, "VUs")
	c.count("maxVUs", s.MaxVUs, LimitVUs, "VUs")
	c.count("preAllocatedVUs", s.PreAllocatedVUs, LimitVUs, "VUs")
	c.count("iterations", s.Iterations, LimitIterations, "iterations")
	c.count("maxQueue", s.MaxQueue, LimitQueue, "arrivals")
	if s.Burstiness != 0 {
		c.number("burstiness", s.Burstiness, LimitBurstinessMax, "", true)
		if s.Burstiness > 0 && s.Burstiness < LimitBurstinessMin {
			c.fail("burstiness", "must be at least %g (got %g)", LimitBurstinessMin, s.Burstiness)
		}
	}
	if f, m := checkStages(s.Stages, func(c *checks, field string, v float64) {
		if s.Executor == RampingVUs {
			c.number(field, v, LimitVUs, "VUs", false)
		} else {
			c.rate(field, v, unit, false)
		}
	}); m != "" {
		c.fail(f, "%s", m)
	}
	if t := s.Traffic; t != nil {
		if t.Speed != 0 {
			c.number("traffic.speed", t.Speed, LimitSpeedMax, "", true)
			if t.Speed > 0 && t.Speed < LimitSpeedMin {
				c.fail("traffic.speed", "must be at least %g (got %g)", LimitSpeedMin, t.Speed)
			}
		}
		c.number("traffic.scale", t.Scale, LimitScale, "", true)
		c.duration("traffic.from", t.From, 0, LimitTraceOffset)
		c.duration("traffic.to", t.To, 0, LimitTraceOffset)
		c.count("traffic.loop", t.Loop, LimitLoop, "loops")
		if d, ok := t.replayLength(); ok && d > LimitDuration {
			c.fail("traffic.to", "the replay would last %s, more than %s", d.Round(time.Second), durationText(LimitDuration))
		}
	}
	if s.Request != nil {
		if f, m := s.Request.checkBounds(); m != "" {
			c.fail("request."+f, "%s", m)
		}
	}
	return c.field, c.msg
}

// checkStages checks the number of stages, their durations and their
// total, and each target with target.
func checkStages(stages []Stage, target func(c *checks, field string, v float64)) (field, msg string) {
	var c checks
	if len(stages) > LimitStages {
		c.fail("stages", "must have at most %d stages (got %d)", LimitStages, len(stages))
	}
	var total time.Duration
	for i, st := range stages {
		f := fmt.Sprintf("stages[%d]", i)
		c.duration(f+".duration", st.Duration, 0, LimitDuration)
		if total += st.Duration; total > LimitDuration {
			c.fail(f+".duration", "the stages must add up to at most %s (got %s by stage %d)", durationText(LimitDuration), total, i+1)
		}
		target(&c, f+".target", st.Target)
	}
	return c.field, c.msg
}

// anyTarget bounds a stage target that no executor is known for yet: at
// most what any executor takes.
func anyTarget(c *checks, field string, v float64) {
	c.number(field, v, max(LimitRatePerSec, LimitVUs), "", false)
}

// checkBounds checks the request's token counts.
func (r *RequestSpec) checkBounds() (field, msg string) {
	var c checks
	c.count("promptTokens", r.PromptTokens, LimitTokens, "tokens")
	c.count("maxTokens", r.MaxTokens, LimitTokens, "tokens")
	if c.msg == "" {
		return r.checkPrompts()
	}
	return c.field, c.msg
}

// replayLength is how long a timestamps replay of a window with an end
// lasts at most: the window over the speed, times the loops. It is false
// when the window has no end (the trace's end decides).
func (t *Traffic) replayLength() (time.Duration, bool) {
	if t.To <= t.From {
		return 0, false
	}
	speed := t.Speed
	if speed <= 0 {
		speed = 1
	}
	ns := float64(t.To-t.From) / speed * float64(max(t.Loop, 1))
	if ns >= math.MaxInt64 {
		return math.MaxInt64, true // 292 years: refused anyway
	}
	return time.Duration(ns), true
}
