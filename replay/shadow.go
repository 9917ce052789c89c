package replay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo"
)

// Shadow fan-out: a gonogo.Client that sends every request to the primary,
// synchronously, and mirrors it asynchronously to secondary and candidate
// versions, assembling every target's answer into a gonogo.Pair.

// Defaults of FanoutOptions.
const (
	// DefaultQueueSize is the mirror queue length per mirror.
	DefaultQueueSize = 1024
	// DefaultWorkers is the number of concurrent requests per mirror.
	DefaultWorkers = 64
	// MaxPairRequestBytes caps Pair.Request.
	MaxPairRequestBytes = 4 << 10
	// CloseGrace is how long Close waits, after its context ended and the
	// mirrors' requests were cancelled, for the mirror workers to return.
	CloseGrace = 5 * time.Second
)

// PrimaryTarget is the Exchange.Target of the primary's answer.
const PrimaryTarget = "primary"

// Exchange.Err values of the answers a mirror never gave.
const (
	// NotMirroredUnsafe marks a request not mirrored because of its method
	// (see SafeToMirror); it counts as skipped.
	NotMirroredUnsafe = "not mirrored: unsafe method"
	// NotMirroredQueueFull marks a request dropped because the mirror's
	// queue was full; it counts as dropped.
	NotMirroredQueueFull = "not mirrored: queue full"
	// NotMirroredClosed marks a request dropped because the fan-out was
	// closing: Do after Close, or still queued when Close gave up waiting.
	NotMirroredClosed = "not mirrored: fan-out closed"
	// NoAnswerBeforeClose marks a mirrored request whose answer had not
	// come when Close flushed its pair (Class canceled, not Dropped).
	NoAnswerBeforeClose = "no answer before the fan-out closed"
)

// InferencePaths are the request paths (path.Match patterns, matched
// against the path without its query) that Fanout mirrors whatever their
// method: the OpenAI completions, chat and embeddings endpoints, the KServe
// v2 (Open Inference Protocol) infer endpoint, and the KServe v1 / TF
// Serving predict endpoint. Inference requests are POSTs that change
// nothing; any other POST, PUT, PATCH or DELETE may (place an order, delete
// a user), so it is not mirrored unless FanoutOptions.AllowUnsafe.
var InferencePaths = []string{
	"/v1/completions",
	"/v1/chat/completions",
	"/v1/embeddings",
	"/v2/models/*/infer",
	"/v2/models/*/versions/*/infer",
	"/v1/models/*:predict",
}

// UnsafeMethods are the methods that Fanout mirrors only to InferencePaths
// unless FanoutOptions.AllowUnsafe.
var UnsafeMethods = []string{"POST", "PUT", "PATCH", "DELETE"}

