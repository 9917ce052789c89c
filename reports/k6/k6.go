// Package k6 imports the results that Grafana k6 writes with
// `k6 run --out json=FILE` into a gonogo run directory (run.json,
// latency.hlog, timeline.ndjson), so that teams already running k6 can gate
// and report with gonogo. It reads k6's documented NDJSON output format
// only (plain or gzip-compressed); no k6 code is used or linked (k6 is
// AGPL-3.0).
//
// k6 writes one JSON object per line: "Metric" lines declare a metric,
// "Point" lines carry one sample with its time, value and tags. Import turns
// every http_req_duration point into one request: Done is the point's time,
// Sent is Done minus the value (milliseconds). k6 drives virtual users in a
// closed loop and records no intended send times, so Intended is Sent:
// latency equals latency_service and scheduling_lag is 0. Whether the
// request failed comes from the http_req_failed point of the same request
// (same time and tags), else from the expected_response tag, else from the
// status tag (0, or 400 and above). dropped_iterations points are counted
// as dropped arrivals. Other metrics are counted, not recorded.
//
// Points are read as a stream, in constant memory: a bounded reorder window
// (DefaultReorderWindow of k6 time) puts them in time order, and intervals
// of the k6 timeline are closed at whole intervals from the first point, so
// latency.hlog and timeline.ndjson follow the k6 run as a live gonogo run
// would. docs/k6-import.md documents the mapping.
package k6

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
)

// k6 metric names that Import reads.
const (
	MetricReqDuration       = "http_req_duration"
	MetricReqFailed         = "http_req_failed"
	MetricReqs              = "http_reqs"
	MetricDroppedIterations = "dropped_iterations"
	MetricIterations        = "iterations"
	MetricVUs               = "vus"
	MetricChecks            = "checks"
)

// Defaults and bounds.
const (
	// DefaultReorderWindow is how far back in k6 time a point may arrive,
	// after a later one, and still be put in order.
	DefaultReorderWindow = 2 * time.Second
	// MaxLineBytes bounds one line of input.
	MaxLineBytes = 1 << 20
	// MaxKeptSkips is how many skipped lines Stats keeps for the report.
	MaxKeptSkips = 20
	// maxPending bounds the reorder buffer whatever the window holds: past
	// it, the oldest point is taken out of order.
	maxPending = 1 << 18
	// maxDropsPerPoint bounds the value of one dropped_iterations point.
	maxDropsPerPoint = 10_000
	// maxDistinct bounds the distinct metric names and hosts counted.
	maxDistinct = 1000
	// maxDurationMs bounds a duration value before it is converted (the
	// recorder clamps anything above an hour anyway).
	maxDurationMs = 1e9
)

// maxEmptyIntervals is the longest stretch of empty intervals written one
// by one (reports.Clock); a variable so that the fuzz test can keep inputs
// fast.
var maxEmptyIntervals int64 = reports.DefaultMaxEmpty

// ErrInput is wrapped by every error about the input: a file that cannot be
// read, that is not k6 JSON output, or a malformed line (*LineError).
var ErrInput = errors.New("k6: bad input")

// LineError is a malformed line of k6 output: the file, the line, the JSON
// field and why.
type LineError struct {
	File string
	Line int64
	// Field is the JSON path of the bad field, e.g. "data.time"; "" for the
	// whole line.
	Field string
	Err   error
}

