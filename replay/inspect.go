package replay

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Stats describes a trace: its size, its arrival pattern and its token
// distributions. Inspect computes it; WriteText prints it for a terminal
// and its JSON form serves `--json`.
type Stats struct {
	// Trace names the trace; Inspect leaves it empty for the caller.
	Trace string `json:"trace,omitempty"`
	// Rows is the number of valid rows, Skipped the malformed rows the
	// reader skipped, SkippedFirst the first of those (at most
	// MaxKeptSkips), as messages naming file, line and field.
	Rows         int64    `json:"rows"`
	Skipped      int64    `json:"skipped"`
	SkippedFirst []string `json:"skipped_first,omitempty"`
	// TimeFormat is the timestamp format the reader took (see
	// TimeReader); TimeDetected says it was detected from the data.
	// Empty when the reader does not say.
	TimeFormat   string `json:"time_format,omitempty"`
	TimeDetected bool   `json:"time_format_detected,omitempty"`
	// Warnings are what Open found doubtful about the trace (see the
	// function Warnings): a unit inferred, an implausible rate.
	Warnings []string `json:"warnings,omitempty"`
	// SpanSec is the time from the first row to the last, in seconds.
	SpanSec float64 `json:"span_s"`
	// MeanRatePerSec is Rows / SpanSec; 0 when the span is 0.
	MeanRatePerSec float64 `json:"mean_rate_per_s"`
	// Burstiness is the coefficient of variation (population standard
	// deviation / mean) of the inter-arrival times: about 1 for a Poisson
	// process, 0 for evenly spaced arrivals, above 1 for bursty traffic.
	// 0 when there are fewer than two gaps or the mean gap is 0.
	Burstiness float64 `json:"burstiness_cv"`
	// PeakAligned1s is the largest number of arrivals in one aligned 1 s
	// bin [k s, k+1 s) counted from the first row; PeakSliding1s the
	// largest in any window [t, t+1 s).
	PeakAligned1s int64 `json:"peak_aligned_1s"`
	PeakSliding1s int64 `json:"peak_sliding_1s"`
	// Input and Output describe the token counts; nil when the trace
	// records none (every row 0).
	Input  *TokenStats `json:"input_tokens,omitempty"`
	Output *TokenStats `json:"output_tokens,omitempty"`
	// Spearman is the rank correlation of the input and output token
	// counts (ties get average ranks); nil when either is missing or
	// constant.
	Spearman *float64 `json:"spearman_input_output,omitempty"`
}

// TokenStats describes one token count over every row: exact nearest-rank
// percentiles (the smallest value with at least p % of the rows at or
// below it), the mean, and a histogram.
type TokenStats struct {
	Min  int     `json:"min"`
	P50  int     `json:"p50"`
	P90  int     `json:"p90"`
	P99  int     `json:"p99"`
	Max  int     `json:"max"`
	Mean float64 `json:"mean"`
	// Histogram counts rows in power-of-two bins, [0,0], [1,1], [2,3],
	// [4,7], …, from the minimum's bin to the maximum's.
	Histogram []HistBin `json:"histogram"`
}

// HistBin is one histogram bin: the rows whose value v has Lo ≤ v ≤ Hi.
type HistBin struct {
	Lo    int   `json:"lo"`
	Hi    int   `json:"hi"`
	Count int64 `json:"count"`
}

