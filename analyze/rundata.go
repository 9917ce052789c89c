package analyze

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/rundir"
)

// RunData is what verdicts and reports need of one stored run: its summary,
// its interval histograms and their cumulative merge, and, for a shadow
// run, its divergence report. reports.LoadRun builds it from a run
// directory; the run history builds it from its database.
type RunData struct {
	ID string
	// Dir is the run directory, empty for a run read from the history.
	Dir     string
	Summary *Summary
	// Intervals digest the overall latency interval histograms in log
	// order, for charts over time; nil when only the cumulative histograms
	// were stored.
	Intervals []IntervalStats
	// Hists holds cumulative histograms by HistKey(group, metric).
	Hists map[string]*hdr.Histogram
	// Timeline holds per-interval counts and Events what happened during
	// the run; both nil when the run directory has none.
	Timeline []TimelinePoint
	Events   []gonogo.Event
	// Divergence is the shadow run's divergence report, nil for others.
	Divergence *divergence.Report
	// Goodput counts the requests of a group (Overall or ScenarioGroup)
	// that met an SLO, from the run's per-request samples, for SLOs the
	// run did not count live; nil when the run kept no samples. Failed and
	// dropped requests miss; a request without a metric (tpot of a
	// one-token answer) is not held to that SLO; when no request has it,
	// the error wraps ErrNoSLOData.
	Goodput func(group string, slo SLO) (met, total int64, err error)
	// Slices reads the run's intervals for windowed gates, with the
	// histograms keep asks for (by group key and metric name; nil keeps
	// none); nil when the run has none to give.
	Slices func(keep func(group, metric string) bool) ([]*Slice, error)
	// SLOs are the SLOs the run counted live (Stats.Goodput), in the order
	// of the run's timeline.
	SLOs []SLO
	// Partial is set when the run ended early or never ended (interrupted,
	// aborted, killed): a verdict on it is never a go.
	Partial string

	// hist merges a window's histograms on demand (WindowOf).
	hist func(group, metric string) *hdr.Histogram
	// missing says why there is no baseline (MissingBaseline).
	missing string
}

// MissingBaseline stands for a baseline that was asked for but does not
// exist yet (no go run in the history): Judge makes every relative gate
// inconclusive with this reason instead of failing the whole verdict, so
// that a first nightly run can still be judged and become the baseline.
func MissingBaseline(reason string) *RunData { return &RunData{missing: reason} }

// HistKey is the key of RunData.Hists for a group (Overall or
// ScenarioGroup(name)) and a metric.
func HistKey(group, metric string) string { return group + "|" + metric }

// Histogram returns the cumulative histogram of a metric for a group, or
// nil when the run has none.
func (d *RunData) Histogram(group, metric string) *hdr.Histogram {
	if d.hist != nil {
		return d.hist(group, metric)
	}
	return d.Hists[logKey(group, metric)]
}

// logKey is the HistKey under which a group's histogram comes back from
// an interval log: the log writes names with separators replaced.
func logKey(group, metric string) string {
	m, ok := metricByName(metric)
	if !ok {
		return HistKey(group, metric)
	}
	g, _ := groupOfTag(logTag(group, m))
	return HistKey(g, metric)
}

// IntervalStats is the digest of one interval histogram: what reports
// draw over time. Values are in the metric's unit (milliseconds for time
// metrics, tokens for output_tokens).
type IntervalStats struct {
	Tag        string
	Start, End time.Time
	Count      int64
	P50, P90   float64
	P99, Max   float64
}

// StatsOf digests one interval.
func StatsOf(iv Interval) IntervalStats {
	_, m := groupOfTag(iv.Tag)
	scale := 1.0
	if id, ok := metricByName(m); ok {
		scale = unitScale(id)
	}
	h := iv.Histogram
	st := IntervalStats{Tag: iv.Tag, Start: iv.Start, End: iv.End, Count: h.TotalCount()}
	if st.Count > 0 {
		v := h.ValueAtPercentilesSlice([]float64{50, 90, 99})
		st.P50, st.P90, st.P99 = float64(v[0])/scale, float64(v[1])/scale, float64(v[2])/scale
		st.Max = float64(h.Max()) / scale
	}
	return st
}

