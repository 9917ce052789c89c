package analyze

import (
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// Defaults for Config.
const (
	DefaultInterval     = time.Second
	DefaultMaxTagGroups = 200
	// DefaultRing is the number of intervals a Recorder keeps in memory for
	// live windows when Config.Ring is 0: 30 s at the default interval.
	DefaultRing = 30
	// MaxRing bounds Config.Ring: an hour of one-second intervals.
	MaxRing = 3600
	// MaxSLOs bounds Config.SLOs.
	MaxSLOs = 64
)

// Config configures a Recorder.
type Config struct {
	// Start is the run's time zero: elapsed times and intervals count from
	// it. Zero means time.Now().
	Start time.Time
	// Interval is the nominal interval length, used by Run; Flush closes
	// whatever interval is open. Zero means DefaultInterval.
	Interval time.Duration
	// IntervalLog receives the HdrHistogram interval log; nil writes none.
	// The caller owns it (opens, buffers, closes).
	IntervalLog io.Writer
	// Timeline receives one JSON line of counts per interval
	// (TimelinePoint, timeline.ndjson); nil writes none. The caller owns it.
	Timeline io.Writer
	// MaxTagGroups caps the distinct key=value tag groups; zero means
	// DefaultMaxTagGroups, negative means none.
	MaxTagGroups int
	// SLOs are counted live: for every group and interval, how many
	// requests met each (Stats.Goodput, Counts.Goodput). At most MaxSLOs.
	SLOs []SLO
	// Ring is the number of intervals kept in memory for Window; zero means
	// DefaultRing, at most MaxRing.
	Ring int
	// Checks names the response checks of the run (at most MaxChecks):
	// RecordChecked counts their passes and failures by their index here,
	// for every group and interval (Stats.Checks, Counts.Checks).
	Checks []string
	// Percentiles are percentiles (0–100) that the summary's MetricStats
	// hold beside StoredPercentiles (MetricStats.Percentiles); at most
	// MaxPercentiles.
	Percentiles []float64
}

// MaxPercentiles bounds Config.Percentiles.
const MaxPercentiles = 32

// MaxChecks bounds Config.Checks: a result's checks travel as the bits of
// a uint64.
const MaxChecks = 64

// counters are the plain counts of one group, over the run or over one
// interval.
type counters struct {
	total, ok, dropped, queued, clamped, tokens int64
	failed                                      [numClasses]int64
	goodput                                     []int64 // met, by SLO index
	prompt                                      promptCounts
	// checks counts the passes (2i) and failures (2i+1) of check i of
	// names, the run's checks (Config.Checks).
	checks []int64
	names  []string
}

func (c *counters) reset() {
	g, k := c.goodput, c.checks
	clear(g)
	clear(k)
	*c = counters{goodput: g, checks: k, names: c.names}
}

// clone returns a copy of c that shares no counts with it.
func (c *counters) clone() counters {
	out := *c
	out.goodput, out.checks = slices.Clone(c.goodput), slices.Clone(c.checks)
	return out
}

// counts exports c.
func (c *counters) counts(slos []SLO) Counts {
	out := Counts{Requests: c.total, Dropped: c.dropped, Queued: c.queued, Tokens: c.tokens, Clamped: c.clamped}
	for i, n := range c.failed {
		if n > 0 {
			if out.ByClass == nil {
				out.ByClass = map[string]int64{}
			}
			out.ByClass[string(gonogo.ErrorClasses[i])] = n
			out.Failed += n
		}
	}
	if len(slos) > 0 {
		out.Goodput = make(map[string]int64, len(slos))
		for i, s := range slos {
			out.Goodput[s.Key] = c.goodput[i]
		}
	}
	for i, name := range c.names {
		pass, fail := c.checks[2*i], c.checks[2*i+1]
		if pass+fail == 0 {
			continue
		}
		if out.Checks == nil {
			out.Checks = make(map[string]CheckCounts, len(c.names))
		}
		out.Checks[name] = CheckCounts{Passed: pass, Failed: fail}
	}
	return out
}

// group holds the counters and histograms of one group. The overall and
// scenario groups use dense histograms (fast to record); tag groups use
// packed (sparse) ones, to keep 200 of them small.
type group struct {
	key   string
	dense bool
	cum   counters
	cur   counters  // the interval being recorded
	first time.Time // first intended send
	last  time.Time // last completion
	// lastSent is the last actual send.
	lastSent time.Time

	hCum   [numMetrics]*hdr.Histogram // dense groups
	hIv    [numMetrics]*hdr.Histogram // dense groups: this interval
	hSpare [numMetrics]*hdr.Histogram // dense groups: the interval being flushed
	pCum   [numMetrics]*hdr.PackedHistogram
	pIv    [numMetrics]*hdr.PackedHistogram
	errs   *errorLog // dense groups
	tags   [numMetrics]string
}

func newGroup(key string, dense bool, nSLO int, checks []string) *group {
	g := &group{key: key, dense: dense}
	g.cum.goodput, g.cur.goodput = make([]int64, nSLO), make([]int64, nSLO)
	if len(checks) > 0 {
		g.cum.checks, g.cur.checks = make([]int64, 2*len(checks)), make([]int64, 2*len(checks))
		g.cum.names, g.cur.names = checks, checks
	}
	for m := range numMetrics {
		g.tags[m] = logTag(key, m)
	}
	if dense {
		g.errs = &errorLog{}
	}
	return g
}

func (g *group) record(m metricID, v int64) {
	if !g.dense {
		if g.pCum[m] == nil {
			g.pCum[m] = newPacked(m)
		}
		if g.pIv[m] == nil {
			g.pIv[m] = newPacked(m)
		}
		_ = g.pCum[m].RecordValue(v)
		_ = g.pIv[m].RecordValue(v)
		return
	}
	if g.hCum[m] == nil {
		g.hCum[m] = newHist(m)
	}
	if g.hIv[m] == nil {
		g.hIv[m] = newHist(m)
	}
	_ = g.hCum[m].RecordValue(v)
	_ = g.hIv[m].RecordValue(v)
}

// sample is one result reduced to the values the groups record, computed
// outside the lock.
type sample struct {
	vals    [numMetrics]int64
	has     [numMetrics]bool
	gaps    []time.Duration
	clamped int64
	failed  bool
	class   int
	queued  bool
	tokens  int64
	prompt  promptSample
	met     uint64 // bit i: SLO i met
	// checked and checkFailed: bit i when check i of the run was judged,
	// and failed.
	checked, checkFailed uint64
	intended             time.Time
	sent                 time.Time
	done                 time.Time
}

func (s *sample) set(m metricID, d time.Duration) {
	v, c := clampMicros(d)
	if c {
		s.clamped++
	}
	s.vals[m], s.has[m] = v, true
}

func (s *sample) fill(res *gonogo.Result, req *gonogo.Request) {
	s.intended, s.sent, s.done = req.Intended, res.Sent, res.Done
	s.failed = res.Failed()
	s.queued = res.Queued
	lag := res.Sent.Sub(req.Intended)
	if lag < 0 {
		lag = 0 // sent early: not a lag, not an anomaly
	}
	s.set(mLag, lag)
	if s.failed {
		s.class = classIndex(res.Class)
		s.set(mFailed, res.Done.Sub(req.Intended))
		return
	}
	s.set(mLatency, res.Done.Sub(req.Intended))
	s.set(mService, res.Done.Sub(res.Sent))
	if res.TTFT > 0 {
		s.set(mTTFT, res.TTFT)
		s.set(mE2E, res.Done.Sub(res.Sent))
		if tp := res.TPOT(); tp > 0 {
			s.set(mTPOT, tp)
		}
		if len(res.ChunkGaps) > 0 {
			s.set(mTTST, res.ChunkGaps[0]) // first to second content chunk
		}
		s.setUserRate(res)
	}
	if len(res.ChunkGaps) > 0 {
		s.gaps = res.ChunkGaps
		for _, g := range res.ChunkGaps {
			if _, c := clampMicros(g); c {
				s.clamped++
			}
		}
	}
	s.prompt.fill(res)
	if n := res.PromptTokens; n > 0 {
		s.setCount(mInput, int64(n))
	} else if n := res.ReportedPromptTokens; n > 0 {
		s.setCount(mInput, int64(n))
	}
	if n := res.OutputTokens; n > 0 {
		s.tokens = int64(n)
		v := int64(n)
		if v > HighestTokens {
			v = HighestTokens
			s.clamped++
		}
		s.vals[mTokens], s.has[mTokens] = v, true
	}
}

// setCount records a token count, clamped to HighestTokens.
func (s *sample) setCount(m metricID, v int64) {
	if v > HighestTokens {
		v = HighestTokens
		s.clamped++
	}
	s.vals[m], s.has[m] = v, true
}

// setUserRate records tokens_per_sec_per_user, (output_tokens − 1) /
// (e2e − ttft), in milli-tokens per second, for a streamed answer of at
// least two tokens.
func (s *sample) setUserRate(res *gonogo.Result) {
	decode := res.E2E() - res.TTFT
	if res.OutputTokens < 2 || decode <= 0 {
		return
	}
	v := int64(float64(res.OutputTokens-1) / decode.Seconds() * 1000)
	if v > HighestMilliTokensPerSec {
		v = HighestMilliTokensPerSec
		s.clamped++
	}
	s.vals[mUserRate], s.has[mUserRate] = v, true
}

func (c *counters) add(s *sample) {
	c.total++
	if s.failed {
		c.failed[s.class]++
	} else {
		c.ok++
		c.tokens += s.tokens
		c.prompt.add(&s.prompt)
	}
	if s.queued {
		c.queued++
	}
	c.clamped += s.clamped
	for i := range c.goodput {
		if s.met&(1<<i) != 0 {
			c.goodput[i]++
		}
	}
	for m := s.checked; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		if s.checkFailed&(1<<i) != 0 {
			c.checks[2*i+1]++
		} else {
			c.checks[2*i]++
		}
	}
}

