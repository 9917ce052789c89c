package analyze

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gonogo-dev/gonogo"
)

// Metric names, as used in summaries, thresholds and interval log tags.
const (
	MetricLatency        = "latency"
	MetricLatencyService = "latency_service"
	MetricSchedulingLag  = "scheduling_lag"
	MetricTTFT           = "ttft"
	MetricChunkGap       = "chunk_gap"
	MetricTPOT           = "tpot"
	MetricE2E            = "e2e"
	MetricOutputTokens   = "output_tokens"
)

// Histogram geometry (DESIGN.md, "Measurement semantics").
const (
	// HighestMicros is the largest time value a histogram holds: one hour.
	// Larger values are clamped to it and counted in Stats.Clamped.
	HighestMicros = int64(time.Hour / time.Microsecond)
	// HighestTokens is the largest output token count a histogram holds.
	HighestTokens = 10_000_000
	// SignificantDigits is the precision of every histogram.
	SignificantDigits = 3
)

// Defaults for Config.
const (
	DefaultInterval     = time.Second
	DefaultMaxTagGroups = 200
)

// IntervalLogFile is the conventional name of the interval log in a run
// directory.
const IntervalLogFile = "latency.hlog"

type metricID int

const (
	mLatency metricID = iota
	mService
	mLag
	mTTFT
	mGap
	mTPOT
	mE2E
	mTokens
	numMetrics
)

var metricNames = [numMetrics]string{
	MetricLatency, MetricLatencyService, MetricSchedulingLag, MetricTTFT,
	MetricChunkGap, MetricTPOT, MetricE2E, MetricOutputTokens,
}

// Metrics lists the histogram metrics in report order.
var Metrics = metricNames[:]

func metricByName(name string) (metricID, bool) {
	for i, n := range metricNames {
		if n == name {
			return metricID(i), true
		}
	}
	return 0, false
}

func newHist(m metricID) *hdr.Histogram {
	if m == mTokens {
		return hdr.New(1, HighestTokens, SignificantDigits)
	}
	return hdr.New(1, HighestMicros, SignificantDigits)
}

func newPacked(m metricID) *hdr.PackedHistogram {
	if m == mTokens {
		return hdr.NewPacked(1, HighestTokens, SignificantDigits)
	}
	return hdr.NewPacked(1, HighestMicros, SignificantDigits)
}

// numClasses is len(gonogo.ErrorClasses); classIndex maps unknown classes to
// "other".
const numClasses = 7

func classIndex(c gonogo.ErrorClass) int {
	for i, k := range gonogo.ErrorClasses {
		if k == c {
			return i
		}
	}
	return numClasses - 1 // ErrOther
}

// Group keys for Recorder.Histogram.
const Overall = ""

// ScenarioGroup is the Histogram group key of a scenario.
func ScenarioGroup(name string) string { return "scenario:" + name }

// TagGroup is the Histogram group key of a tag key=value pair.
func TagGroup(key, value string) string { return "tag:" + key + "=" + value }

// Config configures a Recorder.
type Config struct {
	// Start is when the run started: elapsed times and intervals count from
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
}

// counters are the plain counts of one group.
type counters struct {
	total, ok, dropped, queued, clamped, tokens int64
	failed                                      [numClasses]int64
	first, last                                 time.Time // first intended send, last completion
	lastSent                                    time.Time // last actual send
}

// group holds the histograms of one group. Overall and scenario groups use
// dense histograms and write interval histograms to the log; tag groups use
// packed (sparse) histograms to keep 200 of them small.
type group struct {
	counters
	packed bool
	logged bool
	cum    [numMetrics]*hdr.Histogram
	pcum   [numMetrics]*hdr.PackedHistogram
	iv     [numMetrics]*hdr.Histogram // current interval
	spare  [numMetrics]*hdr.Histogram // previous interval, written and reset by Flush
	logTag [numMetrics]string
}

func (g *group) record(m metricID, v int64) {
	if g.packed {
		p := g.pcum[m]
		if p == nil {
			p = newPacked(m)
			g.pcum[m] = p
		}
		_ = p.RecordValue(v)
		return
	}
	h := g.cum[m]
	if h == nil {
		h = newHist(m)
		g.cum[m] = h
	}
	_ = h.RecordValue(v)
	if g.logged {
		iv := g.iv[m]
		if iv == nil {
			iv = newHist(m)
			g.iv[m] = iv
		}
		_ = iv.RecordValue(v)
	}
}