// LoadIntervals reads an interval log into digests of the overall
// latency intervals and, when merge is set, cumulative histograms of every
// tag (keyed by HistKey; nil otherwise). It holds one interval histogram
// at a time, and without merge decodes only the overall latency lines:
// memory grows by a few dozen bytes per interval, not by a histogram.
func LoadIntervals(r io.Reader, merge bool) ([]IntervalStats, map[string]*hdr.Histogram, error) {
	var stats []IntervalStats
	var cum map[string]*hdr.Histogram
	if merge {
		cum = make(map[string]*hdr.Histogram)
	}
	keep := func(tag string) bool { return merge || tag == MetricLatency }
	err := ReadIntervalLogFunc(r, keep, func(iv Interval) error {
		if iv.Tag == MetricLatency {
			stats = append(stats, StatsOf(iv))
		}
		if merge {
			mergeInto(cum, iv)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return stats, cum, nil
}

// ReadCumulative reads a histograms.hlog (or any interval log) into
// histograms keyed by HistKey, merging those of the same tag.
func ReadCumulative(r io.Reader) (map[string]*hdr.Histogram, error) {
	cum := make(map[string]*hdr.Histogram)
	err := ReadIntervalLogFunc(r, nil, func(iv Interval) error {
		mergeInto(cum, iv)
		return nil
	})
	return cum, err
}

// mergeInto adds an interval to the cumulative histograms.
func mergeInto(cum map[string]*hdr.Histogram, iv Interval) {
	g, m := groupOfTag(iv.Tag)
	id, ok := metricByName(m)
	if !ok {
		return // a tag of another tool's log
	}
	k := HistKey(g, m)
	h := cum[k]
	if h == nil {
		h = newHist(id)
		cum[k] = h
	}
	h.Merge(iv.Histogram)
}

// AttachHistograms lets thresholds on s use any percentile of the
// cumulative histograms hs (keyed by HistKey), not only those stored in
// run.json.
func (s *Summary) AttachHistograms(hs map[string]*hdr.Histogram) {
	s.hist = func(group, metric string) *hdr.Histogram { return hs[logKey(group, metric)] }
}

// WriteCumulative writes the run's cumulative histograms of every group
// (overall, scenarios, tags; tags as in the interval log) to w, each
// spanning the run from its start to its end (Close's time).
func (r *Recorder) WriteCumulative(w io.Writer) error {
	r.mu.Lock()
	end := r.ended
	groups := slices.Concat(r.dense, r.tagOrder)
	r.mu.Unlock()
	lw, err := newLogWriter(w, r.start)
	startMs := r.start.UnixMilli()
	for _, g := range groups {
		for m := range numMetrics {
			if err != nil {
				break
			}
			r.mu.Lock()
			h := g.hist(m, true)
			r.mu.Unlock()
			if h == nil || h.TotalCount() == 0 {
				continue
			}
			h.SetTag(g.tags[m])
			h.SetStartTimeMs(startMs)
			h.SetEndTimeMs(max(end.UnixMilli(), startMs))
			err = lw.OutputIntervalHistogram(h)
		}
	}
	if err != nil {
		return fmt.Errorf("analyze: write %s: %w", rundir.Cumulative, err)
	}
	return nil
}

// SummaryOfIntervals rebuilds the summary of a run that wrote none (it was
// killed): the counts of every group from its timeline, the digests of its
// metrics from hs, its cumulative histograms (keyed by HistKey, as
// LoadIntervals merges them from the interval log), which the summary
// keeps for thresholds. Rates are per second of the timeline's span.
func SummaryOfIntervals(points []TimelinePoint, start time.Time, hs map[string]*hdr.Histogram) *Summary {
	slices, _ := ReadSlices(points, start, nil, nil)
	s := WindowOf(slices, nil).Summary
	if len(slices) == 0 {
		s.Started, s.Ended = start, start
	}
	s.AttachHistograms(hs)
	digest := func(group string, st *Stats) {
		for m := range numMetrics {
			st.setMetric(m, metricStats(s.hist(group, metricNames[m]), m))
		}
	}
	digest(Overall, &s.Overall)
	for name, st := range s.Scenarios {
		digest(ScenarioGroup(name), &st)
		s.Scenarios[name] = st
	}
	for kv, st := range s.Tags {
		k, v, _ := strings.Cut(kv, "=")
		digest(TagGroup(k, v), &st)
		s.Tags[kv] = st
	}
	return s
}
