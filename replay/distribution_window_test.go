package replay_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// A paced replay knows how long it lasts, for the engine.
var _ scenarios.Bounded = (*replay.Paced)(nil)

// windowScenario is a constant-arrival-rate scenario of n expected
// arrivals.
func windowScenario(t *testing.T, ratePerSec float64, n int) *scenarios.Scenario {
	t.Helper()
	f := &scenarios.File{Scenarios: map[string]*scenarios.Scenario{
		"dist": {Executor: scenarios.ConstantArrivalRate, Rate: ratePerSec, Duration: time.Duration(float64(n) / ratePerSec * float64(time.Second))},
	}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return f.Scenarios["dist"]
}

// windowSchedule is the schedule of windowScenario driven by d, as the run
// builds it for --replay distribution.
func windowSchedule(t *testing.T, d *replay.Distribution, ratePerSec float64, n int) *scenarios.Schedule {
	t.Helper()
	return scenarios.NewSchedule(windowScenario(t, ratePerSec, n), scenarios.WithGaps(d.Gap), scenarios.WithGapStats(d.GapCV(), d.Gaps()))
}

// countArrivals drains a schedule and returns its arrivals and the offset
// of the last.
func countArrivals(sch *scenarios.Schedule) (n int, last time.Duration) {
	for {
		off, ok := sch.Next(nil)
		if !ok {
			return n, last
		}
		n, last = n+1, off
	}
}

// The count of a window of the bursty code trace (CV 13) is unbiased for
// every length — a replay that started at an arrival sent 44 % more than
// the rate in 200-arrival windows — and varies as CountRSE says: for
// long windows within a few per cent, for short ones no more than it says.
func TestDistributionWindowCount(t *testing.T) {
	rows := modesAzureCode(t)
	const seeds = 400
	for _, tc := range []struct {
		name      string
		n         int
		rseLo     float64 // measured / predicted RSE, at least
		rseHi     float64 // and at most
		biasSigma float64 // the mean may stray this many standard errors
	}{
		{"10 s at 20/s", 200, 0.75, 1.05, 3},
		{"1 min at 20/s", 1200, 0.9, 1.1, 3},
		{"10 min at 20/s", 12000, 0.9, 1.1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sum, sq, predicted float64
			for seed := int64(1); seed <= seeds; seed++ {
				d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				sch := windowSchedule(t, d, 20, tc.n)
				predicted = sch.CountRSE()
				n, _ := countArrivals(sch)
				sum += float64(n)
				sq += float64(n) * float64(n)
			}
			mean := sum / seeds
			sd := math.Sqrt(sq/seeds - mean*mean)
			rse := sd / float64(tc.n)
			t.Logf("%d expected: mean %.1f (%+.1f %%), relative SD %.3f, CountRSE %.3f", tc.n, mean, 100*(mean/float64(tc.n)-1), rse, predicted)
			if se := sd / math.Sqrt(seeds); math.Abs(mean-float64(tc.n)) > tc.biasSigma*se {
				t.Errorf("mean count %.1f, want %d ± %.1f: the replay's rate is biased", mean, tc.n, tc.biasSigma*se)
			}
			if r := rse / predicted; r < tc.rseLo || r > tc.rseHi {
				t.Errorf("measured relative SD %.3f is %.2f× CountRSE %.3f, want %.2f…%.2f×", rse, r, predicted, tc.rseLo, tc.rseHi)
			}
		})
	}
}

// Over long runs the rate is the one asked for: whole passes use every gap
// once, so the count of 100 000 arrivals of the code trace strays by
// about 0.6 % (CountRSE), and by at most 2 % for every seed.
func TestDistributionLongRunRate(t *testing.T) {
	rows := modesAzureCode(t)
	var worst, rse float64
	for seed := int64(1); seed <= 20; seed++ {
		d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		const n = 100_000
		sch := windowSchedule(t, d, 20, n)
		rse = sch.CountRSE()
		got, _ := countArrivals(sch)
		worst = max(worst, math.Abs(float64(got)/n-1))
	}
	t.Logf("count of 100 000 arrivals over 20 seeds: worst relative error %.3f %%, CountRSE %.3f %%", 100*worst, 100*rse)
	if worst > 0.02 {
		t.Errorf("a seed's count strays %.2f %% from the rate, want ≤ 2 %%", 100*worst)
	}
}

// The first gap is what is left of a gap that holds a random moment; the
// pass after it holds every gap exactly once.
func TestDistributionFirstPassAfterStart(t *testing.T) {
	rows := modesAzureCode(t)
	d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, _, trGaps := modesTraceFigures(rows)
	mean := modesMean(trGaps)
	want := make([]float64, len(trGaps))
	for i, g := range trGaps {
		want[i] = g / mean
	}
	slices.Sort(want)
	first := d.Gap()
	if first < 0 || first > want[len(want)-1] {
		t.Errorf("first gap %g outside [0, the longest gap %g]", first, want[len(want)-1])
	}
	got := make([]float64, d.Gaps())
	for i := range got {
		got[i] = d.Gap()
	}
	slices.Sort(got)
	if d.Gaps() != len(want) {
		t.Fatalf("Gaps() = %d, want %d", d.Gaps(), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Fatalf("the pass after the first gap is not the trace's gaps: sorted item %d is %g, want %g", i, got[i], want[i])
		}
	}
	// modesCV is the sample CV; GapCV the population's, as trace inspect's.
	m := float64(len(trGaps))
	if cv := modesCV(trGaps) * math.Sqrt((m-1)/m); math.Abs(d.GapCV()-cv) > 1e-9 {
		t.Errorf("GapCV %g, want the trace's %g", d.GapCV(), cv)
	}
}

// The engine runs a bursty distribution replay for its whole duration,
// even when its last arrival comes long before the end: the 10 s run at
// 20/s that ended after 7.1 s, time-compressed 100× (the same 200
// arrivals in operational time, at 2 000/s for 100 ms).
func TestDistributionRunLastsItsDuration(t *testing.T) {
	rows := modesAzureCode(t)
	const rate, n = 2000.0, 200
	dur := time.Duration(n / rate * float64(time.Second))
	// Find a seed whose schedule ends early, as the reported run did.
	var seed int64
	for s := int64(1); s <= 100 && seed == 0; s++ {
		d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: s})
		if err != nil {
			t.Fatal(err)
		}
		if got, last := countArrivals(windowSchedule(t, d, rate, n)); got > 0 && last < dur*7/10 {
			seed = s
		}
	}
	if seed == 0 {
		t.Fatal("no seed in 1…100 ends its schedule before 70 % of the duration: the test lost its case")
	}
	d, err := replay.NewDistribution(&modesReader{rows: rows}, replay.DistributionOptions{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	s := windowScenario(t, rate, n)
	sch := scenarios.NewSchedule(s, scenarios.WithGaps(d.Gap))
	sink := &modesSentSink{}
	eng := scenarios.NewEngine(sink)
	p := scenarios.Plan{Scenario: s, Client: modesNoopClient{}, Source: sch}
	eng.Run(context.Background(), []scenarios.Plan{p})
	if end := time.Now(); end.Before(eng.Start().Add(dur)) {
		t.Errorf("the run ended %v after time zero, before its duration %v", end.Sub(eng.Start()), dur)
	}
	if len(sink.sent) == 0 {
		t.Error("no request sent")
	}
}
