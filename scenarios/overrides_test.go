package scenarios

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A flag is honoured or refused in one line naming it; never ignored.
func TestFlagsRefusedInOneLine(t *testing.T) {
	trace := TrafficOverrides{Trace: ptr("p.csv")}
	dist := TrafficOverrides{Trace: ptr("p.csv"), Replay: ptr(ReplayDistribution)}
	for _, tc := range []struct {
		name string
		o    Overrides
		want string
	}{
		{"stages with constant-arrival-rate", Overrides{Executor: ptr(ConstantArrivalRate), Stages: []Stage{{time.Second, 5}}},
			"--stages with --executor constant-arrival-rate: scenario default is constant-arrival-rate; constant-arrival-rate has no stages: add --executor ramping-arrival-rate to ramp the rate"},
		{"rate with a timestamps replay", Overrides{Rate: ptr(20.0), Traffic: trace},
			"--rate: scenario default is recorded-arrivals; a timestamps replay sends at the recorded times: change its rate with --speed or --scale, or draw arrivals at a rate with --replay distribution"},
		{"rate with --replay timestamps", Overrides{Rate: ptr(20.0), Traffic: TrafficOverrides{Trace: ptr("p.csv"), Replay: ptr(ReplayTimestamps)}},
			"--rate: scenario default is recorded-arrivals; a timestamps replay sends at the recorded times: change its rate with --speed or --scale, or draw arrivals at a rate with --replay distribution"},
		{"rate with constant-vus", Overrides{Executor: ptr(ConstantVUs), VUs: ptr(2), Rate: ptr(5.0)},
			"--rate with --executor constant-vus: scenario default is constant-vus; a closed-model executor has no rate, its VUs send as fast as the server answers: use --vus, or --executor constant-arrival-rate"},
		{"iterations with a rate", Overrides{Iterations: ptr(10), Rate: ptr(5.0), Executor: ptr(ConstantArrivalRate)},
			"--iterations with --executor constant-arrival-rate: scenario default is constant-arrival-rate; iterations belong to --executor shared-iterations"},
		{"warmup on an open model", Overrides{Warmup: ptr(5 * time.Second)},
			"--warmup: scenario default is constant-arrival-rate; an open-model scenario needs no warm-up: its connections are opened before time zero"},
		{"burstiness without gamma", Overrides{Burstiness: ptr(0.5)},
			"--burstiness: scenario default is constant-arrival-rate; burstiness is the shape of --arrival gamma (arrival is constant)"},
		{"max-vus with constant-vus", Overrides{VUs: ptr(3), MaxVUs: ptr(10)},
			"--max-vus: scenario default is constant-vus; a closed-model executor runs exactly --vus VUs and never drops an arrival"},
		{"speed with a distribution replay", Overrides{Traffic: TrafficOverrides{Trace: ptr("p.csv"), Replay: ptr(ReplayDistribution), Speed: ptr(2.0)}},
			"--speed: scenario default is constant-arrival-rate; --speed applies to --replay timestamps; a distribution replay runs at --rate"},
		{"loop with a distribution replay", Overrides{Traffic: TrafficOverrides{Trace: ptr("p.csv"), Replay: ptr(ReplayDistribution), Loop: ptr(2)}},
			"--loop: scenario default is constant-arrival-rate; --loop applies to --replay timestamps; a distribution replay runs at --rate"},
		{"duration and to", Overrides{Duration: ptr(time.Minute), Traffic: TrafficOverrides{Trace: ptr("p.csv"), To: ptr(time.Hour)}},
			"--duration: cannot go with --to: both end a timestamps replay's window; give one"},
		{"arrival with a distribution replay", Overrides{Arrival: ptr(ArrivalPoisson), Traffic: dist},
			"--arrival: a distribution replay draws its gaps from the trace: leave arrival out"},
		{"rate too high", Overrides{Rate: ptr(1e308)}, "--rate: must be at most 1000000 per second (got 1e+308)"},
		{"rate negative", Overrides{Rate: ptr(-5.0)}, "--rate: must be > 0 (got -5)"},
		{"vus too many", Overrides{VUs: ptr(10_000_000)}, "--vus: must be at most 100000 VUs (got 10000000)"},
		{"duration too long", Overrides{Duration: ptr(8 * 24 * time.Hour)}, "--duration: must be at most 7 days (got 192h0m0s)"},
		{"duration zero", Overrides{Duration: ptr(time.Duration(0))}, "--duration: must be > 0 (got 0s)"},
		{"speed too fast", Overrides{Traffic: TrafficOverrides{Trace: ptr("p.csv"), Speed: ptr(1e7)}}, "--speed: must be at most 100000 (got 1e+07)"},
		{"loop too many", Overrides{Traffic: TrafficOverrides{Trace: ptr("p.csv"), Loop: ptr(1 << 20)}}, "--loop: must be at most 10000 loops (got 1048576)"},
		{"stages total", Overrides{Stages: []Stage{{100 * time.Hour, 1}, {100 * time.Hour, 1}}}, "--stages: stages[1].duration: the stages must add up to at most 7 days (got 200h0m0s by stage 2)"},
		{"stages VUs", Overrides{Executor: ptr(RampingVUs), Stages: []Stage{{time.Second, 500_000}}}, "--stages: must be at most 100000 VUs (got 500000)"},
		{"warmup of ramping-vus from 0", Overrides{Executor: ptr(RampingVUs), Stages: []Stage{{time.Second, 5}}, Warmup: ptr(time.Second)},
			"--warmup: ramping-vus warms up with its startVUs, which is 0: set startVUs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromFlags(tc.o)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T), want *ValidationError", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n  %s\nwant\n  %s", err, tc.want)
			}
		})
	}
}

