package analyze

import (
	"fmt"
	"io"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo"
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
	Divergence *DivergenceReport
	// Goodput counts the requests of a group (Overall or ScenarioGroup)
	// that met every SLO (metric name → limit in milliseconds), from the
	// run's per-request samples; nil when the run kept none. Failed and
	// dropped requests miss; a request without a metric (tpot of a
	// one-token answer) is not held to that SLO; when no request has it,
	// the error wraps ErrNoSLOData.
	Goodput func(group string, sloMs map[string]float64) (met, total int64, err error)

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
	return d.Hists[logKey(group, metric)]
}

// logKey is the HistKey under which a group's histogram was logged: the
// interval log writes scenario names with separators replaced.
func logKey(group, metric string) string {
	if name, ok := strings.CutPrefix(group, "scenario:"); ok {
		group = ScenarioGroup(logTagPart(name))
	}
	return HistKey(group, metric)
}

// groupOfTag maps an interval log tag ("latency", "stress/latency") to a
// group and metric.
func groupOfTag(tag string) (group, metric string) {
	if i := strings.LastIndexByte(tag, '/'); i >= 0 {
		return ScenarioGroup(tag[:i]), tag[i+1:]
	}
	return Overall, tag
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

// Cumulative merges interval histograms into one histogram per group and
// metric, keyed by HistKey. Merging is exact.
func Cumulative(ivs []Interval) map[string]*hdr.Histogram {
	out := make(map[string]*hdr.Histogram)
	for _, iv := range ivs {
		mergeInto(out, iv)
	}
	return out
}

// AttachHistograms lets thresholds on s use any percentile of the
// cumulative histograms hs (keyed by HistKey), not only those stored in
// run.json.
func (s *Summary) AttachHistograms(hs map[string]*hdr.Histogram) {
	s.hist = func(group, metric string) *hdr.Histogram { return hs[logKey(group, metric)] }
}

// CumulativeLogFile is the conventional name, in a run directory, of the
// cumulative histograms: one per group and metric over the whole run, in
// the interval log format, so that verdicts need not merge every interval.
const CumulativeLogFile = "histograms.hlog"

// WriteCumulative writes the run's cumulative histograms of the overall
// group and of every scenario (tags as in the interval log) to w, each
// spanning the run from its start to its end (Close's time).
func (r *Recorder) WriteCumulative(w io.Writer) error {
	r.mu.Lock()
	end := r.ended
	groups := append([]*group{&r.overall}, r.scenOrder...)
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
			h.SetTag(g.logTag[m])
			h.SetStartTimeMs(startMs)
			h.SetEndTimeMs(max(end.UnixMilli(), startMs))
			err = lw.OutputIntervalHistogram(h)
		}
	}
	if err != nil {
		return fmt.Errorf("analyze: write %s: %w", CumulativeLogFile, err)
	}
	return nil
}
