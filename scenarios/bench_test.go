package scenarios

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// BenchmarkScheduleNext measures how many intended send times an arrival
// schedule can produce per second, for each arrival process. One op is one
// Next call; arrivals/s is the schedule's ceiling, far above any rate the
// engine can send.
func BenchmarkScheduleNext(b *testing.B) {
	for _, arrival := range []string{ArrivalConstant, ArrivalPoisson, ArrivalGamma} {
		b.Run(arrival, func(b *testing.B) {
			s := &Scenario{
				Executor: ConstantArrivalRate, Rate: LimitRatePerSec, Duration: LimitDuration,
				Arrival: arrival,
			}
			if arrival == ArrivalGamma {
				s.Burstiness = 0.5
			}
			if f, m := s.validate(); m != "" {
				b.Fatal(f + ": " + m)
			}
			sch := NewSchedule(s)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, ok := sch.Next(nil); !ok {
					sch = NewSchedule(s) // 6·10¹¹ arrivals: not reached in practice
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "arrivals/s")
		})
	}
}

// nopClient answers every request at once, successfully.
type nopClient struct{}

func (nopClient) Do(_ context.Context, _ *gonogo.Request, res *gonogo.Result) {
	res.Status = 200
	res.Done = res.Sent
}

// countSink counts results and drops and keeps nothing.
type countSink struct{ results, dropped atomic.Int64 }

func (s *countSink) Record(*gonogo.Result) { s.results.Add(1) }
func (s *countSink) Drop(*gonogo.Request)  { s.dropped.Add(1) }

// BenchmarkEngineArrivals measures the engine's own cost per arrival: one op
// is an engine run of engineBenchArrivals arrivals scheduled far faster than
// they can be sent (so the scheduler never sleeps), with a client and a sink
// that do nothing. ns/arrival is the engine's ceiling on a single open-model
// scenario; allocs/arrival should be ~0 (jobs are pooled); dropped/arrival
// shows how often no worker was idle at the moment of an arrival.
func BenchmarkEngineArrivals(b *testing.B) {
	const arrivals = engineBenchArrivals
	const rate = 1e9 // one arrival per ns: the schedule is always behind
	for _, bc := range []struct {
		name           string
		prealloc, max  int
		saturationMode string
	}{
		{"drop/vus=50-1000", 50, 1000, SaturationDrop},
		{"queue/vus=64", 64, 64, SaturationQueue},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var sink countSink
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ReportAllocs()
			b.ResetTimer()
			var elapsed time.Duration
			for range b.N {
				s := &Scenario{
					Name: "bench", Executor: ConstantArrivalRate, Rate: 1, Duration: time.Second,
					PreAllocatedVUs: bc.prealloc, MaxVUs: bc.max, Saturation: bc.saturationMode,
					MaxQueue: arrivals,
				}
				if f, m := s.validate(); m != "" {
					b.Fatal(f + ": " + m)
				}
				// Past LimitRatePerSec on purpose: the engine's ceiling, not a run.
				s.Rate, s.Duration = rate, time.Duration(arrivals/rate*float64(time.Second))
				eng := NewEngine(&sink, WithLead(0))
				t0 := time.Now()
				eng.Run(context.Background(), []Plan{{Scenario: s, Client: nopClient{}}})
				elapsed += time.Since(t0)
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms1)
			n := float64(b.N) * arrivals
			if got := sink.results.Load() + sink.dropped.Load(); float64(got) != n {
				b.Fatalf("results %d + dropped %d != %g arrivals", sink.results.Load(), sink.dropped.Load(), n)
			}
			b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/arrival")
			b.ReportMetric(n/elapsed.Seconds(), "arrivals/s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/arrival")
			b.ReportMetric(float64(sink.dropped.Load())/n, "dropped/arrival")
		})
	}
}

// engineBenchArrivals is the size of one BenchmarkEngineArrivals run.
const engineBenchArrivals = 200_000