func (g *group) add(s *sample, res *gonogo.Result) {
	g.cum.add(s)
	g.cur.add(s)
	if !s.intended.IsZero() && (g.first.IsZero() || s.intended.Before(g.first)) {
		g.first = s.intended
	}
	if s.done.After(g.last) {
		g.last = s.done
	}
	if s.sent.After(g.lastSent) {
		g.lastSent = s.sent
	}
	for m := range numMetrics {
		if s.has[m] {
			g.record(m, s.vals[m])
		}
	}
	for _, d := range s.gaps {
		v, _ := clampMicros(d)
		g.record(mGap, v)
	}
	if s.failed && g.errs != nil {
		g.errs.add(s.class, res.Err)
	}
}

func (g *group) drop() {
	g.cum.dropped++
	g.cur.dropped++
}

// Recorder is a gonogo.Sink that keeps HDR histograms and counters per
// group (overall, per scenario, per tag key=value), writes every group's
// interval histograms to an HdrHistogram interval log and its counts to a
// timeline, and keeps the last intervals in memory for live windows.
//
// Latency and latency_service are recorded for successful requests,
// latency_failed for failed ones, scheduling_lag for every request; ttft,
// ttst, chunk_gap, tpot, e2e, tokens_per_sec_per_user, input_tokens and
// output_tokens only for successful ones. Record
// and Drop are safe for concurrent use and do not allocate once every group
// and histogram of the interval exists.
//
// Intervals are closed by Flush (the run's ticker, or Run) and by Close;
// a result belongs to the interval in which it reached Record.
type Recorder struct {
	mu           sync.Mutex
	start        time.Time
	interval     time.Duration
	maxTagGroups int
	slos         []SLO

	overall     *group
	scenarios   map[string]*group
	dense       []*group // overall, then scenarios in creation order
	tags        map[string]map[string]*group
	tagOrder    []*group
	tagOverflow int64
	targets     map[string]float64

	checks []string
	pcts   []float64

	ivStart time.Time
	// last complete interval, for Live
	lastValid bool
	lastRate  float64
	lastP99   int64 // µs, -1 when the interval had no latency data
	ended     time.Time
	closed    bool

	// flushMu serialises Flush and Close; the log is written under it,
	// outside mu.
	flushMu sync.Mutex
	lw      *hdr.HistogramLogWriter
	tw      io.Writer // timeline
	logErr  error
	empty   *hdr.Histogram
	pending []pendingGroup

	ring *ring
}

