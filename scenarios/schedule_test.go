package scenarios

import (
	"math"
	"testing"
	"time"
)

func offsets(t *testing.T, s *Scenario) []time.Duration {
	t.Helper()
	if msg := validateOnly(s); msg != "" {
		t.Fatal(msg)
	}
	sch := NewSchedule(s)
	var out []time.Duration
	for i := 0; i < 10_000_000; i++ {
		off, ok := sch.Next(nil)
		if !ok {
			return out
		}
		out = append(out, off)
	}
	t.Fatal("schedule did not end")
	return nil
}

func validateOnly(s *Scenario) string {
	f, m := s.validate()
	if m != "" {
		return f + ": " + m
	}
	return ""
}

func TestScheduleConstant(t *testing.T) {
	offs := offsets(t, &Scenario{Executor: ConstantArrivalRate, Rate: 10, Duration: 2 * time.Second})
	if len(offs) != 20 {
		t.Fatalf("got %d arrivals, want 20", len(offs))
	}
	for i, o := range offs {
		if want := time.Duration(i) * 100 * time.Millisecond; absDur(o-want) > time.Microsecond {
			t.Errorf("arrival %d at %v, want %v", i, o, want)
		}
	}
}

func TestScheduleTimeUnit(t *testing.T) {
	offs := offsets(t, &Scenario{Executor: ConstantArrivalRate, Rate: 60, TimeUnit: time.Minute, Duration: 10 * time.Second})
	if len(offs) != 10 {
		t.Fatalf("60/min for 10s: got %d arrivals, want 10", len(offs))
	}
}

func TestScheduleRampFollowsIntegral(t *testing.T) {
	// 0 → 100/s over 10 s then hold 100/s for 5 s: Λ(t) = 5t² on the ramp.
	s := &Scenario{Executor: RampingArrivalRate, Stages: []Stage{{10 * time.Second, 100}, {5 * time.Second, 100}}}
	offs := offsets(t, s)
	if want := 500 + 500; len(offs) != want {
		t.Fatalf("got %d arrivals, want %d", len(offs), want)
	}
	// Arrival k (from 0) happens when Λ = k, i.e. t = sqrt(k/5) on the ramp.
	for _, k := range []int{1, 20, 125, 499} {
		want := math.Sqrt(float64(k) / 5)
		if got := offs[k].Seconds(); math.Abs(got-want) > 1e-6 {
			t.Errorf("arrival %d at %.6fs, want %.6fs", k, got, want)
		}
	}
	if got := s.TargetRate(); math.Abs(got-1000.0/15) > 1e-9 {
		t.Errorf("TargetRate = %g, want %g", got, 1000.0/15)
	}
}

func TestScheduleSpikeJump(t *testing.T) {
	s := &Scenario{Executor: RampingArrivalRate, StartRate: 10, Stages: []Stage{{time.Second, 10}, {0, 100}, {time.Second, 100}, {0, 10}, {time.Second, 10}}}
	offs := offsets(t, s)
	bins := make([]int, 3)
	for _, o := range offs {
		bins[int(o/time.Second)]++
	}
	if bins[0] != 10 || bins[1] != 100 || bins[2] != 10 {
		t.Fatalf("per-second arrivals %v, want [10 100 10]", bins)
	}
}

func TestScheduleRandomProcesses(t *testing.T) {
	for _, tc := range []struct {
		name       string
		arrival    string
		burstiness float64
		wantCV     float64
	}{
		{"poisson", ArrivalPoisson, 0, 1},
		{"gamma bursty", ArrivalGamma, 0.25, 2},
		{"gamma smooth", ArrivalGamma, 4, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Scenario{Executor: ConstantArrivalRate, Rate: 1000, Duration: 100 * time.Second, Arrival: tc.arrival, Burstiness: tc.burstiness, Seed: 7}
			offs := offsets(t, s)
			n := float64(len(offs))
			if math.Abs(n-100_000) > 5*math.Sqrt(100_000)*tc.wantCV {
				t.Errorf("got %v arrivals, want about 100000", n)
			}
			var sum, sumSq float64
			for i := 1; i < len(offs); i++ {
				g := (offs[i] - offs[i-1]).Seconds()
				sum += g
				sumSq += g * g
			}
			m := sum / (n - 1)
			cv := math.Sqrt(sumSq/(n-1)-m*m) / m
			if math.Abs(cv-tc.wantCV) > 0.05*tc.wantCV {
				t.Errorf("inter-arrival CV = %.3f, want %.3f ± 5%%", cv, tc.wantCV)
			}
		})
	}
}

func TestScheduleSeedIsDeterministic(t *testing.T) {
	mk := func() []time.Duration {
		return offsets(t, &Scenario{Executor: ConstantArrivalRate, Rate: 100, Duration: time.Second, Arrival: ArrivalPoisson, Seed: 3})
	}
	a, b := mk(), mk()
	if len(a) != len(b) {
		t.Fatalf("lengths differ: %d vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("arrival %d differs: %v vs %v", i, a[i], b[i])
		}
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