// Error returns "file:line: field: reason".
func (e *LineError) Error() string {
	s := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns ErrInput and the cause.
func (e *LineError) Unwrap() []error { return []error{ErrInput, e.Err} }

// Options configure Import.
type Options struct {
	// File names the input in errors; "" means "input".
	File string
	// ReorderWindow is how far back in k6 time a point may arrive and still
	// be recorded in its own interval; zero means DefaultReorderWindow.
	// Later points are still recorded, in the interval open when they are
	// read (Stats.Late counts them).
	ReorderWindow time.Duration
	// Interval is the interval of latency.hlog and timeline.ndjson; zero
	// means analyze.DefaultInterval (1 s).
	Interval time.Duration
	// SkipBad skips malformed lines and counts them in Stats.Skipped; by
	// default the first one is an error.
	SkipBad bool
	// IntervalLog and Timeline receive the recorder's interval log and
	// timeline (see analyze.Config); nil writes none. The caller owns them.
	IntervalLog io.Writer
	Timeline    io.Writer
}

// Metric is what the input says about one k6 metric.
type Metric struct {
	// Type and Contains are from the metric's "Metric" line: trend, rate,
	// counter, gauge (or anything else); time, data, default.
	Type     string `json:"type,omitempty"`
	Contains string `json:"contains,omitempty"`
	// Points counts its "Point" lines.
	Points int64 `json:"points"`
}

// Stats account for everything Import read.
type Stats struct {
	// Lines counts the input's lines, blank ones included; Points its
	// "Point" lines.
	Lines  int64
	Points int64
	// Requests counts http_req_duration points recorded as requests,
	// Failed those that failed; Dropped sums dropped_iterations.
	Requests int64
	Failed   int64
	Dropped  int64
	// Late counts requests and drops whose k6 time lay before the interval
	// open when they were recorded (they arrived later than the reorder
	// window allows).
	Late int64
	// Unpaired counts http_req_failed points without an http_req_duration
	// point of the same time and tags; they are not requests.
	Unpaired int64
	// HTTPReqs sums http_reqs; Iterations sums iterations; MaxVUs is the
	// largest vus value.
	HTTPReqs   int64
	Iterations int64
	MaxVUs     int64
	// Checks counts checks points, ChecksPassed the non-zero ones.
	Checks       int64
	ChecksPassed int64
	// Metrics describes each metric by name (at most 1000 names;
	// OtherMetricPoints counts the points of the rest).
	Metrics           map[string]Metric
	OtherMetricPoints int64
	// Skipped counts malformed lines skipped (SkipBad); FirstSkipped holds
	// the first MaxKeptSkips of them.
	Skipped      int64
	FirstSkipped []*LineError
	// PeakBuffered is the largest number of points held for reordering.
	PeakBuffered int
}

// Imported is a k6 run read by Import.
type Imported struct {
	// Recorder holds the requests; it is closed at End.
	Recorder *analyze.Recorder
	// Start is the earliest time of the run (the first point, or the
	// first request's send); End the latest point.
	Start, End time.Time
	// Target is scheme://host of the most common url tag of the requests,
	// "" when they have none.
	Target string
	Stats  Stats
}

// Summary digests the imported run.
func (im *Imported) Summary() *analyze.Summary { return im.Recorder.Summary(im.End) }

// Import reads k6 JSON output from r (plain or gzip-compressed NDJSON) and
// records it. Malformed lines give a *LineError (or are skipped and
// counted, with opts.SkipBad); input without any k6 point is an error
// wrapping ErrInput. Errors writing the interval log or timeline are
// returned as they are.
func Import(r io.Reader, opts Options) (*Imported, error) {
	if opts.File == "" {
		opts.File = "input"
	}
	if opts.ReorderWindow <= 0 {
		opts.ReorderWindow = DefaultReorderWindow
	}
	if opts.Interval <= 0 {
		opts.Interval = analyze.DefaultInterval
	}
	p := &importer{
		opts:  opts,
		idx:   make(map[string][]*pending),
		hosts: make(map[string]int64),
		res:   &Imported{Stats: Stats{Metrics: make(map[string]Metric)}},
	}
	if err := p.read(r); err != nil {
		return nil, err
	}
	if p.res.Stats.Points == 0 {
		return nil, fmt.Errorf("%w: %s: no k6 data points (is it the output of k6 run --out json=FILE?)", ErrInput, opts.File)
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.res, nil
}

// importer is the state of one Import.
type importer struct {
	opts Options
	res  *Imported
	line rawLine

	minTime, maxTime time.Time
	rec              *analyze.Recorder
	clock            *reports.Clock // the recorder's intervals

	queue pendingQueue
	idx   map[string][]*pending // requests by pairing key
	seq   int64
	reqID uint64
	hosts map[string]int64

	lastURL, lastHost string
	seenLine          bool // a good line was read
	keyBuf            []byte
	keys              []string
}

// rawLine is one line of k6 output; data holds the fields of both kinds.
type rawLine struct {
	Type   string   `json:"type"`
	Metric string   `json:"metric"`
	Data   *rawData `json:"data"`
}

type rawData struct {
	// Point
	Time  *string           `json:"time"`
	Value *float64          `json:"value"`
	Tags  map[string]string `json:"tags"`
	// Metric
	Type     string `json:"type"`
	Contains string `json:"contains"`
}

// read feeds every line of r to p.
func (p *importer) read(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%w: %s: gzip header: %v", ErrInput, p.opts.File, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	var (
		long    []byte // a line longer than the reader's buffer
		tooLong bool
	)
	st := &p.res.Stats
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if !tooLong && len(long)+len(b) > MaxLineBytes {
				tooLong, long = true, long[:0]
			}
			if !tooLong {
				long = append(long, b...)
			}
			continue
		}
		if len(long) > 0 {
			long = append(long, b...)
			b, long = long, long[:0]
		}
		if tooLong || len(bytes.TrimRight(b, "\r\n")) > MaxLineBytes {
			tooLong = false
			st.Lines++
			if lerr := p.bad(&LineError{File: p.opts.File, Line: st.Lines, Err: fmt.Errorf("longer than %d bytes", MaxLineBytes)}); lerr != nil {
				return lerr
			}
			b = nil
		}
		if err != nil && err != io.EOF {
			e := &LineError{File: p.opts.File, Line: st.Lines + 1, Err: fmt.Errorf("truncated or corrupt input: %v", err)}
			if lerr := p.bad(e); lerr != nil {
				return lerr
			}
			return nil // keep what was read
		}
		if len(b) > 0 {
			st.Lines++
			if lerr := p.handle(b); lerr != nil {
				if lerr = p.bad(lerr); lerr != nil {
					return lerr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// bad skips e under SkipBad and returns nil; otherwise it returns e. Errors
// that are not *LineError (writing the outputs) are always returned.
func (p *importer) bad(e error) error {
	var le *LineError
	if !p.opts.SkipBad || !errors.As(e, &le) {
		return e
	}
	st := &p.res.Stats
	st.Skipped++
	if len(st.FirstSkipped) < MaxKeptSkips {
		st.FirstSkipped = append(st.FirstSkipped, le)
	}
	return nil
}

func (p *importer) lineErr(field string, format string, args ...any) *LineError {
	return &LineError{File: p.opts.File, Line: p.res.Stats.Lines, Field: field, Err: fmt.Errorf(format, args...)}
}

// handle reads one line. A malformed line changes nothing.
func (p *importer) handle(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	ln := &p.line
	*ln = rawLine{}
	if err := json.Unmarshal(b, ln); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return p.lineErr(te.Field, "want a JSON %s, got %s", jsonKind(te.Type.String()), te.Value)
		}
		if !p.seenLine {
			return p.lineErr("", "not k6 JSON output (k6 run --out json=FILE writes one JSON object per line): %v", err)
		}
		return p.lineErr("", "not a JSON object: %v", err)
	}
	var err error
	switch ln.Type {
	case "Metric":
		err = p.metricLine(ln)
	case "Point":
		err = p.pointLine(ln)
	case "":
		return p.lineErr("type", `missing (want "Metric" or "Point")`)
	default:
		return p.lineErr("type", `unknown line type %q (want "Metric" or "Point")`, ln.Type)
	}
	p.seenLine = p.seenLine || err == nil
	return err
}

// jsonKind names a Go type as a JSON value kind.
func jsonKind(goType string) string {
	switch goType {
	case "string", "*string":
		return "string"
	case "float64", "*float64":
		return "number"
	}
	return "object"
}

func (p *importer) metricLine(ln *rawLine) error {
	if ln.Metric == "" {
		return p.lineErr("metric", "missing")
	}
	if ln.Data == nil {
		return p.lineErr("data", "missing")
	}
	if m, ok := p.metric(ln.Metric); ok {
		m.Type, m.Contains = ln.Data.Type, ln.Data.Contains
		p.res.Stats.Metrics[ln.Metric] = m
	}
	return nil
}

// metric returns the Stats entry of name; false when the cap is reached.
func (p *importer) metric(name string) (Metric, bool) {
	m, ok := p.res.Stats.Metrics[name]
	if !ok && len(p.res.Stats.Metrics) >= maxDistinct {
		return m, false
	}
	return m, true
}

// Earliest and latest accepted point times: k6 writes wall-clock times.
var (
	minPointTime = time.Unix(0, 0)
	maxPointTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

func (p *importer) pointLine(ln *rawLine) error {
	d := ln.Data
	switch {
	case ln.Metric == "":
		return p.lineErr("metric", "missing")
	case d == nil:
		return p.lineErr("data", "missing")
	case d.Time == nil:
		return p.lineErr("data.time", "missing")
	case d.Value == nil:
		return p.lineErr("data.value", "missing")
	}
	t, err := time.Parse(time.RFC3339Nano, *d.Time)
	if err != nil {
		return p.lineErr("data.time", "not an RFC 3339 time: %q", *d.Time)
	}
	if t.Before(minPointTime) || t.After(maxPointTime) {
		return p.lineErr("data.time", "%s is out of range", *d.Time)
	}
	v := *d.Value

	// Check the points that are recorded before anything changes.
	var req *pending
	var drops int64
	switch ln.Metric {
	case MetricReqDuration:
		if req, err = p.request(t, v, d.Tags); err != nil {
			return err
		}
	case MetricDroppedIterations:
		if v < 0 || v > maxDropsPerPoint {
			return p.lineErr("data.value", "%g dropped iterations: want 0 to %d", v, maxDropsPerPoint)
		}
		drops = int64(math.Round(v))
	}

	st := &p.res.Stats
	st.Points++
	advanced := t.After(p.maxTime)
	if m, ok := p.metric(ln.Metric); ok {
		m.Points++
		st.Metrics[ln.Metric] = m
	} else {
		st.OtherMetricPoints++
	}
	p.see(t)
	switch ln.Metric {
	case MetricReqDuration:
		p.addRequest(req)
		p.see(req.sent)
	case MetricReqFailed:
		p.addFailed(t, v != 0, d.Tags)
	case MetricDroppedIterations:
		if drops > 0 {
			p.push(&pending{t: t, drops: drops, scenario: scenarioOf(d.Tags), tags: userTags(d.Tags)})
		}
	case MetricReqs:
		st.HTTPReqs += clampInt(v)
	case MetricIterations:
		st.Iterations += clampInt(v)
	case MetricVUs:
		st.MaxVUs = max(st.MaxVUs, clampInt(v))
	case MetricChecks:
		st.Checks++
		if v != 0 {
			st.ChecksPassed++
		}
	}
	if !advanced && p.queue.Len() <= maxPending {
		// Only a later point moves the window on: a late point waits
		// for the other points of its request, read next.
		return nil
	}
	return p.drain(false)
}

func clampInt(v float64) int64 {
	switch {
	case v > 1e15:
		return 1e15
	case v < -1e15:
		return -1e15
	}
	return int64(math.Round(v))
}

// see notes a point time: before the recorder exists, the earliest one is
// the run's start.
func (p *importer) see(t time.Time) {
	if p.minTime.IsZero() || t.Before(p.minTime) {
		p.minTime = t
	}
	if t.After(p.maxTime) {
		p.maxTime = t
	}
}

// pending is a request or a drop waiting in the reorder buffer.
type pending struct {
	t   time.Time
	seq int64
	key string

	// request
	hasDur   bool
	sent     time.Time
	status   int
	statusOK bool // the status tag was present
	expected string
	code     string // error_code tag
	errText  string // error tag
	hasFail  bool   // paired with an http_req_failed point
	failed   bool

	scenario string
	tags     map[string]string
	drops    int64
}

// builtinTags are k6's system tags: they describe the request and are not
// copied to gonogo tags.
var builtinTags = map[string]bool{
	"method": true, "url": true, "name": true, "status": true, "proto": true,
	"tls_version": true, "expected_response": true, "group": true,
	"scenario": true, "error": true, "error_code": true,
	// system tags that are off by default or belong to other protocols
	"subproto": true, "check": true, "ip": true, "vu": true, "iter": true,
	"ocsp_status": true, "service": true, "rpc_type": true,
}

// DefaultScenario is the scenario of points without a scenario tag, as k6
// names the scenario of a script without `scenarios`.
const DefaultScenario = "default"

func scenarioOf(tags map[string]string) string {
	if s := tags["scenario"]; s != "" {
		return s
	}
	return DefaultScenario
}

// userTags returns the tags that are not k6 system tags, nil when none.
func userTags(tags map[string]string) map[string]string {
	var out map[string]string
	for k, v := range tags {
		if builtinTags[k] {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[k] = v
	}
	return out
}

// request checks an http_req_duration point and builds its request.
func (p *importer) request(t time.Time, ms float64, tags map[string]string) (*pending, error) {
	if ms < 0 {
		return nil, p.lineErr("data.value", "negative duration %g ms", ms)
	}
	q := &pending{t: t, hasDur: true, expected: tags["expected_response"], code: tags["error_code"], errText: tags["error"]}
	if s, ok := tags["status"]; ok && s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 999 {
			return nil, p.lineErr("data.tags.status", "not an HTTP status: %q", s)
		}
		q.status, q.statusOK = n, true
	}
	ms = min(ms, maxDurationMs)
	q.sent = t.Add(-time.Duration(math.Round(ms * float64(time.Millisecond))))
	q.scenario = scenarioOf(tags)
	q.tags = userTags(tags)
	q.key = p.key(t, tags)
	if u := tags["url"]; u != "" {
		if u != p.lastURL {
			p.lastURL, p.lastHost = u, reports.URLHost(u)
		}
		if _, ok := p.hosts[p.lastHost]; p.lastHost != "" && (ok || len(p.hosts) < maxDistinct) {
			p.hosts[p.lastHost]++
		}
	}
	return q, nil
}

// key pairs the points of one request: the same instant and tags.
func (p *importer) key(t time.Time, tags map[string]string) string {
	b := strconv.AppendInt(p.keyBuf[:0], t.Unix(), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(t.Nanosecond()), 10)
	keys := p.keys[:0]
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, 0)
		b = append(b, k...)
		b = append(b, 1)
		b = append(b, tags[k]...)
	}
	p.keyBuf, p.keys = b, keys[:0]
	return string(b)
}

// addRequest buffers an http_req_duration point, pairing it with an
// http_req_failed point read before it.
func (p *importer) addRequest(q *pending) {
	for _, o := range p.idx[q.key] {
		if !o.hasDur {
			o.hasDur, o.sent, o.status, o.statusOK = true, q.sent, q.status, q.statusOK
			o.expected, o.code, o.errText, o.scenario, o.tags = q.expected, q.code, q.errText, q.scenario, q.tags
			return
		}
	}
	p.idx[q.key] = append(p.idx[q.key], q)
	p.push(q)
}

// addFailed pairs an http_req_failed point with its request, or buffers it
// until its request comes.
func (p *importer) addFailed(t time.Time, failed bool, tags map[string]string) {
	k := p.key(t, tags)
	for _, o := range p.idx[k] {
		if !o.hasFail {
			o.hasFail, o.failed = true, failed
			return
		}
	}
	q := &pending{t: t, key: k, hasFail: true, failed: failed}
	p.idx[k] = append(p.idx[k], q)
	p.push(q)
}

func (p *importer) push(q *pending) {
	p.seq++
	q.seq = p.seq
	heap.Push(&p.queue, q)
	if n := p.queue.Len(); n > p.res.Stats.PeakBuffered {
		p.res.Stats.PeakBuffered = n
	}
}

// drain records the buffered points that are older than the reorder window
// (all of them when all is set), in time order.
func (p *importer) drain(all bool) error {
	watermark := p.maxTime.Add(-p.opts.ReorderWindow)
	for p.queue.Len() > 0 {
		q := p.queue.items[0]
		if !all && q.t.After(watermark) && p.queue.Len() <= maxPending {
			return nil
		}
		heap.Pop(&p.queue)
		if err := p.emit(q); err != nil {
			return err
		}
	}
	return nil
}

// emit records one buffered point: it closes the intervals that end before
// it, then records it.
func (p *importer) emit(q *pending) error {
	if q.key != "" {
		list := p.idx[q.key]
		if i := slices.Index(list, q); i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(p.idx, q.key)
		} else {
			p.idx[q.key] = list
		}
	}
	if q.drops == 0 && !q.hasDur {
		p.res.Stats.Unpaired++
		return nil
	}
	if err := p.advance(q.t, true); err != nil {
		return err
	}
	st := &p.res.Stats
	if q.t.Before(p.clock.Open) {
		st.Late++
	}
	if q.drops > 0 {
		req := &gonogo.Request{Scenario: q.scenario, Tags: q.tags}
		for range q.drops {
			p.rec.Drop(req)
		}
		st.Dropped += q.drops
		return nil
	}
	p.reqID++
	req := &gonogo.Request{ID: p.reqID, Scenario: q.scenario, Intended: q.sent, Tags: q.tags}
	res := gonogo.Result{Request: req, Sent: q.sent, Done: q.t, Status: q.status}
	res.Class, res.Err = q.outcome()
	p.rec.Record(&res)
	st.Requests++
	if res.Failed() {
		st.Failed++
	}
	return nil
}