// pendingGroup is one group's interval being flushed.
type pendingGroup struct {
	g      *group
	counts counters
	dense  [numMetrics]*hdr.Histogram
	packed [numMetrics]*hdr.PackedHistogram
}

var _ gonogo.Sink = (*Recorder)(nil)

// NewRecorder returns a Recorder; when cfg.IntervalLog is set it writes the
// log header at once.
func NewRecorder(cfg Config) (*Recorder, error) {
	if cfg.Start.IsZero() {
		cfg.Start = time.Now()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxTagGroups == 0 {
		cfg.MaxTagGroups = DefaultMaxTagGroups
	}
	if len(cfg.SLOs) > MaxSLOs {
		return nil, fmt.Errorf("analyze: %d SLOs, at most %d", len(cfg.SLOs), MaxSLOs)
	}
	if len(cfg.Checks) > MaxChecks {
		return nil, fmt.Errorf("analyze: %d checks, at most %d", len(cfg.Checks), MaxChecks)
	}
	if len(cfg.Percentiles) > MaxPercentiles {
		return nil, fmt.Errorf("analyze: %d percentiles, at most %d", len(cfg.Percentiles), MaxPercentiles)
	}
	for _, p := range cfg.Percentiles {
		if !(p >= 0 && p <= 100) {
			return nil, fmt.Errorf("analyze: percentile %g is not in [0, 100]", p)
		}
	}
	if cfg.Ring <= 0 {
		cfg.Ring = DefaultRing
	}
	r := &Recorder{
		start:        cfg.Start,
		interval:     cfg.Interval,
		maxTagGroups: cfg.MaxTagGroups,
		slos:         slices.Clone(cfg.SLOs),
		checks:       slices.Clone(cfg.Checks),
		pcts:         slices.Clone(cfg.Percentiles),
		scenarios:    make(map[string]*group),
		tags:         make(map[string]map[string]*group),
		targets:      make(map[string]float64),
		ivStart:      cfg.Start,
		lastP99:      -1,
		empty:        newHist(mLatency),
		tw:           cfg.Timeline,
		ring:         newRing(min(cfg.Ring, MaxRing)),
	}
	r.overall = newGroup(Overall, true, len(r.slos), r.checks)
	r.dense = []*group{r.overall}
	if cfg.IntervalLog != nil {
		lw, err := newLogWriter(cfg.IntervalLog, cfg.Start)
		if err != nil {
			return nil, fmt.Errorf("analyze: write interval log header: %w", err)
		}
		r.lw = lw
	}
	return r, nil
}

// newLogWriter writes the header of an interval log starting at start and
// returns the writer for its histograms.
func newLogWriter(w io.Writer, start time.Time) (*hdr.HistogramLogWriter, error) {
	startMs := start.UnixMilli()
	baseMs := startMs - startMs%1000 // whole seconds: the BaseTime line holds no fraction
	lw := hdr.NewHistogramLogWriter(w)
	lw.SetBaseTime(baseMs)
	err := lw.OutputLogFormatVersion()
	if err == nil {
		err = lw.OutputComment("[gonogo interval log: time values in microseconds, output_tokens and input_tokens in tokens, tokens_per_sec_per_user in thousandths of a token per second; Interval_Max column is value/1e6]")
	}
	if err == nil {
		err = lw.OutputStartTime(startMs)
	}
	if err == nil {
		err = lw.OutputBaseTime(baseMs)
	}
	if err == nil {
		err = lw.OutputLegend()
	}
	return lw, err
}

// Start returns the run's time zero the recorder counts from.
func (r *Recorder) Start() time.Time { return r.start }

// Interval returns the nominal interval length.
func (r *Recorder) Interval() time.Duration { return r.interval }

// SLOs returns the SLOs the recorder counts.
func (r *Recorder) SLOs() []SLO { return r.slos }

// SetTargetRate sets the target arrival rate of a scenario in requests per
// second, reported as rate.target.
func (r *Recorder) SetTargetRate(scenario string, perSec float64) {
	r.mu.Lock()
	r.targets[scenario] = perSec
	r.mu.Unlock()
}

func (r *Recorder) scenario(name string) *group {
	g := r.scenarios[name]
	if g == nil {
		g = newGroup(ScenarioGroup(name), true, len(r.slos), r.checks)
		r.scenarios[name] = g
		r.dense = append(r.dense, g)
	}
	return g
}

// tagGroup returns the group of k=v, or nil when the cap is reached.
func (r *Recorder) tagGroup(k, v string) *group {
	vals := r.tags[k]
	if g := vals[v]; g != nil {
		return g
	}
	if len(r.tagOrder) >= r.maxTagGroups {
		r.tagOverflow++
		return nil
	}
	if vals == nil {
		vals = make(map[string]*group)
		r.tags[k] = vals
	}
	g := newGroup(TagGroup(k, v), false, len(r.slos), r.checks)
	vals[v] = g
	r.tagOrder = append(r.tagOrder, g)
	return g
}

var emptyRequest gonogo.Request

// Checks returns the names of the checks the recorder counts.
func (r *Recorder) Checks() []string { return r.checks }

// Record takes one finished request.
func (r *Recorder) Record(res *gonogo.Result) { r.RecordChecked(res, 0, 0) }

// RecordChecked takes one finished request and the outcome of its checks:
// bit i of checked is set when check i of Config.Checks was judged, and of
// failed when it failed. Checks are counted apart from the request's own
// success: a failed check does not fail the request.
func (r *Recorder) RecordChecked(res *gonogo.Result, checked, failed uint64) {
	req := res.Request
	if req == nil {
		req = &emptyRequest
	}
	var s sample
	s.fill(res, req)
	if n := len(r.checks); n < MaxChecks {
		checked &= 1<<n - 1
	}
	s.checked, s.checkFailed = checked, failed&checked
	for i := range r.slos {
		if r.slos[i].met(&s) {
			s.met |= 1 << i
		}
	}
	var keys [8]string
	r.mu.Lock()
	r.overall.add(&s, res)
	r.scenario(req.Scenario).add(&s, res)
	for _, k := range sortedTagKeys(req.Tags, &keys) {
		if g := r.tagGroup(k, req.Tags[k]); g != nil {
			g.add(&s, res)
		}
	}
	r.mu.Unlock()
}

// sortedTagKeys returns the keys of tags in order, in buf when they fit,
// so that which tag groups exist when the cap is reached does not depend
// on map order.
func sortedTagKeys(tags map[string]string, buf *[8]string) []string {
	keys := buf[:0]
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Drop notes an arrival that was never sent.
func (r *Recorder) Drop(req *gonogo.Request) {
	if req == nil {
		req = &emptyRequest
	}
	var keys [8]string
	r.mu.Lock()
	r.overall.drop()
	r.scenario(req.Scenario).drop()
	for _, k := range sortedTagKeys(req.Tags, &keys) {
		if g := r.tagGroup(k, req.Tags[k]); g != nil {
			g.drop()
		}
	}
	r.mu.Unlock()
}

// Flush closes the current interval at now: it writes the interval
// histograms of every group to the interval log and its counts to the
// timeline, keeps the interval for live windows, and starts the next
// interval. The overall latency histogram is written even when empty, so
// the time axis has no holes; other metrics only when they have data. It
// returns the first write error, which sticks.
func (r *Recorder) Flush(now time.Time) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	return r.flush(now)
}

func (r *Recorder) flush(now time.Time) error {
	r.mu.Lock()
	ivStart := r.ivStart
	if !now.After(ivStart) && r.overall.cur.total == 0 && r.overall.cur.dropped == 0 {
		r.mu.Unlock()
		return r.logErr // an empty interval of no length: nothing to keep
	}
	if now.Before(ivStart) {
		now = ivStart
	}
	r.ivStart = now
	r.pending = r.pending[:0]
	take := func(g *group) {
		active := g == r.overall || g.cur.total > 0 || g.cur.dropped > 0
		if !active {
			return
		}
		p := pendingGroup{g: g}
		p.counts = g.cur.clone()
		g.cur.reset()
		if g.dense {
			for m := range numMetrics {
				g.hIv[m], g.hSpare[m] = g.hSpare[m], g.hIv[m]
				p.dense[m] = g.hSpare[m]
			}
		} else {
			p.packed, g.pIv = g.pIv, [numMetrics]*hdr.PackedHistogram{}
		}
		r.pending = append(r.pending, p)
	}
	for _, g := range r.dense {
		take(g)
	}
	for _, g := range r.tagOrder {
		take(g)
	}
	// A run's only scenario has the same interval as the whole run: its
	// slice group is the overall one, shared (slices are not changed once
	// made).
	var only *group
	if len(r.dense) == 2 {
		only = r.dense[1]
	}
	r.mu.Unlock()

	// The taken histograms are no longer touched by Record.
	sl := &Slice{Start: ivStart, End: now, Groups: make(map[string]*SliceGroup, len(r.pending))}
	p99 := int64(-1)
	startMs, endMs := ivStart.UnixMilli(), now.UnixMilli()
	for i := range r.pending {
		p := &r.pending[i]
		if p.g == only {
			for m := range numMetrics { // logged under its own tag, kept once
				if h := p.dense[m]; h != nil && h.TotalCount() > 0 {
					r.logDense(h, p.g.tags[m], startMs, endMs)
					h.Reset()
				}
			}
			sl.Groups[p.g.key] = sl.Groups[Overall]
			continue
		}
		sg := &SliceGroup{Counts: p.counts.counts(r.slos)}
		sl.Groups[p.g.key] = sg
		for m := range numMetrics {
			var ph *hdr.PackedHistogram
			switch h := p.dense[m]; {
			case h != nil && h.TotalCount() > 0:
				if p.g == r.overall && m == mLatency {
					p99 = h.ValueAtPercentile(99)
				}
				r.logDense(h, p.g.tags[m], startMs, endMs)
				ph = newPacked(m)
				ph.MergeFrom(h)
				ph.Compact()
				h.Reset()
			case p.g == r.overall && m == mLatency:
				r.logDense(r.empty, p.g.tags[m], startMs, endMs)
			case p.packed[m] != nil && p.packed[m].TotalCount() > 0:
				ph = p.packed[m]
				r.logPacked(ph, p.g.tags[m], startMs, endMs)
			}
			sg.Hists[m] = ph
		}
	}
	clear(r.pending) // drop references until the next flush
	r.writeTimeline(sl)
	r.ring.push(sl)

	secs := now.Sub(ivStart).Seconds()
	r.mu.Lock()
	if secs > 0 {
		r.lastValid = true
		r.lastRate = float64(sl.Groups[Overall].Requests) / secs
		r.lastP99 = p99
	}
	r.mu.Unlock()
	return r.logErr
}

func (r *Recorder) logDense(h *hdr.Histogram, tag string, startMs, endMs int64) {
	if r.lw == nil || r.logErr != nil {
		return
	}
	h.SetTag(tag)
	h.SetStartTimeMs(startMs)
	h.SetEndTimeMs(endMs)
	if err := r.lw.OutputIntervalHistogram(h); err != nil {
		r.logErr = fmt.Errorf("analyze: write interval log: %w", err)
	}
}

func (r *Recorder) logPacked(p *hdr.PackedHistogram, tag string, startMs, endMs int64) {
	if r.lw == nil || r.logErr != nil {
		return
	}
	p.SetTag(tag)
	p.SetStartTimeMs(startMs)
	p.SetEndTimeMs(endMs)
	if err := r.lw.OutputIntervalPackedHistogram(p); err != nil {
		r.logErr = fmt.Errorf("analyze: write interval log: %w", err)
	}
}

// writeTimeline writes the slice's counts as one timeline line.
func (r *Recorder) writeTimeline(sl *Slice) {
	if r.tw == nil || r.logErr != nil {
		return
	}
	pt := TimelinePoint{
		StartS: roundTo(sl.Start.Sub(r.start).Seconds(), 6),
		EndS:   roundTo(sl.End.Sub(r.start).Seconds(), 6),
		Counts: sl.Groups[Overall].Counts,
	}
	for key, sg := range sl.Groups {
		if key == Overall {
			continue
		}
		if pt.Groups == nil {
			pt.Groups = make(map[string]Counts, len(sl.Groups)-1)
		}
		pt.Groups[key] = sg.Counts
	}
	b, err := json.Marshal(pt)
	if err == nil {
		_, err = r.tw.Write(append(b, '\n'))
	}
	if err != nil {
		r.logErr = fmt.Errorf("analyze: write timeline: %w", err)
	}
}

// Close writes the last, partial interval ending at now and marks the end
// of the run. It does not close the interval log writer. Calling it twice
// is harmless.
func (r *Recorder) Close(now time.Time) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return r.logErr
	}
	err := r.flush(now)
	r.mu.Lock()
	r.closed, r.ended = true, now
	r.mu.Unlock()
	return err
}