// Flags on a file: refused in a line naming the flag and the scenario,
// not the file's line of a value the flag replaced.
func TestApplyRefusesInOneLine(t *testing.T) {
	const file = "scenarios:\n  main:\n    executor: constant-arrival-rate\n    rate: 10\n    duration: 1m\n    maxVUs: 100\n"
	const closed = "scenarios:\n  c:\n    executor: constant-vus\n    vus: 2\n    duration: 1m\n"
	for _, tc := range []struct {
		name, src string
		o         Overrides
		want      string
	}{
		{"stages", file, Overrides{Stages: []Stage{{time.Second, 5}}},
			"--stages: scenario main is constant-arrival-rate; constant-arrival-rate has no stages: add --executor ramping-arrival-rate to ramp the rate"},
		{"vus past the file's maxVUs", file, Overrides{VUs: ptr(200)}, "--vus: scenario main: must not exceed maxVUs (200 > 100)"},
		{"rate on a closed model", closed, Overrides{Rate: ptr(3.0)},
			"--rate: scenario c is constant-vus; a closed-model executor has no rate, its VUs send as fast as the server answers: use --vus, or --executor constant-arrival-rate"},
		{"stage target past the VU limit", "scenarios:\n  r:\n    executor: ramping-vus\n    stages: [{duration: 1s, target: 1}]\n", Overrides{Stages: []Stage{{time.Second, 200_000}}},
			"--stages: scenario r: must be at most 100000 VUs (got 200000)"},
		{"none of two scenarios", file + closed[len("scenarios:\n"):], Overrides{Iterations: ptr(5)},
			"--iterations: no scenario takes it: scenario c is constant-vus; iterations belong to --executor shared-iterations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("f.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			err = f.Apply(tc.o)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T), want *ValidationError", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n  %s\nwant\n  %s", err, tc.want)
			}
		})
	}
}

