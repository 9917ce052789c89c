package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseErrorsNameFileLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		wantLine  int
		wantIn    []string
	}{
		{"unknown field", "scenarios:\n  a:\n    executor: constant-vus\n    vus: 2\n    duration: 1s\n    rat: 3\n", 6, []string{"rat"}},
		{"negative rate", "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: -5\n    duration: 1s\n", 4, []string{"scenarios.a.rate", "must be > 0"}},
		{"unknown executor", "scenarios:\n  a:\n    executor: warp-speed\n", 3, []string{"scenarios.a.executor", "warp-speed"}},
		{"bad duration", "scenarios:\n  a:\n    executor: constant-vus\n    vus: 1\n    duration: soon\n", 5, []string{"soon"}},
		{"bad stage", "scenarios:\n  a:\n    executor: ramping-arrival-rate\n    stages:\n      - {duration: 1s, target: 5}\n      - {duration: 1s, target: -1}\n", 6, []string{"stages[1].target"}},
		{"syntax", "scenarios:\n  a: [\n", 0, []string{"t.yaml"}},
		{"empty threshold", "scenarios:\n  a: {executor: constant-vus, vus: 1, duration: 1s}\nthresholds:\n  latency: ['']\n", 4, []string{"thresholds.latency"}},
		{"no scenarios", "description: x\n", 0, []string{"no scenarios"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.src))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T), want *ValidationError", err, err)
			}
			if tc.wantLine > 0 && ve.Line != tc.wantLine {
				t.Errorf("line = %d, want %d (%v)", ve.Line, tc.wantLine, err)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "t.yaml") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestParseValidFile(t *testing.T) {
	src := `
scenarios:
  warm:
    executor: constant-arrival-rate
    rate: 5
    duration: 2s
    tags: {phase: warm}
  main:
    executor: ramping-vus
    startTime: 2s
    stages: [{duration: 1s, target: 3}]
thresholds:
  latency: ["p(99)<500", {threshold: "p(50)<100", abortOnFail: true, delayAbortEval: 5s}]
`
	f, err := Parse("ok.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Names(), ","); got != "warm,main" {
		t.Errorf("names in start order = %s", got)
	}
	w := f.Scenarios["warm"]
	if w.MaxVUs != DefaultMaxVUs || w.Saturation != SaturationDrop || w.Arrival != ArrivalConstant || w.TimeUnit != time.Second {
		t.Errorf("defaults not applied: %+v", w)
	}
	th := f.Thresholds["latency"]
	if len(th) != 2 || th[1].Expr != "p(50)<100" || !th[1].AbortOnFail || th[1].DelayAbortEval != 5*time.Second {
		t.Errorf("thresholds = %+v", th)
	}
	if th[0].Pos != "ok.yaml:13" {
		t.Errorf("threshold position = %q, want ok.yaml:13", th[0].Pos)
	}
}

func TestProfilesParseAndScale(t *testing.T) {
	for _, name := range Profiles() {
		t.Run(name, func(t *testing.T) {
			f, err := Profile(name)
			if err != nil {
				t.Fatal(err)
			}
			rate, dur := 40.0, 20*time.Second
			if err := f.Apply(Overrides{Rate: &rate, Duration: &dur}); err != nil {
				t.Fatal(err)
			}
			for _, s := range f.Scenarios {
				sch := NewSchedule(s)
				if sch == nil {
					t.Fatalf("%s: not an open-model profile", name)
				}
				if d := sch.Duration(); absDur(d-dur) > time.Millisecond {
					t.Errorf("duration after --duration 20s = %v", d)
				}
				if p := s.peakRate(); s.Executor == RampingArrivalRate && (p < 39.999 || p > 40.001) {
					t.Errorf("peak after --rate 40 = %g", p)
				}
			}
		})
	}
	if _, err := Profile("nope"); err == nil || !strings.Contains(err.Error(), "stress") {
		t.Errorf("unknown profile error should list the profiles: %v", err)
	}
}

