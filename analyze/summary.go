package analyze

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo"
)

// Summary is the end-of-run digest of a Recorder, as stored in run.json.
type Summary struct {
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended"`
	DurationS float64   `json:"duration_s"`
	Overall   Stats     `json:"overall"`
	// Scenarios holds one Stats per scenario name.
	Scenarios map[string]Stats `json:"scenarios,omitempty"`
	// Tags holds one Stats per tag, keyed "key=value".
	Tags map[string]Stats `json:"tags,omitempty"`
	// TagOverflow counts (result or drop, tag) pairs not grouped because
	// MaxTagGroups distinct tag groups existed already.
	TagOverflow int64 `json:"tag_overflow,omitempty"`

	// hist gives the histograms behind the summary, for percentiles that
	// MetricStats does not hold; nil for a summary read back from JSON.
	hist func(group, metric string) *hdr.Histogram
}

// Stats are the numbers of one group.
type Stats struct {
	Requests Requests `json:"requests"`
	Rate     Rate     `json:"rate"`
	// ActiveS is the time base of every per-second figure, in seconds: the
	// run's duration (time zero to the last response) for the overall
	// group; from the first intended send to the last completion for
	// scenarios and tags; the window's span for a window.
	ActiveS        float64      `json:"active_s"`
	Latency        *MetricStats `json:"latency,omitempty"`
	LatencyService *MetricStats `json:"latency_service,omitempty"`
	SchedulingLag  *MetricStats `json:"scheduling_lag,omitempty"`
	TTFT           *MetricStats `json:"ttft,omitempty"`
	ChunkGap       *MetricStats `json:"chunk_gap,omitempty"`
	TPOT           *MetricStats `json:"tpot,omitempty"`
	E2E            *MetricStats `json:"e2e,omitempty"`
	OutputTokens   *MetricStats `json:"output_tokens,omitempty"`
	// LatencyFailed describes the latency of failed requests, kept apart
	// from Latency (which is that of successful ones).
	LatencyFailed *MetricStats `json:"latency_failed,omitempty"`
	// TTST is the time to second token (MetricTTST).
	TTST *MetricStats `json:"ttst,omitempty"`
	// TokensPerSecPerUser is the distribution of each request's own output
	// speed in tokens per second (MetricTokensPerSecPerUser).
	TokensPerSecPerUser *MetricStats `json:"tokens_per_sec_per_user,omitempty"`
	// InputTokens is the distribution of the prompt lengths sent, in
	// tokens (MetricInputTokens).
	InputTokens *MetricStats `json:"input_tokens,omitempty"`
	// TokensPerSec is the output tokens of successful requests per second
	// of ActiveS; absent when no tokens were reported.
	TokensPerSec *float64 `json:"tokens_per_sec,omitempty"`
	// PromptTokens compares the prompt tokens the client intended with
	// those the server reported; absent when neither is known.
	PromptTokens *PromptTokenStats `json:"prompt_tokens,omitempty"`
	// Goodput counts, for every SLO counted during the run (by SLO.Key),
	// the requests that met it; its share is Goodput[key] /
	// (Requests.Total + Requests.Dropped).
	Goodput map[string]int64 `json:"goodput,omitempty"`
	// GoodputShares and GoodputPerSec are the goodput figures of each SLO
	// by key: the share of arrivals (Requests.Total + Requests.Dropped)
	// that met it, and those requests per second of ActiveS (AIPerf's
	// and vLLM bench's "goodput").
	GoodputShares map[string]float64 `json:"goodput_share,omitempty"`
	GoodputPerSec map[string]float64 `json:"goodput_per_sec,omitempty"`
	// Percentiles holds, by metric and PercentileKey, the percentiles the
	// run was asked for (--percentiles) that MetricStats does not store.
	Percentiles map[string]map[string]float64 `json:"percentiles,omitempty"`
	// Checks counts the passes and failures of each response check by
	// name: every check of the run in the overall group, the checks judged
	// in the group in the others. Checks never fail a request: a check
	// failure is not an error.
	Checks map[string]CheckCounts `json:"checks,omitempty"`
	// Errors are the most frequent failure messages of each class, most
	// frequent first (overall and scenario groups).
	Errors []ErrorExample `json:"errors,omitempty"`
	// Clamped counts values outside the histogram range (negative, or above
	// 1 h / 10M tokens) that were recorded at the nearest bound.
	Clamped int64 `json:"clamped,omitempty"`
}

