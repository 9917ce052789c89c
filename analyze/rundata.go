package analyze

import (
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
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
	// Intervals are the interval histograms in log order; nil when only
	// the cumulative histograms were stored.
	Intervals []Interval
	// Hists holds cumulative histograms by HistKey(group, metric).
	Hists map[string]*hdr.Histogram
	// Timeline holds per-interval counts and Events what happened during
	// the run; both nil when the run directory has none.
	Timeline []TimelinePoint
	Events   []Event
	// Divergence is the shadow run's divergence report, nil for others.
	Divergence *DivergenceReport
	// Goodput counts the requests of a group (Overall or ScenarioGroup)
	// that met every SLO (metric name → limit in milliseconds), from the
	// run's per-request samples; nil when the run kept none.
	Goodput func(group string, sloMs map[string]float64) (met, total int64, err error)
}

// HistKey is the key of RunData.Hists for a group (Overall or
// ScenarioGroup(name)) and a metric.
func HistKey(group, metric string) string { return group + "|" + metric }

// Histogram returns the cumulative histogram of a metric for a group, or
// nil when the run has none.
func (d *RunData) Histogram(group, metric string) *hdr.Histogram {
	return d.Hists[HistKey(group, metric)]
}

// groupOfTag maps an interval log tag ("latency", "stress/latency") to a
// group and metric.
func groupOfTag(tag string) (group, metric string) {
	if i := strings.LastIndexByte(tag, '/'); i >= 0 {
		return ScenarioGroup(tag[:i]), tag[i+1:]
	}
	return Overall, tag
}

// Cumulative merges interval histograms into one histogram per group and
// metric, keyed by HistKey. Merging is exact.
func Cumulative(ivs []Interval) map[string]*hdr.Histogram {
	out := make(map[string]*hdr.Histogram)
	for _, iv := range ivs {
		g, m := groupOfTag(iv.Tag)
		id, ok := metricByName(m)
		if !ok {
			continue // a tag of another tool's log
		}
		k := HistKey(g, m)
		h := out[k]
		if h == nil {
			h = newHist(id)
			out[k] = h
		}
		h.Merge(iv.Histogram)
	}
	return out
}

// AttachHistograms lets thresholds on s use any percentile of the
// cumulative histograms hs (keyed by HistKey), not only those stored in
// run.json.
func (s *Summary) AttachHistograms(hs map[string]*hdr.Histogram) {
	s.hist = func(group, metric string) *hdr.Histogram { return hs[HistKey(group, metric)] }
}
