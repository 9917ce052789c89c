package reports

import (
	"math"
	"strconv"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/gonogo-dev/gonogo/analyze"
)

// maxPoints bounds the points of one time series: longer series are
// reduced to this many buckets.
const maxPoints = 600

// spectrumPoints is the number of points of a percentile spectrum.
const spectrumPoints = 160

// maxNines bounds the spectrum's x axis at 99.9999 %.
const maxNines = 6

// timeAxis converts run offsets to the unit of a time axis: seconds for
// runs up to 20 minutes, minutes up to 5 hours, hours beyond.
type timeAxis struct {
	start time.Time
	div   float64
	unit  string
	max   float64 // the run's duration in the axis unit
}

func newTimeAxis(start time.Time, durationS float64) timeAxis {
	a := timeAxis{start: start, div: 1, unit: "s", max: durationS}
	switch {
	case durationS > 5*3600:
		a.div, a.unit = 3600, "h"
	case durationS > 20*60:
		a.div, a.unit = 60, "min"
	}
	a.max /= a.div
	return a
}

// label is the axis label of the time axis.
func (a timeAxis) label() string { return "time since start (" + a.unit + ")" }

// at converts an absolute time to the axis unit.
func (a timeAxis) at(t time.Time) float64 { return t.Sub(a.start).Seconds() / a.div }

// panel returns a plot over the run's time axis, y from zero.
func (a timeAxis) panel(yLabel string) *plot.Plot {
	p := newPlot(a.label(), yLabel)
	p.X.Min, p.X.Max = 0, a.max
	p.Y.Min = 0
	return p
}

// bucketRanges splits n consecutive items into at most maxPoints runs of equal
// size, as [lo, hi) index pairs.
func bucketRanges(n int) [][2]int {
	size := bucketSize(n)
	out := make([][2]int, 0, min(n, maxPoints))
	for lo := 0; lo < n; lo += size {
		out = append(out, [2]int{lo, min(lo+size, n)})
	}
	return out
}

// bucketSize is the number of items in each bucket of a series of n.
func bucketSize(n int) int { return max(1, (n+maxPoints-1)/maxPoints) }

// secondsDur converts seconds to a duration.
func secondsDur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// latencySeries holds per-interval percentiles of a time metric in
// milliseconds.
type latencySeries struct {
	x                  []float64
	p50, p90, p99, max []float64
	perBucket          int // intervals per point
}

// overTime computes the percentiles of the interval histograms tagged
// tag (an overall metric: latency, ttft, tpot), keeping each bucket's
// maximum so that spikes survive downsampling.
func overTime(ivs []analyze.IntervalStats, tag string, ax timeAxis) latencySeries {
	var lat []analyze.IntervalStats
	for _, iv := range ivs {
		if iv.Tag == tag && iv.Count > 0 {
			lat = append(lat, iv)
		}
	}
	s := latencySeries{perBucket: bucketSize(len(lat))}
	for _, b := range bucketRanges(len(lat)) {
		var q [4]float64
		for _, iv := range lat[b[0]:b[1]] {
			for i, x := range [4]float64{iv.P50, iv.P90, iv.P99, iv.Max} {
				q[i] = math.Max(q[i], x)
			}
		}
		first, last := lat[b[0]], lat[b[1]-1]
		s.x = append(s.x, ax.at(first.Start.Add(last.End.Sub(first.Start)/2)))
		s.p50, s.p90, s.p99, s.max = append(s.p50, q[0]), append(s.p90, q[1]), append(s.p99, q[2]), append(s.max, q[3])
	}
	return s
}

func toXYs(x, y []float64) plotter.XYs {
	out := make(plotter.XYs, len(x))
	for i := range x {
		out[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	return out
}

// rateSeries holds completion, failure and drop rates per second.
type rateSeries struct {
	x, done, failed, dropped []float64
	// counts is set when the rates come from the timeline, which has
	// failures and drops; latency interval counts have neither.
	counts    bool
	perBucket int // intervals per point
}

// ratesFromTimeline averages the timeline's rates over each bucket.
func ratesFromTimeline(tl []analyze.TimelinePoint, ax timeAxis) rateSeries {
	s := rateSeries{counts: true, perBucket: bucketSize(len(tl))}
	for _, b := range bucketRanges(len(tl)) {
		var done, failed, dropped int64
		for _, p := range tl[b[0]:b[1]] {
			done, failed, dropped = done+p.Requests, failed+p.Failed, dropped+p.Dropped
		}
		lo, hi := tl[b[0]].StartS, tl[b[1]-1].EndS
		d := hi - lo
		if d <= 0 {
			continue
		}
		s.x = append(s.x, (lo+hi)/2/ax.div)
		s.done = append(s.done, float64(done)/d)
		s.failed = append(s.failed, float64(failed)/d)
		s.dropped = append(s.dropped, float64(dropped)/d)
	}
	return s
}

// ratesFromIntervals derives the completion rate from the overall latency
// interval histograms, for runs without a timeline.
func ratesFromIntervals(ivs []analyze.IntervalStats, ax timeAxis) rateSeries {
	var tl []analyze.TimelinePoint
	for _, iv := range ivs {
		if iv.Tag == analyze.MetricLatency {
			tl = append(tl, analyze.TimelinePoint{
				StartS: iv.Start.Sub(ax.start).Seconds(), EndS: iv.End.Sub(ax.start).Seconds(),
				Counts: analyze.Counts{Requests: iv.Count},
			})
		}
	}
	s := ratesFromTimeline(tl, ax)
	s.counts = false
	return s
}

// percentileSpectrum is the percentile spectrum of h in HdrHistogram's style: x is
// 1/(1−q), so that 90 %, 99 %, 99.9 % … are equally spaced on a log axis;
// y is the value at q divided by scale.
func percentileSpectrum(h *hdr.Histogram, scale float64) plotter.XYs {
	n := h.TotalCount()
	if n == 0 {
		return nil
	}
	// At least one decade, so that the log axis has a range however few
	// values there are.
	xmax := math.Max(10, math.Min(float64(n), math.Pow(10, maxNines)))
	pcts := make([]float64, 0, spectrumPoints+1)
	xs := make([]float64, 0, spectrumPoints+1)
	for i := range spectrumPoints + 1 {
		x := math.Pow(xmax, float64(i)/spectrumPoints)
		xs = append(xs, x)
		pcts = append(pcts, 100*(1-1/x))
	}
	vs := h.ValueAtPercentilesSlice(pcts)
	out := make(plotter.XYs, len(xs))
	for i, x := range xs {
		out[i] = plotter.XY{X: x, Y: float64(vs[i]) / scale}
	}
	return out
}

// ninesTicks labels a spectrum's x axis 0 %, 90 %, 99 %, 99.9 % …
type ninesTicks struct{}

var _ plot.Ticker = ninesTicks{}

// Ticks returns one tick per power of ten between min and max.
func (ninesTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for k := 0; math.Pow(10, float64(k)) <= hi*1.0001; k++ {
		x := math.Pow(10, float64(k))
		if x < lo {
			continue
		}
		ts = append(ts, plot.Tick{Value: x, Label: ninesLabel(k)})
	}
	return ts
}

// ninesLabel is the percentile of 1/(1−q) = 10^k: 0 %, 90 %, 99 %, 99.9 %.
func ninesLabel(k int) string {
	if k == 0 {
		return "0%"
	}
	return strconv.FormatFloat(100-100/math.Pow(10, float64(k)), 'f', max(0, k-2), 64) + "%"
}
