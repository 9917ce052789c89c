package scenarios

import (
	"context"
	"math"
	"testing"
	"time"
)

// A random process starts stationary: the count of a short window of a
// bursty gamma process (CV 10) is Λ in expectation, where a process
// started at an arrival would send (CV² − 1)/2 ≈ 50 more; and its spread
// is what CountRSE says.
func TestScheduleShortWindowIsUnbiased(t *testing.T) {
	for _, tc := range []struct {
		name       string
		burstiness float64
		n          int // expected arrivals
	}{
		{"CV 10, 100 arrivals", 0.01, 100},
		{"CV 2, 400 arrivals", 0.25, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const seeds = 2000
			var sum, sq, rse float64
			for seed := int64(1); seed <= seeds; seed++ {
				s := &Scenario{Executor: ConstantArrivalRate, Rate: 100, Duration: time.Duration(tc.n) * 10 * time.Millisecond, Arrival: ArrivalGamma, Burstiness: tc.burstiness, Seed: seed}
				if msg := validateOnly(s); msg != "" {
					t.Fatal(msg)
				}
				sch := NewSchedule(s)
				rse = sch.CountRSE()
				n := 0
				for _, ok := sch.Next(nil); ok; _, ok = sch.Next(nil) {
					n++
				}
				sum += float64(n)
				sq += float64(n) * float64(n)
			}
			mean := sum / seeds
			sd := math.Sqrt(sq/seeds - mean*mean)
			t.Logf("mean %.1f of %d expected, relative SD %.3f, CountRSE %.3f", mean, tc.n, sd/float64(tc.n), rse)
			if se := sd / math.Sqrt(seeds); math.Abs(mean-float64(tc.n)) > 4*se {
				t.Errorf("mean count %.1f, want %d ± %.1f", mean, tc.n, 4*se)
			}
			if r := sd / float64(tc.n) / rse; r < 0.85 || r > 1.15 {
				t.Errorf("relative SD %.3f is %.2f× CountRSE %.3f, want within 15 %%", sd/float64(tc.n), r, rse)
			}
		})
	}
}

func TestCountRSE(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cv, n    float64
		pass     int
		want     float64
		tolerant bool
	}{
		{"constant pacing", 0, 100, 0, 0, false},
		{"no arrivals", 1, 0, 0, 0, false},
		{"poisson", 1, 100, 0, 0.1, false},
		{"the code trace's CV, independent", 13, 200, 0, 13 / math.Sqrt(200), false},
		{"the code trace, a partial pass", 13.15, 200, 8818, 13.15 * math.Sqrt(200*8618.0/8817) / 200, false},
		{"whole passes", 13.15, 3 * 8818, 8818, 0, false},
		{"a pass and a half", 2, 15, 10, 2 * math.Sqrt(5*5.0/9) / 15, false},
		{"a single gap", 3, 50, 1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CountRSE(tc.cv, tc.n, tc.pass); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("CountRSE(%g, %g, %d) = %g, want %g", tc.cv, tc.n, tc.pass, got, tc.want)
			}
		})
	}
}

func TestScheduleCountRSE(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Scenario
		opts []ScheduleOption
		want float64
	}{
		{"constant", Scenario{Executor: ConstantArrivalRate, Rate: 10, Duration: 10 * time.Second}, nil, 0},
		{"poisson", Scenario{Executor: ConstantArrivalRate, Rate: 10, Duration: 10 * time.Second, Arrival: ArrivalPoisson}, nil, 0.1},
		{"gamma", Scenario{Executor: ConstantArrivalRate, Rate: 10, Duration: 10 * time.Second, Arrival: ArrivalGamma, Burstiness: 0.25}, nil, 0.2},
		{"gaps without stats", Scenario{Executor: ConstantArrivalRate, Rate: 10, Duration: 10 * time.Second}, []ScheduleOption{WithGaps(func() float64 { return 1 })}, 0},
		{"gaps with stats", Scenario{Executor: ConstantArrivalRate, Rate: 10, Duration: 10 * time.Second}, []ScheduleOption{WithGaps(func() float64 { return 1 }), WithGapStats(5, 0)}, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			if msg := validateOnly(&s); msg != "" {
				t.Fatal(msg)
			}
			if got := NewSchedule(&s, tc.opts...).CountRSE(); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("CountRSE = %g, want %g", got, tc.want)
			}
		})
	}
}

// An open-model scenario lasts its schedule's duration even when its last
// arrival comes early (a long gap reaching past the end); a source that
// does not know its length ends the scenario with its last arrival.
func TestEngineScenarioLastsItsDuration(t *testing.T) {
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 100, Duration: 300 * time.Millisecond})
	gaps := []float64{0.5, 1000} // one arrival at 5 ms, the next 10 s later
	sch := NewSchedule(s, WithGaps(func() float64 { g := gaps[0]; gaps = gaps[1:]; return g }))
	sink := newMemSink()
	eng := NewEngine(sink)
	eng.Run(context.Background(), []Plan{{Scenario: s, Client: &sleepClient{}, Source: sch}})
	if end := time.Since(eng.Start()); end < 300*time.Millisecond {
		t.Errorf("the scenario ended %v after time zero, before its 300ms", end)
	}
	if sink.results != 1 {
		t.Errorf("%d requests, want the 1 arrival of the schedule", sink.results)
	}
}