// Live is a snapshot for a progress line and for abort decisions.
type Live struct {
	Elapsed  time.Duration
	Requests int64 // finished requests, failures included
	Failed   int64
	Dropped  int64
	// RatePerSec is the finished requests per second over the last complete
	// interval, or over the whole run before the first Flush.
	RatePerSec float64
	// P99 is the p99 latency of the last complete interval, or cumulative
	// when that interval had no data; -1 when nothing was recorded.
	P99 time.Duration
}

// ErrorRate is Failed/Requests, 0 without requests.
func (l Live) ErrorRate() float64 {
	if l.Requests == 0 {
		return 0
	}
	return float64(l.Failed) / float64(l.Requests)
}

// Live returns the state of the run at now.
func (r *Recorder) Live(now time.Time) Live {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.overall
	l := Live{
		Elapsed:  now.Sub(r.start),
		Requests: g.cum.total,
		Failed:   g.cum.total - g.cum.ok,
		Dropped:  g.cum.dropped,
		P99:      -1,
	}
	if r.lastValid {
		l.RatePerSec = r.lastRate
	} else if s := l.Elapsed.Seconds(); s > 0 {
		l.RatePerSec = float64(l.Requests) / s
	}
	p99 := r.lastP99
	if p99 < 0 {
		if h := g.hCum[mLatency]; h != nil && h.TotalCount() > 0 {
			p99 = h.ValueAtPercentile(99)
		}
	}
	if p99 >= 0 {
		l.P99 = time.Duration(p99) * time.Microsecond
	}
	return l
}