// SafeToMirror reports whether a recorded request may be sent to mirrors
// without AllowUnsafe: its method is not one of UnsafeMethods, or its path
// is one of InferencePaths. A request with no recording (nil) is the
// client's configured request and is mirrored.
func SafeToMirror(rec *gonogo.Recorded) bool {
	if rec == nil || !slices.Contains(UnsafeMethods, strings.ToUpper(rec.Method)) {
		return true
	}
	p, _, _ := strings.Cut(rec.Path, "?")
	for _, pat := range InferencePaths {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// Mirror is one asynchronous target of a shadow run.
type Mirror struct {
	// Name is the target's role in pairs and stats: "secondary",
	// "candidate", "candidate-2", …
	Name string
	// Client sends the mirrored requests. It should carry its own timeout:
	// a mirror's answer is waited for until it comes.
	Client gonogo.Client
}

// FanoutOptions configures a Fanout; zero values mean the defaults.
type FanoutOptions struct {
	// QueueSize is the number of requests waiting per mirror; a request
	// that finds its mirror's queue full is dropped for that mirror.
	// 0 means DefaultQueueSize.
	QueueSize int
	// Workers is the number of concurrent requests per mirror; 0 means
	// DefaultWorkers.
	Workers int
	// AllowUnsafe mirrors requests that SafeToMirror rejects.
	AllowUnsafe bool
	// Timeout, when > 0, bounds each mirrored request on top of the mirror
	// client's own timeout.
	Timeout time.Duration
}

// PairSink receives the assembled pairs of a shadow run. WritePair must be
// safe for concurrent use and must not keep the pair after it returns.
type PairSink interface {
	WritePair(p *gonogo.Pair) error
}

// BodyClient is an optional capability of a primary client: the request
// body it sends for a request that has no recording (the openai and kserve
// clients have it). Fanout uses it for Pair.Request.
type BodyClient interface {
	Body(req *gonogo.Request) []byte
}

// MirrorStats counts what happened to the requests of one mirror.
type MirrorStats struct {
	// Sent counts requests sent to the mirror (answered or failed).
	Sent int64 `json:"sent"`
	// Dropped counts requests not sent: queue full, or fan-out closed.
	Dropped int64 `json:"dropped"`
	// Skipped counts requests not mirrored because of their method.
	Skipped int64 `json:"skipped"`
	// Failed counts sent requests that failed (any error class).
	Failed int64 `json:"failed"`
}

// Fanout is a gonogo.Client for shadow runs. Do sends the request to the
// primary on the caller's goroutine, so the engine measures the primary
// exactly as in a load run, then hands a copy of the request to every
// mirror's bounded queue without blocking. Each mirror's workers send what
// their queue holds; a slow or dead mirror fills its queue and its further
// requests are dropped, never slowing the primary.
//
// When every target's answer to a request is in (answered, failed, dropped
// or skipped), the request's gonogo.Pair goes to the PairSink: Exchanges
// holds the primary's answer first, then the mirrors' in the order given.
//
// Create one with NewFanout and call Close once the engine has returned.
type Fanout struct {
	primary gonogo.Client
	mirrors []*mirror
	sink    PairSink
	opts    FanoutOptions

	// base is the mirrors' context: the engine's request context ends with
	// the run, the mirrors' requests outlive it until Close.
	base   context.Context
	cancel context.CancelFunc

	closeMu sync.RWMutex // guards closed and the queues' closing
	closed  bool

	mu      sync.Mutex // guards seq and pending
	seq     uint64
	pending map[uint64]*pending

	workers sync.WaitGroup

	errMu   sync.Mutex
	sinkErr error
}

var _ gonogo.Client = (*Fanout)(nil)

type mirror struct {
	name   string
	index  int // in Pair.Exchanges
	client gonogo.Client
	queue  chan *item

	sent, dropped, skipped, failed atomic.Int64
}

// item is one mirrored request, shared read-only by every mirror.
type item struct {
	key uint64
	req gonogo.Request
}

// pending is a pair waiting for left more exchanges.
type pending struct {
	pair gonogo.Pair
	left int
}

// NewFanout returns a Fanout sending to primary and mirroring to mirrors,
// with pairs going to sink. It starts the mirrors' workers; Close stops
// them.
func NewFanout(primary gonogo.Client, mirrors []Mirror, sink PairSink, opts FanoutOptions) *Fanout {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	f := &Fanout{primary: primary, sink: sink, opts: opts, pending: make(map[uint64]*pending)}
	f.base, f.cancel = context.WithCancel(context.Background())
	for i, m := range mirrors {
		mm := &mirror{name: m.Name, index: i + 1, client: m.Client, queue: make(chan *item, opts.QueueSize)}
		f.mirrors = append(f.mirrors, mm)
		for range opts.Workers {
			f.workers.Add(1)
			go f.work(mm)
		}
	}
	return f
}

// Do sends req to the primary into res, then queues it for every mirror.
// See gonogo.Client.
func (f *Fanout) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	if res.Sent.IsZero() {
		res.Sent = time.Now()
	}
	f.primary.Do(ctx, req, res)
	done := res.Done
	if done.IsZero() {
		done = time.Now()
	}
	it := &item{req: cloneRequest(req)}
	p := &pending{pair: gonogo.Pair{
		ID: req.ID, Row: req.Row, Tags: it.req.Tags, InputTokens: req.InputTokens,
		Request:   f.describe(req),
		Exchanges: make([]gonogo.Exchange, 1+len(f.mirrors)),
	}}
	p.pair.Exchanges[0] = exchange(PrimaryTarget, res, done)
	if len(f.mirrors) == 0 {
		f.emit(&p.pair)
		return
	}
	safe := f.opts.AllowUnsafe || SafeToMirror(req.Recorded)

	f.closeMu.RLock()
	closed := f.closed
	f.mu.Lock()
	f.seq++
	it.key, p.left = f.seq, len(f.mirrors)
	f.pending[it.key] = p
	f.mu.Unlock()
	for _, m := range f.mirrors {
		reason := ""
		switch {
		case !safe:
			m.skipped.Add(1)
			reason = NotMirroredUnsafe
		case closed:
			m.dropped.Add(1)
			reason = NotMirroredClosed
		default:
			select {
			case m.queue <- it:
				continue
			default:
				m.dropped.Add(1)
				reason = NotMirroredQueueFull
			}
		}
		f.complete(it.key, m.index, gonogo.Exchange{Target: m.name, Dropped: true, Err: reason})
	}
	f.closeMu.RUnlock()
}

// work sends the requests of one mirror's queue until it is closed.
func (f *Fanout) work(m *mirror) {
	defer f.workers.Done()
	var res gonogo.Result
	for it := range m.queue {
		if f.base.Err() != nil {
			m.dropped.Add(1)
			f.complete(it.key, m.index, gonogo.Exchange{Target: m.name, Dropped: true, Err: NotMirroredClosed})
			continue
		}
		res = gonogo.Result{Request: &it.req, ChunkGaps: res.ChunkGaps[:0], Output: res.Output[:0]}
		ctx, cancel := f.base, context.CancelFunc(nil)
		if f.opts.Timeout > 0 {
			ctx, cancel = context.WithTimeout(f.base, f.opts.Timeout)
		}
		res.Sent = time.Now()
		m.client.Do(ctx, &it.req, &res)
		if cancel != nil {
			cancel()
		}
		done := res.Done
		if done.IsZero() {
			done = time.Now()
		}
		m.sent.Add(1)
		if res.Failed() {
			m.failed.Add(1)
		}
		f.complete(it.key, m.index, exchange(m.name, &res, done))
	}
}

// complete records one mirror's exchange and emits the pair when it was
// the last one missing. A pair already flushed by Close is left alone.
func (f *Fanout) complete(key uint64, index int, ex gonogo.Exchange) {
	f.mu.Lock()
	p := f.pending[key]
	if p == nil {
		f.mu.Unlock()
		return
	}
	p.pair.Exchanges[index] = ex
	p.left--
	if p.left > 0 {
		f.mu.Unlock()
		return
	}
	delete(f.pending, key)
	f.mu.Unlock()
	f.emit(&p.pair)
}

func (f *Fanout) emit(p *gonogo.Pair) {
	if err := f.sink.WritePair(p); err != nil {
		f.errMu.Lock()
		if f.sinkErr == nil {
			f.sinkErr = fmt.Errorf("replay: fan-out: writing pair %d: %w", p.ID, err)
		}
		f.errMu.Unlock()
	}
}

// Close stops taking requests for the mirrors, waits until their queues
// are drained and their answers are in (or until ctx ends), and writes
// every pair still pending. When ctx ends first, the mirrors' requests in
// flight are cancelled (their exchanges say canceled), those still queued
// are recorded as dropped, and Close waits at most CloseGrace more for the
// workers; a pair whose mirror answer is still missing then gets an
// Exchange with Class canceled and Err NoAnswerBeforeClose.
//
// Close returns an error wrapping ctx's when the queues were not drained,
// and the first error of the PairSink, if any. It does not close the sink.
// Call it after the last Do; Do after Close still sends to the primary and
// records the mirrors as dropped.
func (f *Fanout) Close(ctx context.Context) error {
	f.closeMu.Lock()
	if !f.closed {
		f.closed = true
		for _, m := range f.mirrors {
			close(m.queue)
		}
	}
	f.closeMu.Unlock()

	drained := make(chan struct{})
	go func() { f.workers.Wait(); close(drained) }()
	var errs []error
	select {
	case <-drained:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("replay: fan-out: mirror queues not drained: %w", ctx.Err()))
		f.cancel()
		t := time.NewTimer(CloseGrace)
		select {
		case <-drained:
		case <-t.C:
		}
		t.Stop()
	}
	f.cancel()

	f.mu.Lock()
	keys := slices.Sorted(maps.Keys(f.pending))
	left := make([]*pending, len(keys))
	for i, k := range keys {
		left[i] = f.pending[k]
	}
	clear(f.pending)
	f.mu.Unlock()
	for _, p := range left {
		for i := 1; i < len(p.pair.Exchanges); i++ {
			if p.pair.Exchanges[i].Target == "" {
				p.pair.Exchanges[i] = gonogo.Exchange{Target: f.mirrors[i-1].name, Class: gonogo.ErrCanceled, Err: NoAnswerBeforeClose}
			}
		}
		f.emit(&p.pair)
	}
	f.errMu.Lock()
	if f.sinkErr != nil {
		errs = append(errs, f.sinkErr)
	}
	f.errMu.Unlock()
	return errors.Join(errs...)
}