// outcome decides whether the request failed and why: its http_req_failed
// point when there is one, else its expected_response tag, else its status.
func (q *pending) outcome() (gonogo.ErrorClass, string) {
	var failed bool
	switch {
	case q.hasFail:
		failed = q.failed
	case q.expected == "false":
		failed = true
	case q.expected == "true":
		failed = false
	default:
		failed = q.statusOK && (q.status == 0 || q.status >= 400)
	}
	if !failed {
		return gonogo.ErrNone, ""
	}
	class := gonogo.ErrOther
	switch {
	case !q.statusOK:
	case q.status >= 500:
		class = gonogo.ErrHTTP5xx
	case q.status >= 400:
		class = gonogo.ErrHTTP4xx
	case q.status == 0:
		class = noResponseClass(q.code)
	}
	msg := q.errText
	switch {
	case msg != "":
	case q.statusOK && q.status > 0:
		msg = strconv.Itoa(q.status)
		if t := http.StatusText(q.status); t != "" {
			msg += " " + t
		}
		msg = "HTTP " + msg
	case q.code != "":
		msg = "k6 error_code " + q.code
	default:
		msg = "failed (k6 http_req_failed)"
	}
	return class, msg
}

// noResponseClass classifies a request that got no response (status 0) by
// its k6 error_code: 1050 (request timeout) and 1211 (dial timeout) are
// timeouts, 1600–1699 (HTTP/2) protocol errors, everything else (DNS, TCP,
// TLS, unknown) a connect error.
func noResponseClass(code string) gonogo.ErrorClass {
	n, _ := strconv.Atoi(code)
	switch {
	case n == 1050 || n == 1211:
		return gonogo.ErrTimeout
	case n >= 1600 && n < 1700:
		return gonogo.ErrProtocol
	}
	return gonogo.ErrConnect
}

