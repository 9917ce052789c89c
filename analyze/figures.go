package analyze

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseSLO parses an SLO written as comma-separated METRIC=DURATION limits,
// "ttft=300ms,tpot=50ms" (the --slo flag); "<=" may stand for "=". The
// metrics are those of GoodputMetrics, each at most once, the durations
// from 1µs to 1h.
func ParseSLO(s string) (SLO, error) {
	limits := map[string]float64{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		name, lim, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(name), "<"))
		if !ok || name == "" {
			return SLO{}, fmt.Errorf("%w: SLO part %q: want METRIC=DURATION (ttft=300ms)", ErrGates, part)
		}
		if _, dup := limits[name]; dup {
			return SLO{}, fmt.Errorf("%w: SLO metric %q given twice", ErrGates, name)
		}
		d, err := parseLimit(strings.TrimSpace(lim))
		if err != nil || d < time.Microsecond || d > time.Hour {
			return SLO{}, fmt.Errorf("%w: SLO limit %s: %q is not a duration from 1µs to 1h (300ms, 1.5s)", ErrGates, name, lim)
		}
		limits[name] = float64(d) / float64(time.Millisecond)
	}
	return NewSLO(limits)
}

// parseLimit parses a Go duration, or milliseconds as SLO.Key writes them
// ("1.2e+06ms").
func parseLimit(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err == nil {
		return d, nil
	}
	if ms, ok := strings.CutSuffix(s, "ms"); ok {
		v, ferr := strconv.ParseFloat(ms, 64)
		if ferr == nil && v >= 0 && v <= float64(time.Hour/time.Millisecond) {
			return time.Duration(v * float64(time.Millisecond)), nil
		}
	}
	return 0, err
}

// HistPercentile returns percentile pct (0–100) of metric in group from
// the run's cumulative histograms, in the metric's reporting unit as
// MetricStats rounds it; ok is false when d is nil or has no such
// histogram.
func (d *RunData) HistPercentile(group, metric string, pct float64) (v float64, ok bool) {
	m, known := metricByName(metric)
	if d == nil || !known {
		return 0, false
	}
	h := d.Histogram(group, metric)
	if h == nil || h.TotalCount() == 0 {
		return 0, false
	}
	return roundTo(float64(h.ValueAtPercentile(pct))/unitScale(m), 3), true
}