// Inspect reads r to the end and describes it, with the timestamp format
// and the warnings of a reader that reports them (TimeReader, Warnings). It keeps two token counts
// per row (8 bytes) for the exact percentiles and the rank correlation;
// everything else is computed in one streaming pass. It fails on the
// reader's first error other than io.EOF (a *RowError when the reader is
// strict), and when rows go back in time.
func Inspect(r Reader) (*Stats, error) {
	if IsEndless(r) {
		return nil, ErrEndless
	}
	var (
		s        = &Stats{}
		in, out  []int32
		anyIn    bool
		anyOut   bool
		first    time.Duration
		prev     time.Duration
		prevLine int64
		gaps     gapMoments
		bin      int64 = -1
		binCount int64
		window   []time.Duration // arrivals of the last second, from head
		head     int
		row      Row
	)
	for {
		row = Row{}
		err := r.Next(&row)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		off := row.Offset
		if s.Rows == 0 {
			first = off
		} else {
			if off < prev {
				return nil, fmt.Errorf("%w: line %d is %s earlier than line %d: rows must be in time order", ErrFormat, row.Line, prev-off, prevLine)
			}
			gaps.add(float64(off - prev))
		}
		prev, prevLine = off, row.Line
		s.Rows++

		if b := int64((off - first) / time.Second); b != bin {
			bin, binCount = b, 0
		}
		binCount++
		s.PeakAligned1s = max(s.PeakAligned1s, binCount)

		window = append(window, off)
		for window[head] <= off-time.Second {
			head++
		}
		s.PeakSliding1s = max(s.PeakSliding1s, int64(len(window)-head))
		if head > 1024 && head > len(window)/2 {
			window = window[:copy(window, window[head:])]
			head = 0
		}

		in = append(in, int32(min(row.InputTokens, math.MaxInt32)))
		out = append(out, int32(min(row.OutputTokens, math.MaxInt32)))
		anyIn = anyIn || row.InputTokens != 0
		anyOut = anyOut || row.OutputTokens != 0
	}
	if tr, ok := r.(TimeReader); ok {
		s.TimeFormat, s.TimeDetected = tr.TimeFormat(), tr.TimeDetected()
	}
	s.Warnings = Warnings(r)
	sk := r.Skipped()
	s.Skipped = sk.Count
	for _, e := range sk.First {
		s.SkippedFirst = append(s.SkippedFirst, e.Error())
	}
	if s.Rows == 0 {
		return s, nil
	}
	s.SpanSec = (prev - first).Seconds()
	if s.SpanSec > 0 {
		s.MeanRatePerSec = float64(s.Rows) / s.SpanSec
	}
	if gaps.n >= 2 && gaps.mean > 0 {
		s.Burstiness = math.Sqrt(gaps.m2/float64(gaps.n)) / gaps.mean
	}
	if anyIn && anyOut {
		if rho, ok := spearmanRho(in, out); ok {
			s.Spearman = &rho
		}
	}
	if anyIn {
		s.Input = describeTokens(in)
	}
	if anyOut {
		s.Output = describeTokens(out)
	}
	return s, nil
}

// gapMoments keeps a running mean and sum of squared deviations.
type gapMoments struct {
	n        int64
	mean, m2 float64
}

func (w *gapMoments) add(x float64) {
	w.n++
	d := x - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (x - w.mean)
}

// describeTokens sorts v (in place) and describes it.
func describeTokens(v []int32) *TokenStats {
	slices.Sort(v)
	n := len(v)
	rank := func(pct int) int { // nearest rank: ceil(pct/100·n), from 1
		return int(v[max((pct*n+99)/100, 1)-1])
	}
	var sum float64
	for _, x := range v {
		sum += float64(x)
	}
	t := &TokenStats{
		Min: int(v[0]), P50: rank(50), P90: rank(90), P99: rank(99), Max: int(v[n-1]),
		Mean: sum / float64(n),
	}
	for lo, hi := tokenBin(t.Min); ; lo, hi = hi+1, 2*hi+1 {
		a := sort.Search(n, func(i int) bool { return int(v[i]) >= lo })
		b := sort.Search(n, func(i int) bool { return int(v[i]) > hi })
		t.Histogram = append(t.Histogram, HistBin{Lo: lo, Hi: hi, Count: int64(b - a)})
		if hi >= t.Max {
			break
		}
	}
	return t
}

// tokenBin returns the power-of-two bin holding x: [0,0], [1,1], [2,3], …
func tokenBin(x int) (lo, hi int) {
	if x <= 0 {
		return 0, 0
	}
	lo = 1
	for lo*2 <= x {
		lo *= 2
	}
	return lo, 2*lo - 1
}

// spearmanRho is the Pearson correlation of the average ranks of x and y.
func spearmanRho(x, y []int32) (float64, bool) {
	rx, ry := avgRanks(x), avgRanks(y)
	n := float64(len(rx))
	mean := (n + 1) / 2
	var sxy, sxx, syy float64
	for i := range rx {
		dx, dy := rx[i]-mean, ry[i]-mean
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0, false
	}
	return sxy / math.Sqrt(sxx*syy), true
}

// avgRanks returns the 1-based ranks of v, ties sharing their average rank.
func avgRanks(v []int32) []float64 {
	idx := make([]int32, len(v))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return int(v[a]) - int(v[b]) })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// WriteText prints the statistics for a terminal: aligned figures, a token
