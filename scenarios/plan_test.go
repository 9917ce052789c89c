package scenarios

import (
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// boundedSource is a Source of nothing with a known length: Bounded, not
// Planned.
type boundedSource struct{ d time.Duration }

func (boundedSource) Next(*gonogo.Request) (time.Duration, bool) { return 0, false }
func (b boundedSource) Duration() time.Duration                  { return b.d }

var _ Bounded = boundedSource{}

func TestPlanSummary(t *testing.T) {
	gamma := &Scenario{Name: "g", Executor: ConstantArrivalRate, Rate: 20, Duration: 10 * time.Second, Arrival: ArrivalGamma, Burstiness: 0.0625}
	gappy := &Scenario{Name: "dist", Executor: ConstantArrivalRate, Rate: 20, Duration: 10 * time.Second, Traffic: &Traffic{Trace: "code.csv", Replay: ReplayDistribution}}
	for _, tc := range []struct {
		name string
		p    Plan
		want string
		req  float64
		end  time.Duration
	}{
		{"constant rate", Plan{Scenario: &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 50, Duration: time.Minute}},
			"a: constant-arrival-rate 50/s for 1m0s — 1m0s, ≈3000 requests", 3000, time.Minute},
		{"ramp after a start time", Plan{Scenario: &Scenario{Name: "r", Executor: RampingArrivalRate, StartTime: 30 * time.Second, Stages: []Stage{{time.Minute, 20}, {time.Minute, 20}}}},
			"r: ramping-arrival-rate to 20/s over 2m0s in 2 stages — from +30s, 2m0s, ≈1800 requests", 1800, 150 * time.Second},
		{"a bursty process", Plan{Scenario: gamma},
			"g: constant-arrival-rate 20/s for 10s (gamma, burstiness 0.0625) — 10s, ≈200 requests ±28 %", 200, 10 * time.Second},
		{"a distribution replay", Plan{Scenario: gappy, Source: nil},
			"dist: constant-arrival-rate 20/s for 10s, sizes and gaps drawn from code.csv — 10s, ≈200 requests ±92 %", 200, 10 * time.Second},
		{"another source", Plan{Scenario: &Scenario{Name: "s", Executor: ConstantArrivalRate, Rate: 10, Duration: time.Minute, Traffic: &Traffic{Trace: "t.csv", Replay: ReplaySequential}}, Source: boundedSource{time.Minute}},
			"s: constant-arrival-rate 10/s for 1m0s, the rows of t.csv in order — up to 1m0s, up to 600 requests", 600, time.Minute},
		{"constant-vus with a warm-up", Plan{Scenario: &Scenario{Name: "v", Executor: ConstantVUs, VUs: 10, Duration: time.Minute, Warmup: 10 * time.Second}},
			"v: constant-vus 10 VUs for 1m0s — 10s warm-up, then 1m0s, requests as fast as the server answers", 0, time.Minute},
		{"shared-iterations", Plan{Scenario: &Scenario{Name: "i", Executor: SharedIterations, VUs: 4, Iterations: 37}},
			"i: shared-iterations 37 iterations on 4 VUs — up to 10m0s, up to 37 requests", 37, 10 * time.Minute},
		{"a replay window", Plan{Scenario: &Scenario{Name: "t", Traffic: &Traffic{Trace: "t.csv", Speed: 30, To: 5 * time.Minute}}},
			"t: recorded-arrivals from t.csv at 30× speed — up to 10s", 0, 10 * time.Second},
		{"a whole trace", Plan{Scenario: &Scenario{Name: "w", Traffic: &Traffic{Trace: "t.csv"}}},
			"w: recorded-arrivals from t.csv at 1× speed — until the trace ends", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustValid(t, tc.p.Scenario)
			if tc.p.Scenario == gappy {
				// As the run builds it, here with independent gaps of CV 13.
				tc.p.Source = NewSchedule(gappy, WithGaps(func() float64 { return 1 }), WithGapStats(13, 0))
			}
			ps := tc.p.Summary()
			if got := ps.String(); got != tc.want {
				t.Errorf("plan\n  %s\nwant\n  %s", got, tc.want)
			}
			if ps.Requests != tc.req || ps.End() != tc.end {
				t.Errorf("requests %g ending at %v, want %g at %v", ps.Requests, ps.End(), tc.req, tc.end)
			}
		})
	}
}