// advance creates the recorder at the first recorded point and closes
// every interval that ends before t (or at t, when inclusive: a point at a
// boundary belongs to the next interval).
func (p *importer) advance(t time.Time, inclusive bool) error {
	if p.rec == nil {
		start := p.minTime
		rec, err := analyze.NewRecorder(analyze.Config{
			Start: start, Interval: p.opts.Interval,
			IntervalLog: p.opts.IntervalLog, Timeline: p.opts.Timeline,
		})
		if err != nil {
			return err
		}
		p.rec, p.res.Start = rec, start
		p.clock = reports.NewClock(rec, start, p.opts.Interval, maxEmptyIntervals)
	}
	return p.clock.Advance(t, inclusive)
}

// finish records what is still buffered and closes the recorder at the
// latest point.
func (p *importer) finish() error {
	if err := p.drain(true); err != nil {
		return err
	}
	end := p.maxTime
	if err := p.advance(end, false); err != nil {
		return err
	}
	if err := p.rec.Close(end); err != nil {
		return err
	}
	p.res.Recorder, p.res.End = p.rec, end
	p.res.Target = reports.MostCommon(p.hosts)
	return nil
}

// pendingQueue is a min-heap of pending points by time, then arrival.
type pendingQueue struct{ items []*pending }

func (q *pendingQueue) Len() int { return len(q.items) }
func (q *pendingQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if !a.t.Equal(b.t) {
		return a.t.Before(b.t)
	}
	return a.seq < b.seq
}
func (q *pendingQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *pendingQueue) Push(x any)    { q.items = append(q.items, x.(*pending)) }
func (q *pendingQueue) Pop() any {
	n := len(q.items)
	it := q.items[n-1]
	q.items[n-1] = nil
	q.items = q.items[:n-1]
	return it
}

var _ heap.Interface = (*pendingQueue)(nil)