// table and a histogram of each token count.
func (s *Stats) WriteText(w io.Writer) error {
	var b strings.Builder
	kv := func(k, format string, a ...any) { fmt.Fprintf(&b, "%-12s %s\n", k, fmt.Sprintf(format, a...)) }
	if s.Trace != "" {
		kv("trace", "%s", s.Trace)
	}
	skipped := ""
	if s.Skipped > 0 {
		skipped = fmt.Sprintf("  (%s malformed rows skipped)", thousands(s.Skipped))
		if s.Skipped == 1 {
			skipped = "  (1 malformed row skipped)"
		}
	}
	kv("rows", "%s%s", thousands(s.Rows), skipped)
	if s.TimeFormat != "" {
		how := ""
		if s.TimeDetected {
			how = "  (detected from the data; --time-format sets it)"
		}
		kv("timestamps", "%s%s", s.TimeFormat, how)
	}
	for _, w := range s.Warnings {
		kv("warning", "%s", w)
	}
	if s.Rows > 0 {
		kv("span", "%s s", thousandsFloat(s.SpanSec, 1))
		kv("mean rate", "%s req/s", thousandsFloat(s.MeanRatePerSec, 3))
		kv("burstiness", "%.2f  (CV of inter-arrival times: 0 even, 1 Poisson, >1 bursty)", s.Burstiness)
		peak := ""
		if s.MeanRatePerSec > 0 {
			peak = fmt.Sprintf("  (%.1f× the mean rate)", float64(s.PeakSliding1s)/s.MeanRatePerSec)
		}
		kv("peak 1 s", "%s in an aligned bin, %s in a sliding window%s", thousands(s.PeakAligned1s), thousands(s.PeakSliding1s), peak)
	}
	if s.Input != nil || s.Output != nil {
		b.WriteString("\n")
		fmt.Fprintf(&b, "%-12s %9s %9s %9s %9s %9s %11s\n", "tokens", "min", "p50", "p90", "p99", "max", "mean")
		for _, t := range []struct {
			name string
			t    *TokenStats
		}{{"input", s.Input}, {"output", s.Output}} {
			if t.t == nil {
				fmt.Fprintf(&b, "%-12s %9s\n", t.name, "not recorded")
				continue
			}
			fmt.Fprintf(&b, "%-12s %9s %9s %9s %9s %9s %11s\n", t.name, thousands(int64(t.t.Min)), thousands(int64(t.t.P50)),
				thousands(int64(t.t.P90)), thousands(int64(t.t.P99)), thousands(int64(t.t.Max)), thousandsFloat(t.t.Mean, 1))
		}
		if s.Spearman != nil {
			kv("spearman ρ", "%+.3f  (rank correlation of input and output tokens)", *s.Spearman)
		}
		for _, t := range []struct {
			name string
			t    *TokenStats
		}{{"input tokens", s.Input}, {"output tokens", s.Output}} {
			if t.t != nil {
				b.WriteString("\n" + t.name + "\n")
				writeHistogram(&b, t.t.Histogram, s.Rows)
			}
		}
	}
	if len(s.SkippedFirst) > 0 {
		fmt.Fprintf(&b, "\nskipped rows (first %d of %s):\n", len(s.SkippedFirst), thousands(s.Skipped))
		for _, m := range s.SkippedFirst {
			b.WriteString("  " + m + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// histWidth is the width of the longest histogram bar, in cells.
const histWidth = 40

func writeHistogram(b *strings.Builder, bins []HistBin, rows int64) {
	var most int64
	labels := make([]string, len(bins))
	width := 0
	for i, h := range bins {
		most = max(most, h.Count)
		if h.Lo == h.Hi {
			labels[i] = thousands(int64(h.Lo))
		} else {
			labels[i] = thousands(int64(h.Lo)) + "–" + thousands(int64(h.Hi))
		}
		width = max(width, len([]rune(labels[i])))
	}
	countWidth := len(thousands(most))
	for i, h := range bins {
		pad := strings.Repeat(" ", width-len([]rune(labels[i])))
		pct := 0.0
		if rows > 0 {
			pct = 100 * float64(h.Count) / float64(rows)
		}
		fmt.Fprintf(b, "  %s%s  %*s %5.1f%%  %s\n", pad, labels[i], countWidth, thousands(h.Count), pct, histBar(h.Count, most))
	}
}

// histBar draws count/most of histWidth cells in eighths of a block.
func histBar(count, most int64) string {
	if most == 0 || count == 0 {
		return ""
	}
	eighths := int(math.Round(float64(count) / float64(most) * histWidth * 8))
	if eighths == 0 {
		eighths = 1 // a non-empty bin always shows
	}
	partial := []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}
	return strings.Repeat("█", eighths/8) + partial[eighths%8]
}

// thousands writes n with thousands separators: 12,345.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// thousandsFloat writes x with prec decimals and thousands separators.
func thousandsFloat(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', prec, 64)
	}
	s := strconv.FormatFloat(x, 'f', prec, 64)
	ip, fp, dot := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ip, 10, 64)
	if err != nil {
		return s
	}
	out := thousands(n)
	if strings.HasPrefix(ip, "-") && n == 0 {
		out = "-0"
	}
	if dot {
		out += "." + fp
	}
	return out
}