// sample is one result reduced to the values the groups record, computed
// outside the lock.
type sample struct {
	vals     [numMetrics]int64
	has      [numMetrics]bool
	gaps     []time.Duration
	clamped  int64
	failed   bool
	class    int
	queued   bool
	tokens   int64
	intended time.Time
	sent     time.Time
	done     time.Time
}

func clampMicros(d time.Duration) (int64, bool) {
	if d < 0 {
		return 0, true
	}
	us := int64(d / time.Microsecond)
	if us > HighestMicros {
		return HighestMicros, true
	}
	return us, false
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
	s.set(mLatency, res.Done.Sub(req.Intended))
	s.set(mService, res.Done.Sub(res.Sent))
	lag := res.Sent.Sub(req.Intended)
	if lag < 0 {
		lag = 0 // sent early: not a lag, not an anomaly
	}
	s.set(mLag, lag)
	if s.failed {
		s.class = classIndex(res.Class)
		return
	}
	if res.TTFT > 0 {
		s.set(mTTFT, res.TTFT)
		s.set(mE2E, res.Done.Sub(res.Sent))
		if tp := res.TPOT(); tp > 0 {
			s.set(mTPOT, tp)
		}
	}
	if len(res.ChunkGaps) > 0 {
		s.gaps = res.ChunkGaps
		for _, g := range res.ChunkGaps {
			if _, c := clampMicros(g); c {
				s.clamped++
			}
		}
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

func (g *group) add(s *sample) {
	g.total++
	if s.failed {
		g.failed[s.class]++
	} else {
		g.ok++
		g.tokens += s.tokens
	}
	if s.queued {
		g.queued++
	}
	g.clamped += s.clamped
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
}

// Recorder is a gonogo.Sink that keeps HDR histograms and counters per
// group (overall, per scenario, per tag key=value) and writes interval
// histograms to an HdrHistogram interval log.
//
// Latency, latency_service and scheduling_lag are recorded for every
// request, failures included; ttft, chunk_gap, tpot, e2e and output_tokens
// only for successful ones. Record and Drop are safe for concurrent use and
// do not allocate once every group and histogram exists.
//
// Intervals are closed by Flush (the engine's ticker, or Run) and by Close;
// a result belongs to the interval in which it reached Record.
type Recorder struct {
	mu           sync.Mutex
	start        time.Time
	interval     time.Duration
	maxTagGroups int

	overall     group
	scenarios   map[string]*group
	scenOrder   []*group // logged groups after overall, in creation order
	tags        map[string]map[string]*group
	nTagGroups  int
	tagOverflow int64
	targets     map[string]float64

	// current interval (overall)
	ivStart                      time.Time
	ivTotal, ivFailed, ivDropped int64
	ivTokens                     int64
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
	pending []pendingHist
	empty   *hdr.Histogram
}

type pendingHist struct {
	tag     string
	h       *hdr.Histogram
	overall bool
	m       metricID
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
	r := &Recorder{
		start:        cfg.Start,
		interval:     cfg.Interval,
		maxTagGroups: cfg.MaxTagGroups,
		scenarios:    make(map[string]*group),
		tags:         make(map[string]map[string]*group),
		targets:      make(map[string]float64),
		ivStart:      cfg.Start,
		lastP99:      -1,
		empty:        newHist(mLatency),
		tw:           cfg.Timeline,
	}
	r.overall.logged = true
	for m := range numMetrics {
		r.overall.logTag[m] = metricNames[m]
	}
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
		err = lw.OutputComment("[gonogo interval log: time values in microseconds, output_tokens in tokens; Interval_Max column is value/1e6]")
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

// Start returns the run start the recorder counts from.
func (r *Recorder) Start() time.Time { return r.start }

// SetTargetRate sets the target arrival rate of a scenario in requests per
// second, reported as rate.target.
func (r *Recorder) SetTargetRate(scenario string, perSec float64) {
	r.mu.Lock()
	r.targets[scenario] = perSec
	r.mu.Unlock()
}

func logTagPart(s string) string {
	return strings.Map(func(c rune) rune {
		switch c {
		case ',', ' ', '\r', '\n', '\t':
			return '_'
		}
		return c
	}, s)
}

func (r *Recorder) scenario(name string) *group {
	g := r.scenarios[name]
	if g == nil {
		g = &group{logged: true}
		p := logTagPart(name)
		if p == "" {
			p = "_"
		}
		for m := range numMetrics {
			g.logTag[m] = p + "/" + metricNames[m]
		}
		r.scenarios[name] = g
		r.scenOrder = append(r.scenOrder, g)
	}
	return g
}

// tagGroup returns the group of k=v, or nil when the cap is reached.
func (r *Recorder) tagGroup(k, v string) *group {
	vals := r.tags[k]
	if g := vals[v]; g != nil {
		return g
	}
	if r.nTagGroups >= r.maxTagGroups {
		r.tagOverflow++
		return nil
	}
	if vals == nil {
		vals = make(map[string]*group)
		r.tags[k] = vals
	}
	g := &group{packed: true}
	vals[v] = g
	r.nTagGroups++
	return g
}

var emptyRequest gonogo.Request

// Record takes one finished request.
func (r *Recorder) Record(res *gonogo.Result) {
	req := res.Request
	if req == nil {
		req = &emptyRequest
	}
	var s sample
	s.fill(res, req)
	var keys [8]string
	r.mu.Lock()
	r.overall.add(&s)
	r.scenario(req.Scenario).add(&s)
	for _, k := range sortedTagKeys(req.Tags, &keys) {
		if g := r.tagGroup(k, req.Tags[k]); g != nil {
			g.add(&s)
		}
	}
	r.ivTotal++
	r.ivTokens += s.tokens
	if s.failed {
		r.ivFailed++
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
	r.mu.Lock()
	r.overall.dropped++
	r.scenario(req.Scenario).dropped++
	var keys [8]string
	for _, k := range sortedTagKeys(req.Tags, &keys) {
		if g := r.tagGroup(k, req.Tags[k]); g != nil {
			g.dropped++
		}
	}
	r.ivDropped++
	r.mu.Unlock()
}

// Flush closes the current interval at now: it writes the interval
// histograms of the overall group and of every scenario to the interval log
// and starts the next interval. The overall latency histogram is written
// even when empty, so the time axis has no holes; other metrics only when
// they have data. It returns the first log write error, which sticks.
func (r *Recorder) Flush(now time.Time) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	return r.flush(now)
}

func (r *Recorder) flush(now time.Time) error {
	r.mu.Lock()
	ivStart := r.ivStart
	if now.Before(ivStart) {
		now = ivStart
	}
	r.ivStart = now
	r.pending = r.pending[:0]
	swap := func(g *group, overall bool) {
		for m := range numMetrics {
			g.iv[m], g.spare[m] = g.spare[m], g.iv[m]
			h := g.spare[m]
			if h == nil && overall && m == mLatency {
				h = r.empty
			}
			if h != nil {
				r.pending = append(r.pending, pendingHist{tag: g.logTag[m], h: h, overall: overall, m: m})
			}
		}
	}
	swap(&r.overall, true)
	for _, g := range r.scenOrder {
		swap(g, false)
	}
	total := r.ivTotal
	point := TimelinePoint{
		StartS:   ivStart.Sub(r.start).Seconds(),
		EndS:     now.Sub(r.start).Seconds(),
		Requests: r.ivTotal, Failed: r.ivFailed, Dropped: r.ivDropped, Tokens: r.ivTokens,
	}
	r.ivTotal, r.ivFailed, r.ivDropped, r.ivTokens = 0, 0, 0, 0
	r.mu.Unlock()

	if r.tw != nil && r.logErr == nil {
		b, _ := json.Marshal(point) // plain numbers: cannot fail
		if _, err := r.tw.Write(append(b, '\n')); err != nil {
			r.logErr = fmt.Errorf("analyze: write timeline: %w", err)
		}
	}

	// The swapped-out histograms are no longer touched by Record.
	p99 := int64(-1)
	startMs, endMs := ivStart.UnixMilli(), now.UnixMilli()
	for _, p := range r.pending {
		h := p.h
		n := h.TotalCount()
		if p.overall && p.m == mLatency && n > 0 {
			p99 = h.ValueAtPercentile(99)
		}
		if n > 0 || (p.overall && p.m == mLatency) {
			if r.lw != nil && r.logErr == nil {
				h.SetTag(p.tag)
				h.SetStartTimeMs(startMs)
				h.SetEndTimeMs(endMs)
				if err := r.lw.OutputIntervalHistogram(h); err != nil {
					r.logErr = fmt.Errorf("analyze: write interval log: %w", err)
				}
			}
		}
		h.Reset()
	}
	clear(r.pending) // drop references until the next flush

	secs := now.Sub(ivStart).Seconds()
	r.mu.Lock()
	if secs > 0 {
		r.lastValid = true
		r.lastRate = float64(total) / secs
		r.lastP99 = p99
	}
	r.mu.Unlock()
	return r.logErr
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

// Run calls Flush at every interval boundary (start + k·Interval) until ctx
// is done; it does not call Close. It is an alternative to an external
// ticker.
func (r *Recorder) Run(ctx context.Context) error {
	next := r.start.Add(r.interval)
	for {
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := r.Flush(next); err != nil {
			return err
		}
		next = next.Add(r.interval)
		if now := time.Now(); now.After(next) { // fell behind: skip, the next Flush covers the gap
			next = r.start.Add((now.Sub(r.start)/r.interval + 1) * r.interval)
		}
	}
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

// Line formats a progress line; inFlight < 0 leaves that field out.
func (l Live) Line(inFlight int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "elapsed %s · %.0f req/s", l.Elapsed.Truncate(time.Second), l.RatePerSec)
	if inFlight >= 0 {
		fmt.Fprintf(&b, " · in-flight %d", inFlight)
	}
	if l.P99 >= 0 {
		fmt.Fprintf(&b, " · p99 %.1fms", float64(l.P99)/float64(time.Millisecond))
	} else {
		b.WriteString(" · p99 -")
	}
	fmt.Fprintf(&b, " · errors %.1f%%", 100*l.ErrorRate())
	if l.Dropped > 0 {
		fmt.Fprintf(&b, " · dropped %d", l.Dropped)
	}
	return b.String()
}

// Live returns the state of the run at now.
func (r *Recorder) Live(now time.Time) Live {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := Live{
		Elapsed:  now.Sub(r.start),
		Requests: r.overall.total,
		Failed:   r.overall.total - r.overall.ok,
		Dropped:  r.overall.dropped,
		P99:      -1,
	}
	if r.lastValid {
		l.RatePerSec = r.lastRate
	} else if s := l.Elapsed.Seconds(); s > 0 {
		l.RatePerSec = float64(l.Requests) / s
	}
	p99 := r.lastP99
	if p99 < 0 {
		if h := r.overall.cum[mLatency]; h != nil && h.TotalCount() > 0 {
			p99 = h.ValueAtPercentile(99)
		}
	}
	if p99 >= 0 {
		l.P99 = time.Duration(p99) * time.Microsecond
	}
	return l
}

// lookup finds a group by its Histogram key; mu must be held.
func (r *Recorder) lookup(key string) *group {
	switch {
	case key == Overall:
		return &r.overall
	case strings.HasPrefix(key, "scenario:"):
		return r.scenarios[key[len("scenario:"):]]
	case strings.HasPrefix(key, "tag:"):
		k, v, ok := strings.Cut(key[len("tag:"):], "=")
		if !ok {
			return nil
		}
		return r.tags[k][v]
	}
	return nil
}

// hist returns a dense histogram for g and m, nil when it has no data; it
// copies packed histograms into a new dense one. mu must be held.
func (g *group) hist(m metricID, copyDense bool) *hdr.Histogram {
	if g.packed {
		p := g.pcum[m]
		if p == nil || p.TotalCount() == 0 {
			return nil
		}
		h := newHist(m)
		p.MergeInto(h)
		return h
	}
	h := g.cum[m]
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

func roundTo(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}
