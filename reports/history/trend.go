package history

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo/analyze"
)

// The regression rule of Trend.
const (
	// regressionMinPct is the smallest rise over the median, in percent,
	// that counts as a regression however steady the history.
	regressionMinPct = 10
	// regressionMADs is the rise over the median, in median absolute
	// deviations, that counts as a regression in a noisy history.
	regressionMADs = 3
	// minTrendHistory is the fewest preceding points a point is judged
	// against.
	minTrendHistory = 3
)

// TrendPoint is one run's value in a trend.
type TrendPoint struct {
	ID      string            `json:"id"`
	Started time.Time         `json:"started"`
	Labels  map[string]string `json:"labels,omitempty"`
	Verdict analyze.Decision  `json:"verdict,omitempty"`
	// Value is the percentile in milliseconds, or in tokens for
	// output_tokens.
	Value float64 `json:"value"`
	// Median is the median of the preceding points Value was judged
	// against, zero when fewer than three precede it.
	Median float64 `json:"median,omitempty"`
	// Regression is true when Value rose beyond the rule of Trend.
	Regression bool `json:"regression"`
}

// Trend returns the quantilePct percentile (0 < quantilePct ≤ 100) of a
// metric for a group (analyze.Overall or analyze.ScenarioGroup(name)) over
// the last n runs that match f and have it, oldest first. Values come from
// the stored histograms; for runs recorded without them, the overall
// latency p50 and p99 come from the listing columns. f.Limit is ignored.
//
// A point is flagged as a Regression when it exceeds the median of the up
// to n points before it (runs older than the window count too) by more
// than the larger of 10 % of that median and 3 median absolute deviations
// of those points: the 10 % floor keeps a steady history from flagging
// noise, the MAD term lets a noisy one wobble. A point with fewer than
// three points before it is not judged. A rise is what is flagged, for
// every metric.
func (db *DB) Trend(f Filter, group, metric string, quantilePct float64, n int) ([]TrendPoint, error) {
	if !slices.Contains(analyze.Metrics, metric) {
		return nil, fmt.Errorf("history: trend: unknown metric %q", metric)
	}
	if !(quantilePct > 0 && quantilePct <= 100) {
		return nil, fmt.Errorf("history: trend: quantile %v outside (0, 100]", quantilePct)
	}
	if n <= 0 {
		return nil, fmt.Errorf("history: trend: %d runs asked for", n)
	}
	// The listing columns stand in for missing histograms where they hold
	// the value asked for.
	column := "NULL"
	if group == analyze.Overall && metric == analyze.MetricLatency {
		switch quantilePct {
		case 50:
			column = "runs.p50_ms"
		case 99:
			column = "runs.p99_ms"
		}
	}
	conds, args := f.conds()
	conds = append(conds, `(run_hists.hist IS NOT NULL OR `+column+` IS NOT NULL)`)
	args = append([]any{analyze.HistKey(group, metric)}, args...)
	// Twice the window, so that the oldest points shown are judged against
	// a full history too.
	args = append(args, 2*n)
	rows, err := db.db.Query(`SELECT runs.id, runs.started_ns, runs.labels, runs.verdict, run_hists.hist, `+column+`
		FROM runs LEFT JOIN run_hists ON run_hists.run_id = runs.id AND run_hists.key = ?`+
		where(conds)+` ORDER BY runs.started_ns DESC, runs.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("history: trend %s: %w", db.path, err)
	}
	defer rows.Close()
	scale := 1000.0 // µs → ms
	if metric == analyze.MetricOutputTokens {
		scale = 1
	}
	var points []TrendPoint
	for rows.Next() {
		var (
			p         TrendPoint
			startedNs int64
			labels    string
			verdict   sql.NullString
			hist      []byte
			fallback  sql.NullFloat64
		)
		if err := rows.Scan(&p.ID, &startedNs, &labels, &verdict, &hist, &fallback); err != nil {
			return nil, fmt.Errorf("history: trend %s: %w", db.path, err)
		}
		p.Started = time.Unix(0, startedNs).UTC()
		p.Verdict = analyze.Decision(verdict.String)
		if err := json.Unmarshal([]byte(labels), &p.Labels); err != nil {
			return nil, fmt.Errorf("history: run %s: labels: %w", p.ID, err)
		}
		if hist != nil {
			h, err := hdr.Decode(hist)
			if err != nil {
				return nil, fmt.Errorf("history: run %s: histogram %s: %w", p.ID, analyze.HistKey(group, metric), err)
			}
			if h.TotalCount() == 0 {
				continue
			}
			p.Value = float64(h.ValueAtQuantile(quantilePct)) / scale
		} else {
			p.Value = fallback.Float64
		}
		points = append(points, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: trend %s: %w", db.path, err)
	}
	slices.Reverse(points)
	judge(points, n)
	if len(points) > n {
		points = points[len(points)-n:]
	}
	return points, nil
}

// judge sets Median and Regression of each point against the up to window
// points before it, by the rule of Trend: a rise is a regression.
func judge(points []TrendPoint, window int) {
	vals := make([]float64, len(points))
	for i, p := range points {
		vals[i] = p.Value
	}
	judgeSeries(vals, window, false, func(i int, med float64, flagged bool) {
		points[i].Median, points[i].Regression = med, flagged
	})
}

// judgeSeries judges each of vals against the up to window values before
// it, by the rule of Trend (a rise beyond the larger of 10 % of their
// median and 3 median absolute deviations), or by its mirror when falls
// is set (a fall beyond it), and calls set for each value with at least
// three before it.
func judgeSeries(vals []float64, window int, falls bool, set func(i int, median float64, flagged bool)) {
	for i, v := range vals {
		prior := slices.Clone(vals[max(0, i-window):i])
		if len(prior) < minTrendHistory {
			continue
		}
		med := median(prior)
		for j, p := range prior {
			prior[j] = math.Abs(p - med)
		}
		margin := max(math.Abs(med)*regressionMinPct/100, regressionMADs*median(prior))
		if falls {
			set(i, med, v < med-margin)
		} else {
			set(i, med, v > med+margin)
		}
	}
}

// median returns the median of vs, reordering vs.
func median(vs []float64) float64 {
	slices.Sort(vs)
	m := len(vs) / 2
	if len(vs)%2 == 1 {
		return vs[m]
	}
	return (vs[m-1] + vs[m]) / 2
}