// lookup finds a group by its key; mu must be held.
func (r *Recorder) lookup(key string) *group {
	switch {
	case key == Overall:
		return r.overall
	case strings.HasPrefix(key, scenarioPrefix):
		return r.scenarios[key[len(scenarioPrefix):]]
	case strings.HasPrefix(key, tagPrefix):
		k, v, ok := strings.Cut(key[len(tagPrefix):], "=")
		if !ok {
			return nil
		}
		return r.tags[k][v]
	}
	return nil
}

// hist returns a dense histogram of g's metric m over the run, nil when it
// has no data: a copy when copyDense, else g's own. mu must be held.
func (g *group) hist(m metricID, copyDense bool) *hdr.Histogram {
	if !g.dense {
		p := g.pCum[m]
		if p == nil || p.TotalCount() == 0 {
			return nil
		}
		h := newHist(m)
		p.MergeInto(h)
		return h
	}
	h := g.hCum[m]
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	if copyDense {
		return h.Clone()
	}
	return h
}

// Histogram returns a copy of the cumulative histogram of metric in group
// (Overall, ScenarioGroup(name) or TagGroup(k, v)), or nil when there is no
// such group or no data. Time values are in microseconds. Histograms of two
// runs merge exactly (same geometry).
func (r *Recorder) Histogram(group, metric string) *hdr.Histogram {
	m, ok := metricByName(metric)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.lookup(group)
	if g == nil {
		return nil
	}
	return g.hist(m, true)
}

// roundTo rounds v to decimals places for the JSON documents, as every
// package does (numfmt.Round).
func roundTo(v float64, decimals int) float64 { return numfmt.Round(v, decimals) }