// ErrorExample is one failure message and how often it was seen.
type ErrorExample struct {
	Class   string `json:"class"`
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

// GoodputShare is the share of the group's arrivals that met the SLO
// counted under key; ok is false when the run did not count it or had no
// arrival.
func (s *Stats) GoodputShare(key string) (share float64, ok bool) {
	met, counted := s.Goodput[key]
	n := s.Requests.Total + s.Requests.Dropped
	if !counted || n == 0 {
		return 0, false
	}
	return float64(met) / float64(n), true
}

// CheckCounts returns the counts of the check named name in the group, or
// of all its checks together when name is ""; ok is false when the group
// has no such check (or no check at all).
func (s *Stats) CheckCounts(name string) (c CheckCounts, ok bool) {
	if name != "" {
		c, ok = s.Checks[name]
		return c, ok
	}
	for _, n := range s.Checks {
		c.Passed += n.Passed
		c.Failed += n.Failed
	}
	return c, len(s.Checks) > 0
}

// Requests counts requests by outcome.
type Requests struct {
	Total int64 `json:"total"` // finished requests, failures included
	OK    int64 `json:"ok"`
	// Failed counts failures by error class; classes with no failure are
	// left out.
	Failed  map[string]int64 `json:"failed"`
	Dropped int64            `json:"dropped"` // arrivals never sent
	Queued  int64            `json:"queued"`  // requests that waited for a VU
}

// FailedTotal is the sum of Failed.
func (r Requests) FailedTotal() int64 {
	var n int64
	for _, c := range r.Failed {
		n += c
	}
	return n
}

// Rate holds a group's request rates in requests per second.
type Rate struct {
	// TargetPerSec is the arrival rate asked for (open models).
	TargetPerSec float64 `json:"target,omitempty"`
	// AchievedPerSec is the arrival rate the generator kept: the gaps
	// between sends over the span from the first intended send to the last
	// actual send, (n−1)/span. It is exactly the target for arrivals paced
	// on time however long their responses take, lower when the generator
	// fell behind or dropped; it measures scheduling, not throughput.
	AchievedPerSec float64 `json:"achieved"`
	// SentPerSec and CompletedPerSec are the requests sent and the
	// successful requests completed per second of ActiveS: the throughput.
	SentPerSec      float64 `json:"sent_per_sec"`
	CompletedPerSec float64 `json:"completed_per_sec"`
}

// MetricStats describe one histogram: milliseconds for time metrics,
// tokens for output_tokens and input_tokens, tokens per second for
// tokens_per_sec_per_user, rounded to 3 decimals. The low percentiles and
// StdDev (the population standard deviation) are those GenAI-Perf and
// AIPerf report; a run.json written before they existed lacks them.
type MetricStats struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
	P1     float64 `json:"p1"`
	P5     float64 `json:"p5"`
	P10    float64 `json:"p10"`
	P25    float64 `json:"p25"`
	P50    float64 `json:"p50"`
	P75    float64 `json:"p75"`
	P90    float64 `json:"p90"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
	P999   float64 `json:"p999"`
	Max    float64 `json:"max"`
}

// StoredPercentiles are the percentiles every MetricStats holds in its own
// fields, in order.
var StoredPercentiles = []float64{1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9}

// PercentileKey names percentile pct (0–100) in MetricStats.Percentiles
// and in reports: "99.99".
func PercentileKey(pct float64) string { return strconv.FormatFloat(pct, 'g', -1, 64) }

// Percentile returns the stored value of percentile pct (0–100; 0 is the
// minimum, 100 the maximum); ok is false when m does not hold it.
func (m *MetricStats) Percentile(pct float64) (v float64, ok bool) {
	switch pct {
	case 0:
		return m.Min, true
	case 1:
		return m.P1, true
	case 5:
		return m.P5, true
	case 10:
		return m.P10, true
	case 25:
		return m.P25, true
	case 50:
		return m.P50, true
	case 75:
		return m.P75, true
	case 90:
		return m.P90, true
	case 95:
		return m.P95, true
	case 99:
		return m.P99, true
	case 99.9:
		return m.P999, true
	case 100:
		return m.Max, true
	}
	return 0, false
}

// Percentile returns percentile pct (0–100) of metric in the group: a
// stored one (MetricStats.Percentile) or one asked for with --percentiles
// (Stats.Percentiles); ok is false when the group holds neither.
func (s *Stats) Percentile(metric string, pct float64) (v float64, ok bool) {
	ms := s.Metric(metric)
	if ms == nil {
		return 0, false
	}
	if v, ok = ms.Percentile(pct); ok {
		return v, true
	}
	v, ok = s.Percentiles[metric][PercentileKey(pct)]
	return v, ok
}

// Metric returns the stats of a histogram metric by name, nil when absent.
func (s *Stats) Metric(name string) *MetricStats {
	switch name {
	case MetricLatency:
		return s.Latency
	case MetricLatencyService:
		return s.LatencyService
	case MetricSchedulingLag:
		return s.SchedulingLag
	case MetricTTFT:
		return s.TTFT
	case MetricChunkGap:
		return s.ChunkGap
	case MetricTPOT:
		return s.TPOT
	case MetricE2E:
		return s.E2E
	case MetricOutputTokens:
		return s.OutputTokens
	case MetricLatencyFailed:
		return s.LatencyFailed
	case MetricTTST:
		return s.TTST
	case MetricTokensPerSecPerUser:
		return s.TokensPerSecPerUser
	case MetricInputTokens:
		return s.InputTokens
	}
	return nil
}

func (s *Stats) setMetric(m metricID, ms *MetricStats) {
	switch m {
	case mLatency:
		s.Latency = ms
	case mService:
		s.LatencyService = ms
	case mLag:
		s.SchedulingLag = ms
	case mTTFT:
		s.TTFT = ms
	case mGap:
		s.ChunkGap = ms
	case mTPOT:
		s.TPOT = ms
	case mE2E:
		s.E2E = ms
	case mTokens:
		s.OutputTokens = ms
	case mFailed:
		s.LatencyFailed = ms
	case mTTST:
		s.TTST = ms
	case mUserRate:
		s.TokensPerSecPerUser = ms
	case mInput:
		s.InputTokens = ms
	}
}

func metricStats(h *hdr.Histogram, m metricID) *MetricStats {
	ms, _ := metricStatsExtra(h, m, nil)
	return ms
}

// metricStatsExtra digests h, and returns apart the percentiles of extra
// that MetricStats does not store, by PercentileKey (nil when none).
func metricStatsExtra(h *hdr.Histogram, m metricID, extra []float64) (*MetricStats, map[string]float64) {
	if h == nil || h.TotalCount() == 0 {
		return nil, nil
	}
	sc := unitScale(m)
	q := h.ValueAtPercentilesSlice(StoredPercentiles)
	f := func(v int64) float64 { return roundTo(float64(v)/sc, 3) }
	ms := &MetricStats{
		Count:  h.TotalCount(),
		Min:    f(h.Min()),
		Mean:   roundTo(h.Mean()/sc, 3),
		StdDev: roundTo(h.StdDev()/sc, 3),
		P1:     f(q[0]),
		P5:     f(q[1]),
		P10:    f(q[2]),
		P25:    f(q[3]),
		P50:    f(q[4]),
		P75:    f(q[5]),
		P90:    f(q[6]),
		P95:    f(q[7]),
		P99:    f(q[8]),
		P999:   f(q[9]),
		Max:    f(h.Max()),
	}
	var more map[string]float64
	for _, p := range extra {
		if _, ok := ms.Percentile(p); ok {
			continue
		}
		if more == nil {
			more = make(map[string]float64, len(extra))
		}
		more[PercentileKey(p)] = f(h.ValueAtPercentile(p))
	}
	return ms, more
}

// stats builds the Stats of g; activeS ≤ 0 means g's own active window.
func (g *group) stats(activeS, target float64, slos []SLO, pcts []float64) Stats {
	return g.statsFor(activeS, target, -1, slos, pcts)
}

// statsFor is stats computing the digest of metric only (all when only <
// 0).
func (g *group) statsFor(activeS, target float64, only metricID, slos []SLO, pcts []float64) Stats {
	c := g.cum.counts(slos)
	if activeS <= 0 && !g.first.IsZero() && g.last.After(g.first) {
		activeS = g.last.Sub(g.first).Seconds()
	}
	st := statsOfCounts(&c, activeS)
	st.Rate.TargetPerSec = target
	st.Rate.AchievedPerSec = roundTo(g.achievedRate(activeS), 3)
	for m := range numMetrics {
		if only < 0 || m == only {
			ms, more := metricStatsExtra(g.hist(m, false), m, pcts)
			st.setMetric(m, ms)
			if more != nil {
				if st.Percentiles == nil {
					st.Percentiles = make(map[string]map[string]float64)
				}
				st.Percentiles[metricNames[m]] = more
			}
		}
	}
	if g.errs != nil {
		st.Errors = g.errs.top(topErrors)
	}
	st.PromptTokens = g.cum.prompt.stats()
	return st
}

// achievedRate is the rate at which requests were sent: the number of
// gaps between sends over the span from the first intended send to the last
// actual send, (n−1)/span, which is exactly r for n arrivals paced at r
// however long their responses take, and lower when the generator fell
// behind or dropped arrivals. With fewer than two sends it falls back to
// total/activeS.
func (g *group) achievedRate(activeS float64) float64 {
	if span := g.lastSent.Sub(g.first).Seconds(); g.cum.total >= 2 && span > 0 {
		return float64(g.cum.total-1) / span
	}
	if activeS > 0 {
		return float64(g.cum.total) / activeS
	}
	return 0
}

// Summary digests everything recorded so far; end is the end of the run
// (usually the time given to Close) and sets Ended and DurationS.
func (r *Recorder) Summary(end time.Time) *Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	dur := end.Sub(r.start).Seconds()
	s := &Summary{
		Started:     r.start,
		Ended:       end,
		DurationS:   roundTo(dur, 3),
		TagOverflow: r.tagOverflow,
		hist:        r.Histogram,
	}
	if dur <= 0 {
		dur = -1 // fall back to the active window
	}
	s.Overall = r.overall.stats(dur, 0, r.slos, r.pcts)
	s.Overall.Checks = r.allChecks(s.Overall.Checks)
	if len(r.scenarios) > 0 {
		s.Scenarios = make(map[string]Stats, len(r.scenarios))
		for name, g := range r.scenarios {
			s.Scenarios[name] = g.stats(0, r.targets[name], r.slos, r.pcts)
		}
	}
	if len(r.tagOrder) > 0 {
		s.Tags = make(map[string]Stats, len(r.tagOrder))
		for _, g := range r.tagOrder {
			s.Tags[strings.TrimPrefix(g.key, tagPrefix)] = g.stats(0, 0, r.slos, r.pcts)
		}
	}
	return s
}

// allChecks adds every check of the run, judged or not, to m: the overall
// group names them all, so that a gate can tell a check the run does not
// have from one it never judged.
func (r *Recorder) allChecks(m map[string]CheckCounts) map[string]CheckCounts {
	if len(r.checks) == 0 {
		return m
	}
	if m == nil {
		m = make(map[string]CheckCounts, len(r.checks))
	}
	for _, name := range r.checks {
		m[name] = m[name]
	}
	return m
}

// topErrors is how many messages of each class Stats.Errors keeps.
const topErrors = 3

// Bounds of an errorLog.
const (
	maxErrorMessages     = 16  // distinct messages kept per class
	maxErrorMessageBytes = 200 // longer messages are cut
)

// errorLog counts failure messages by class, keeping at most
// maxErrorMessages distinct ones per class.
type errorLog struct {
	byClass [numClasses]map[string]int64
}

func (e *errorLog) add(class int, msg string) {
	if len(msg) > maxErrorMessageBytes {
		msg = cutUTF8(msg, maxErrorMessageBytes) + "…"
	}
	if msg == "" {
		msg = "(no message)"
	}
	m := e.byClass[class]
	if m == nil {
		m = make(map[string]int64)
		e.byClass[class] = m
	}
	if _, ok := m[msg]; ok || len(m) < maxErrorMessages {
		m[msg]++
	}
}

// top returns the n most frequent messages of each class, classes in
// gonogo.ErrorClasses order.
func (e *errorLog) top(n int) []ErrorExample {
	var out []ErrorExample
	for i, m := range e.byClass {
		start := len(out)
		for msg, c := range m {
			out = append(out, ErrorExample{Class: string(gonogo.ErrorClasses[i]), Message: msg, Count: c})
		}
		part := out[start:]
		slices.SortFunc(part, func(a, b ErrorExample) int {
			if a.Count != b.Count {
				return cmp.Compare(b.Count, a.Count)
			}
			return strings.Compare(a.Message, b.Message)
		})
		if len(part) > n {
			out = out[:start+n]
		}
	}
	return out
}

// cutUTF8 cuts s to at most n bytes on a rune boundary.
func cutUTF8(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