// Stats returns the counts of every mirror by name.
func (f *Fanout) Stats() map[string]MirrorStats {
	out := make(map[string]MirrorStats, len(f.mirrors))
	for _, m := range f.mirrors {
		out[m.name] = MirrorStats{
			Sent: m.sent.Load(), Dropped: m.dropped.Load(), Skipped: m.skipped.Load(), Failed: m.failed.Load(),
		}
	}
	return out
}

// Pending returns the number of pairs waiting for a mirror's answer; it is
// bounded by the mirrors' queues and workers.
func (f *Fanout) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// exchange is a target's answer as recorded in a pair. Output is copied:
// the result is reused.
func exchange(target string, res *gonogo.Result, done time.Time) gonogo.Exchange {
	return gonogo.Exchange{
		Target:        target,
		Status:        res.Status,
		Class:         res.Class,
		Err:           res.Err,
		LatencyMicros: done.Sub(res.Sent).Microseconds(),
		TTFTMicros:    res.TTFT.Microseconds(),
		OutputTokens:  res.OutputTokens,
		Bytes:         res.BytesIn,
		Output:        string(res.Output),
	}
}

// cloneRequest copies what mirrors read of req, deep enough that the
// engine's reuse of req (and a source's reuse of its buffers) cannot race
// with them.
func cloneRequest(req *gonogo.Request) gonogo.Request {
	c := *req
	c.Tags = maps.Clone(req.Tags)
	if rec := req.Recorded; rec != nil {
		c.Recorded = &gonogo.Recorded{
			Method: rec.Method, Path: rec.Path,
			Header: rec.Header.Clone(),
			Body:   slices.Clone(rec.Body),
		}
	}
	return c
}

// describe is Pair.Request: the body as sent when known, else a short
// description, at most MaxPairRequestBytes.
func (f *Fanout) describe(req *gonogo.Request) string {
	if rec := req.Recorded; rec != nil {
		if len(rec.Body) > 0 {
			return capText(rec.Body)
		}
		return capText([]byte(rec.Method + " " + rec.Path))
	}
	if bc, ok := f.primary.(BodyClient); ok {
		return capText(bc.Body(req))
	}
	var parts []string
	if req.InputTokens > 0 {
		parts = append(parts, "input_tokens="+strconv.Itoa(req.InputTokens))
	}
	if req.OutputTokens > 0 {
		parts = append(parts, "output_tokens="+strconv.Itoa(req.OutputTokens))
	}
	return strings.Join(parts, " ")
}

// capText returns b as a string of at most MaxPairRequestBytes, cut on a
// rune boundary and marked with "…" when longer.
func capText(b []byte) string {
	if len(b) <= MaxPairRequestBytes {
		return string(b)
	}
	const mark = "…"
	n := MaxPairRequestBytes - len(mark)
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + mark
}
