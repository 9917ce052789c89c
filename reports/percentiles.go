package reports

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gonogo-dev/gonogo/analyze"
)

// DefaultPercentiles are the percentiles the text summary and the HTML
// report show when the run was given none (--percentiles); a max column
// follows them.
var DefaultPercentiles = []float64{50, 90, 99}

// ErrPercentiles reports a --percentiles list that does not parse.
var ErrPercentiles = errors.New("reports: bad percentile list")

// ParsePercentiles parses a comma-separated list of percentiles in (0,
// 100) such as "50,90,99,99.9": at most analyze.MaxPercentiles, no
// duplicates, returned in increasing order.
func ParsePercentiles(s string) ([]float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrPercentiles)
	}
	parts := strings.Split(s, ",")
	if len(parts) > analyze.MaxPercentiles {
		return nil, fmt.Errorf("%w: %d percentiles, at most %d", ErrPercentiles, len(parts), analyze.MaxPercentiles)
	}
	out := make([]float64, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimPrefix(strings.TrimSpace(p), "p")
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || !(v > 0 && v < 100) {
			return nil, fmt.Errorf("%w: %q is not a percentile in (0, 100)", ErrPercentiles, p)
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("%w: %q given twice", ErrPercentiles, p)
		}
		out = append(out, v)
	}
	sort.Float64s(out)
	return out, nil
}

// percentilesOf returns the percentiles run asked for, else
// DefaultPercentiles.
func percentilesOf(run *Run) []float64 {
	if run != nil && len(run.Percentiles) > 0 {
		return run.Percentiles
	}
	return DefaultPercentiles
}

// runPercentiles returns the percentiles run asked for; nil when none.
func runPercentiles(run *Run) []float64 {
	if run == nil {
		return nil
	}
	return run.Percentiles
}

// pctHeader names percentile p in a table heading: "p99.9".
func pctHeader(p float64) string { return "p" + analyze.PercentileKey(p) }

// pctCell formats percentile p of metric in st with prec decimals, "–"
// when the stats do not hold it (a run.json from before the percentile was
// asked for).
func pctCell(st *analyze.Stats, metric string, p float64, prec int) string {
	v, ok := st.Percentile(metric, p)
	if !ok {
		return "–"
	}
	return fmtNum(v, prec)
}

// writeGoodput prints the goodput figures of every SLO the run counted:
// the share of arrivals that met it and their rate.
func writeGoodput(ew *errWriter, st *analyze.Stats) {
	keys := make([]string, 0, len(st.Goodput))
	for k := range st.Goodput {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line := fmt.Sprintf("  goodput %s: %d met", k, st.Goodput[k])
		if share, ok := st.GoodputShares[k]; ok {
			line += " · " + fmtNum(100*share, 2) + " % of arrivals"
		}
		if rate, ok := st.GoodputPerSec[k]; ok {
			line += " · " + fmtNum(rate, 2) + " req/s"
		}
		ew.printf("%s\n", line)
	}
}
