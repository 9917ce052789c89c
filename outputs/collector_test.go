package outputs

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	promout "github.com/gonogo-dev/gonogo/extensions/prometheus"
)

var t0 = time.Unix(1_700_000_000, 0)

// result is a finished request of scenario sc: sent lag after its intended
// time, done latency after it.
func result(sc string, class gonogo.ErrorClass, latency, lag time.Duration) *gonogo.Result {
	return &gonogo.Result{Request: &gonogo.Request{Scenario: sc, Intended: t0}, Sent: t0.Add(lag), Done: t0.Add(latency), Class: class}
}

// find returns the series of m whose labels include every pair of want.
func find(t *testing.T, ss []Series, m *Metric, want ...string) Series {
	t.Helper()
	var hits []Series
	for _, s := range ss {
		if s.Metric != m {
			continue
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			has := false
			for _, l := range s.Labels {
				if l.Name == want[i] && l.Value == want[i+1] {
					has = true
				}
			}
			ok = ok && has
		}
		if ok {
			hits = append(hits, s)
		}
	}
	if len(hits) != 1 {
		t.Fatalf("%d series of %s with %v, want 1", len(hits), m.Name, want)
	}
	return hits[0]
}

func TestCollector(t *testing.T) {
	c := NewCollector()
	ok := result("chat", gonogo.ErrNone, 40*time.Millisecond, 200*time.Microsecond)
	ok.TTFT, ok.OutputTokens, ok.ChunkGaps = 10*time.Millisecond, 4, []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond}
	c.Record(ok)
	c.Record(result("chat", gonogo.ErrNone, 2*time.Second, 0))
	c.Record(result("chat", gonogo.ErrHTTP5xx, 5*time.Millisecond, 0))
	c.Record(result("chat", gonogo.ErrorClass("novel"), 1500*time.Millisecond, 0))
	c.Record(result("embed", gonogo.ErrNone, 5*time.Millisecond, -time.Millisecond)) // sent early: no lag
	c.Drop(&gonogo.Request{Scenario: "chat"})
	c.Drop(nil)
	ss := c.Series()

	for _, tc := range []struct {
		name   string
		m      *Metric
		labels []string
		want   float64
	}{
		{"ok", Requests, []string{"scenario", "chat", "class", ClassOK}, 2},
		{"5xx", Requests, []string{"scenario", "chat", "class", "http_5xx"}, 1},
		{"unknown class is other", Requests, []string{"scenario", "chat", "class", "other"}, 1},
		{"zero classes are sent", Requests, []string{"scenario", "chat", "class", "timeout"}, 0},
		{"embed ok", Requests, []string{"scenario", "embed", "class", ClassOK}, 1},
		{"dropped", Dropped, []string{"scenario", "chat"}, 1},
		{"dropped without a request", Dropped, []string{"scenario", ""}, 1},
		{"tokens of successes", OutputTokens, []string{"scenario", "chat"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := find(t, ss, tc.m, tc.labels...).Value; got != tc.want {
				t.Errorf("%s%v = %v, want %v", tc.m.Name, tc.labels, got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name      string
		m         *Metric
		scenario  string
		count     uint64
		sum       float64
		le        float64 // a bound…
		cumulated uint64  // …and the observations at or below it
	}{
		{"latency of successes", Latency, "chat", 2, 2.04, 0.05, 1},
		{"5 ms falls in le=0.005", Latency, "embed", 1, 0.005, 0.005, 1},
		{"latency of failures apart", LatencyFailed, "chat", 2, 1.505, 0.005, 1},
		{"ttft", TTFT, "chat", 1, 0.01, 0.01, 1},
		{"tpot (e2e-ttft)/(tokens-1)", TPOT, "chat", 1, (0.0398 - 0.01) / 3, 0.01, 1},
		{"every chunk gap", ChunkGap, "chat", 3, 0.03, 0.005, 2},
		{"lag of every request", SchedulingLag, "chat", 4, 0.0002, 0.0001, 3},
		{"an early send has no lag", SchedulingLag, "embed", 1, 0, 0.0001, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := find(t, ss, tc.m, "scenario", tc.scenario).Hist
			if h.Count != tc.count || math.Abs(h.Sum-tc.sum) > 1e-6 { // sums count whole microseconds
				t.Errorf("count %d sum %v, want %d and %v", h.Count, h.Sum, tc.count, tc.sum)
			}
			var cum, total uint64
			for i, b := range h.Bounds {
				if b <= tc.le {
					cum += h.Counts[i]
				}
			}
			for _, n := range h.Counts {
				total += n
			}
			if cum != tc.cumulated || total != h.Count || len(h.Counts) != len(h.Bounds)+1 {
				t.Errorf("le=%v holds %d (want %d); %d counts for %d bounds, total %d", tc.le, cum, tc.cumulated, len(h.Counts), len(h.Bounds), total)
			}
		})
	}
	// A histogram without observations is not sent.
	for _, s := range ss {
		if s.Metric == TTFT && s.Labels[0].Value == "embed" {
			t.Error("an empty TTFT histogram is sent")
		}
	}
}

// TestCollectorOrder checks that the series of one metric follow each
// other (OTLP groups them into one Metric) and scenarios are sorted.
func TestCollectorOrder(t *testing.T) {
	c := NewCollector()
	for _, sc := range []string{"b", "a", "c"} {
		c.Record(result(sc, gonogo.ErrNone, time.Millisecond, 0))
	}
	seen := map[*Metric]bool{}
	var last *Metric
	var scen []string
	for _, s := range c.Series() {
		if s.Metric != last {
			if seen[s.Metric] {
				t.Fatalf("the series of %s are not together", s.Metric.Name)
			}
			seen[s.Metric], last = true, s.Metric
		}
		if s.Metric == Dropped {
			scen = append(scen, s.Labels[0].Value)
		}
	}
	if fmt.Sprint(scen) != "[a b c]" {
		t.Errorf("scenarios in order %v, want [a b c]", scen)
	}
}

func TestCollectorNoAllocs(t *testing.T) {
	c := NewCollector()
	res := result("chat", gonogo.ErrNone, 40*time.Millisecond, 200*time.Microsecond)
	res.TTFT, res.OutputTokens, res.ChunkGaps = 10*time.Millisecond, 8, []time.Duration{time.Millisecond, 2 * time.Millisecond}
	req := &gonogo.Request{Scenario: "chat"}
	c.Record(res)
	if n := testing.AllocsPerRun(1000, func() { c.Record(res); c.Drop(req) }); n != 0 {
		t.Errorf("Record+Drop allocate %v times per call, want 0", n)
	}
}

// TestCollectorConcurrent records from many goroutines while reading.
func TestCollectorConcurrent(t *testing.T) {
	c := NewCollector()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				c.Record(result(fmt.Sprint("s", g%2), gonogo.ErrNone, time.Duration(i)*time.Millisecond, 0))
				if i%200 == 0 {
					for _, s := range c.Series() {
						if s.Hist != nil {
							var n uint64
							for _, k := range s.Hist.Counts {
								n += k
							}
							if n != s.Hist.Count {
								t.Errorf("%s: buckets hold %d, count %d", s.Metric.Name, n, s.Hist.Count)
							}
						}
					}
				}
			}
		})
	}
	wg.Wait()
	ss := c.Series()
	for _, sc := range []string{"s0", "s1"} {
		if got := find(t, ss, Requests, "scenario", sc, "class", ClassOK).Value; got != 4000 {
			t.Errorf("%s: %v requests, want 4000", sc, got)
		}
		if h := find(t, ss, Latency, "scenario", sc).Hist; h.Count != 4000 || math.Abs(h.Sum-4*499.5) > 1e-6 {
			t.Errorf("%s: latency count %d sum %v, want 4000 and %v", sc, h.Count, h.Sum, 4*499.5)
		}
	}
}