func TestFlagsOnly(t *testing.T) {
	neg, zero := -1.0, time.Duration(0)
	vus, iters := 3, 10
	unknown := "warp"
	for _, tc := range []struct {
		name     string
		o        Overrides
		wantExec string
		wantErr  string
	}{
		{"defaults", Overrides{}, ConstantArrivalRate, ""},
		{"vus", Overrides{VUs: &vus}, ConstantVUs, ""},
		{"iterations", Overrides{Iterations: &iters}, SharedIterations, ""},
		{"stages", Overrides{Stages: []Stage{{time.Second, 5}}}, RampingArrivalRate, ""},
		{"negative rate", Overrides{Rate: &neg}, "", "--rate"},
		{"zero duration", Overrides{Duration: &zero}, "", "--duration"},
		{"unknown executor", Overrides{Executor: &unknown}, "", "--executor"},
		{"ramping without stages", Overrides{Executor: ptr(RampingArrivalRate)}, "", "--stages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := FromFlags(tc.o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Scenarios["default"].Executor; got != tc.wantExec {
				t.Errorf("executor = %s, want %s", got, tc.wantExec)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestParseStages(t *testing.T) {
	st, err := ParseStages("30s:100, 1m:100,10s:0")
	if err != nil || len(st) != 3 || st[1].Duration != time.Minute || st[0].Target != 100 {
		t.Fatalf("ParseStages = %+v, %v", st, err)
	}
	for _, bad := range []string{"", "30s", "x:1", "1s:-2", "1s:abc"} {
		if _, err := ParseStages(bad); err == nil {
			t.Errorf("ParseStages(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range Profiles() {
		data, _ := profileFS.ReadFile("profiles/" + name + ".yaml")
		f.Add(data)
	}
	f.Add([]byte("scenarios:\n  a: {executor: constant-vus, vus: 1, duration: 1s}\n"))
	f.Add([]byte("scenarios: {a: {executor: shared-iterations, iterations: 3}}\nthresholds: {errors: [rate<0.1]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// A file that validates must yield finite schedules.
		for _, s := range file.Scenarios {
			if sch := NewSchedule(s); sch != nil && sch.Expected() > 1e7 {
				return
			} else if sch != nil {
				for i := 0; i < 1e7; i++ {
					if _, ok := sch.Next(nil); !ok {
						break
					}
				}
			}
		}
	})
}

func TestTrafficBlock(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		wantExec  string
		wantErr   string
	}{
		{"timestamps implies recorded-arrivals", "scenarios:\n  r:\n    traffic: {trace: prod.csv, speed: 10}\n", RecordedArrivals, ""},
		{"distribution implies constant rate", "scenarios:\n  r:\n    duration: 1m\n    traffic: {trace: prod.csv, replay: distribution}\n", ConstantArrivalRate, ""},
		{"distribution with a ramp", "scenarios:\n  r:\n    executor: ramping-arrival-rate\n    stages: [{duration: 1m, target: 50}]\n    traffic: {trace: prod.csv, replay: distribution}\n", RampingArrivalRate, ""},
		{"missing trace", "scenarios:\n  r:\n    traffic: {speed: 2}\n", "", "traffic.trace: missing"},
		{"bad mode", "scenarios:\n  r:\n    traffic: {trace: a.csv, replay: fancy}\n", "", `traffic.replay: unknown mode "fancy"`},
		{"negative speed", "scenarios:\n  r:\n    traffic: {trace: a.csv, speed: -2}\n", "", "traffic.speed: must be > 0"},
		{"window backwards", "scenarios:\n  r:\n    traffic: {trace: a.csv, from: 10m, to: 5m}\n", "", "traffic.to: must be after from"},
		{"timestamps with a vu executor", "scenarios:\n  r:\n    executor: constant-vus\n    vus: 1\n    duration: 1s\n    traffic: {trace: a.csv}\n", "", "a timestamps replay sets its own arrivals"},
		{"distribution with poisson", "scenarios:\n  r:\n    duration: 1m\n    arrival: poisson\n    traffic: {trace: a.csv, replay: distribution}\n", "", "draws its gaps from the trace"},
		{"recorded-arrivals without traffic", "scenarios:\n  r:\n    executor: recorded-arrivals\n", "", "needs a traffic block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("dir/t.yaml", []byte(tc.src))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := f.Scenarios["r"]
			if s.Executor != tc.wantExec {
				t.Errorf("executor %s, want %s", s.Executor, tc.wantExec)
			}
			if s.Traffic.Trace != "dir/prod.csv" || s.Traffic.Speed == 0 || s.Traffic.Scale != 1 {
				t.Errorf("traffic defaults/path: %+v", s.Traffic)
			}
		})
	}
}

func TestFlagsTraffic(t *testing.T) {
	f, err := FromFlags(Overrides{Traffic: TrafficOverrides{Trace: ptr("p.csv"), Replay: ptr(ReplayDistribution)}})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Scenarios["default"]; s.Executor != ConstantArrivalRate || s.Rate != 0 || s.Duration != DefaultFlagDuration {
		t.Errorf("distribution from flags: %+v (rate 0 = the trace's mean)", s)
	}
	f, err = FromFlags(Overrides{Traffic: TrafficOverrides{Trace: ptr("p.csv"), Speed: ptr(10.0)}})
	if err != nil || f.Scenarios["default"].Executor != RecordedArrivals || f.Scenarios["default"].Traffic.Speed != 10 {
		t.Fatalf("timestamps from flags: %v %+v", err, f)
	}
	// A file's distribution replay turned into a timestamps one by --replay.
	f, err = Parse("r.yaml", []byte("scenarios:\n  r:\n    duration: 1m\n    traffic: {trace: prod.csv, replay: distribution}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(Overrides{Traffic: TrafficOverrides{Replay: ptr(ReplayTimestamps), Scale: ptr(2.0)}}); err != nil {
		t.Fatal(err)
	}
	if s := f.Scenarios["r"]; s.Executor != RecordedArrivals || s.Traffic.Scale != 2 || s.Traffic.Trace != "prod.csv" {
		t.Errorf("after --replay timestamps --scale 2: %+v %+v", s, s.Traffic)
	}
}