// Flags that apply are honoured: --duration cuts a timestamps replay's
// window, --vus sizes a replay's VUs, --warmup reaches closed models only,
// a flag that one of two scenarios takes is fine.
func TestFlagsHonoured(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   string // "" for flags only
		o     Overrides
		check func(f *File) string
	}{
		{"duration cuts the window", "", Overrides{Duration: ptr(10 * time.Second), Traffic: TrafficOverrides{Trace: ptr("p.csv"), Speed: ptr(30.0)}}, func(f *File) string {
			tr := f.Scenarios["default"].Traffic
			return check(tr.From == 0 && tr.To == 5*time.Minute, "window [%s, %s), want [0s, 5m0s): 10 s at 30×", tr.From, tr.To)
		}},
		{"duration cuts the window of every loop", "scenarios:\n  r:\n    traffic: {trace: p.csv, from: 1m, loop: 4}\n", Overrides{Duration: ptr(time.Minute)}, func(f *File) string {
			tr := f.Scenarios["r"].Traffic
			return check(tr.From == time.Minute && tr.To == time.Minute+15*time.Second, "window [%s, %s), want [1m0s, 1m15s): 4 loops in 1 min", tr.From, tr.To)
		}},
		{"vus of a replay", "", Overrides{VUs: ptr(7), Traffic: TrafficOverrides{Trace: ptr("p.csv")}}, func(f *File) string {
			s := f.Scenarios["default"]
			return check(s.PreAllocatedVUs == 7 && s.VUs == 0, "preAllocatedVUs %d, vus %d; want 7 and 0", s.PreAllocatedVUs, s.VUs)
		}},
		{"warmup of constant-vus", "", Overrides{VUs: ptr(2), Warmup: ptr(5 * time.Second)}, func(f *File) string {
			s := f.Scenarios["default"]
			return check(s.Executor == ConstantVUs && s.Warmup == 5*time.Second, "%s with warmup %s", s.Executor, s.Warmup)
		}},
		{"warmup of one of two", "scenarios:\n  o: {executor: constant-arrival-rate, rate: 1, duration: 1s}\n  c: {executor: constant-vus, vus: 1, duration: 1s}\n", Overrides{Warmup: ptr(time.Second)}, func(f *File) string {
			return check(f.Scenarios["c"].Warmup == time.Second && f.Scenarios["o"].Warmup == 0, "warmups %s (closed) and %s (open)", f.Scenarios["c"].Warmup, f.Scenarios["o"].Warmup)
		}},
		{"burstiness with gamma", "", Overrides{Arrival: ptr(ArrivalGamma), Burstiness: ptr(0.25)}, func(f *File) string {
			return check(f.Scenarios["default"].Burstiness == 0.25, "burstiness %g", f.Scenarios["default"].Burstiness)
		}},
		{"stages pick ramping-arrival-rate", "", Overrides{Stages: []Stage{{time.Second, 5}}}, func(f *File) string {
			return check(f.Scenarios["default"].Executor == RampingArrivalRate, "executor %s", f.Scenarios["default"].Executor)
		}},
		{"vus of a distribution replay", "", Overrides{VUs: ptr(9), Traffic: TrafficOverrides{Trace: ptr("p.csv"), Replay: ptr(ReplayDistribution)}}, func(f *File) string {
			s := f.Scenarios["default"]
			return check(s.Executor == ConstantArrivalRate && s.PreAllocatedVUs == 9, "%s with preAllocatedVUs %d, want constant-arrival-rate and 9", s.Executor, s.PreAllocatedVUs)
		}},
		{"rate of a distribution replay", "", Overrides{Rate: ptr(20.0), Duration: ptr(10 * time.Second), Traffic: TrafficOverrides{Trace: ptr("p.csv"), Replay: ptr(ReplayDistribution)}}, func(f *File) string {
			s := f.Scenarios["default"]
			return check(s.Rate == 20 && s.Duration == 10*time.Second, "rate %g for %s", s.Rate, s.Duration)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f *File
			var err error
			if tc.src == "" {
				f, err = FromFlags(tc.o)
			} else if f, err = Parse("f.yaml", []byte(tc.src)); err == nil {
				err = f.Apply(tc.o)
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(f); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// check returns the message when ok is false.
func check(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

func TestParseStagesBounds(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1s:NaN", `--stages: stage 1 "1s:NaN": bad target; want DURATION:TARGET, e.g. 30s:100,1m:100`},
		{"1s:Inf", `--stages: stage 1 "1s:Inf": bad target; want DURATION:TARGET, e.g. 30s:100,1m:100`},
		{"1s:1,1s:2e6", `--stages: stage 2 "1s:2e6": must be at most 1e+06 (got 2e+06)`},
		{"100h:1,100h:1", `--stages: stage 2 "100h:1": the stages must add up to at most 7 days (got 200h0m0s by stage 2)`},
		{"200h:1", `--stages: stage 1 "200h:1": must be at most 7 days (got 200h0m0s)`},
	} {
		_, err := ParseStages(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseStages(%q) = %v, want %s", tc.in, err, tc.want)
		}
	}
	if st, err := ParseStages(" 30s : 100 ,1m:0.5"); err != nil || len(st) != 2 || st[0].Target != 100 || st[1].Target != 0.5 {
		t.Errorf("spaces around the parts: %+v, %v", st, err)
	}
}

// FuzzParseStages: whatever the flag, ParseStages returns a
// *ValidationError or stages within every limit that print back to the
// same stages.
func FuzzParseStages(f *testing.F) {
	for _, s := range []string{"30s:100,1m:100,10s:0", "1s:0.5", "0s:5", "1h:1e6", "", ":", "1s:", "x:1", "1s:-1", "1s:NaN", "167h:1,1h:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		st, err := ParseStages(v)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "--stages" || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q (%T): want one line of a *ValidationError naming --stages", err, err)
			}
			return
		}
		if _, msg := checkStages(st, anyTarget); msg != "" || len(st) == 0 {
			t.Fatalf("ParseStages(%q) = %v, out of the limits: %s", v, st, msg)
		}
		parts := make([]string, len(st))
		for i, s := range st {
			parts[i] = s.Duration.String() + ":" + strconv.FormatFloat(s.Target, 'g', -1, 64)
		}
		again, err := ParseStages(strings.Join(parts, ","))
		if err != nil || len(again) != len(st) {
			t.Fatalf("round trip of %v: %v, %v", st, again, err)
		}
		for i := range st {
			if again[i] != st[i] {
				t.Fatalf("round trip of stage %d: %v, want %v", i, again[i], st[i])
			}
		}
	})
}