func TestQuantileSeries(t *testing.T) {
	qs := []promout.WindowQuantile{{Group: "", Metric: "latency", QuantilePct: 99.9, Value: 0.25}, {Group: "scenario:a", Metric: "ttft", QuantilePct: 50, Value: 0.01}}
	got := QuantileSeries(WindowQuantile, 30*time.Second, qs)
	if len(got) != 2 {
		t.Fatalf("%d series, want 2", len(got))
	}
	want := "[{group } {metric latency} {quantile 0.999} {window 30s}]"
	if fmt.Sprint(got[0].Labels) != want || got[0].Value != 0.25 {
		t.Errorf("labels %v value %v, want %s and 0.25", got[0].Labels, got[0].Value, want)
	}
	if run := QuantileSeries(RunQuantile, 0, qs[1:]); fmt.Sprint(run[0].Labels) != "[{group scenario:a} {metric ttft} {quantile 0.5}]" {
		t.Errorf("run quantile labels %v", run[0].Labels)
	}
}

func BenchmarkCollectorRecord(b *testing.B) {
	c := NewCollector()
	res := result("chat", gonogo.ErrNone, 40*time.Millisecond, 200*time.Microsecond)
	res.TTFT, res.OutputTokens = 10*time.Millisecond, 8
	c.Record(res)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Record(res)
		}
	})
}
