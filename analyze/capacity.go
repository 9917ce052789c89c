package analyze

import (
	"fmt"
	"time"
)

// DefaultCapacityWindow is the window Capacity judges a ramping run over.
const DefaultCapacityWindow = 10 * time.Second

// kneeFactor defines the knee: the highest rate whose p99 latency stays
// within this factor of the run's lowest windowed p99.
const kneeFactor = 2

// Capacity says where a ramping run (a stress or breakpoint profile)
// broke: over windows of the run, the highest rate the service took while
// every check held, the first window where one did not, and the knee of
// its throughput–latency curve.
type Capacity struct {
	// Window is the length of the windows judged ("10s").
	Window string `json:"window"`
	// HeldPerSec is the highest completion rate (successful requests per
	// second) of a window whose checks all held, At that window; 0 when
	// none held.
	HeldPerSec float64     `json:"held_per_sec"`
	At         *WindowSpan `json:"at,omitempty"`
	// BrokeAt is the first window where a check failed after one held;
	// nil when the service never broke. Broke says which check.
	BrokeAt *WindowSpan `json:"broke_at,omitempty"`
	Broke   string      `json:"broke,omitempty"`
	// KneePerSec is the highest completion rate of a window whose p99
	// latency was within twice the lowest windowed p99 of the run: past
	// it, latency climbs faster than throughput. 0 without latency data.
	KneePerSec float64 `json:"knee_per_sec,omitempty"`
	// BaseP99Ms is that lowest windowed p99, in milliseconds.
	BaseP99Ms float64 `json:"base_p99_ms,omitempty"`
}

// CapacityOf judges windows of span over slices (of the overall group,
// with their latency histograms) with check, which returns "" when the
// window is fine and else what failed in it. minRequests is the least a
// window needs to count.
func CapacityOf(slices []*Slice, span time.Duration, minRequests int64, check func(*RunData) string) *Capacity {
	c := &Capacity{Window: span.String()}
	if len(slices) == 0 {
		return c
	}
	start := slices[0].Start
	spanOf := func(w window) *WindowSpan {
		return &WindowSpan{
			StartS: roundTo(slices[w.from].Start.Sub(start).Seconds(), 3),
			EndS:   roundTo(slices[w.to-1].End.Sub(start).Seconds(), 3),
		}
	}
	type point struct {
		w           window
		rate, p99Ms float64
	}
	var points []point
	held := false
	for _, w := range windowsOf(slices, span) {
		d := WindowOf(slices[w.from:w.to], nil)
		st := d.Summary.Overall
		if st.Requests.Total+st.Requests.Dropped < minRequests {
			continue
		}
		rate := st.Rate.CompletedPerSec
		if h := d.Histogram(Overall, MetricLatency); h != nil && h.TotalCount() >= minRequests {
			points = append(points, point{w, rate, float64(h.ValueAtPercentile(99)) / 1000})
		}
		if why := check(d); why == "" {
			held = true
			if rate > c.HeldPerSec {
				c.HeldPerSec, c.At = rate, spanOf(w)
			}
		} else if held && c.BrokeAt == nil {
			c.BrokeAt, c.Broke = spanOf(w), why
		}
	}
	for i, p := range points {
		if i == 0 || p.p99Ms < c.BaseP99Ms {
			c.BaseP99Ms = p.p99Ms
		}
	}
	for _, p := range points {
		if p.p99Ms <= kneeFactor*c.BaseP99Ms && p.rate > c.KneePerSec {
			c.KneePerSec = p.rate
		}
	}
	c.HeldPerSec, c.KneePerSec, c.BaseP99Ms = roundTo(c.HeldPerSec, 1), roundTo(c.KneePerSec, 1), roundTo(c.BaseP99Ms, 3)
	return c
}

// ThresholdCheck is a Capacity check from thresholds: the window fails
// when one of them fails on it (counts and thresholds without data in
// the window are not judged).
func ThresholdCheck(ts Thresholds) (func(*RunData) string, error) {
	checks, err := ts.compile()
	if err != nil {
		return nil, err
	}
	return func(d *RunData) string {
		for _, c := range checks {
			if c.th.Agg == AggCount {
				continue
			}
			obs, ok, err := observe(d.Summary.view(c.sel), c)
			if err != nil || !ok {
				continue
			}
			if !c.th.Holds(obs) {
				return fmt.Sprintf("%s %s (observed %.4g)", c.sel.Raw, c.spec.Threshold, obs)
			}
		}
		return ""
	}, nil
}
