// Package mirror copies requests to secondary and candidate versions of a
// service while the primary (production) version serves them, and
// assembles every target's answer to a request into a gonogo.Pair, the
// unit of divergence analysis.
//
// The core, Fanout, needs no gonogo.Client for the primary: the caller
// starts a Flight when the primary's request leaves (Fanout.Start) and
// reports the primary's answer when it is complete (Flight.Finish). A live
// proxy whose response is still streaming to a user uses it so, as does
// Client, the gonogo.Client that shadow runs put in front of the primary.
//
// Start sends the copies at once, concurrently with the primary's request,
// each on its own goroutine. Each mirror has an in-flight cap, meant to be
// the concurrency production traffic has (a scenario's maxVUs, a proxy's
// connection limit), so that a mirror as fast as the primary never reaches
// it; a copy that finds its mirror at the cap is dropped and counted, never
// queued. A queue would send it late, and a mirror timed from a late send
// looks faster than it is.
//
// Every target of a pair is timed from the same base, the request's
// intended send time (gonogo.Request.Intended): Exchange.LatencyMicros.
// Exchange.ServiceMicros is the time from the target's own send.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo"
)

// Defaults and bounds of a Fanout.
const (
	// DefaultMaxInFlight is the in-flight cap per mirror when
	// Options.MaxInFlight is 0: a scenario's default maxVUs.
	DefaultMaxInFlight = 1000
	// MaxPairRequestBytes caps Pair.Request.
	MaxPairRequestBytes = 4 << 10
	// CloseGrace is how long Close waits, after its context ended and the
	// mirrors' requests were cancelled, for those requests to return.
	CloseGrace = 5 * time.Second
)

// PrimaryTarget is the Exchange.Target of the primary's answer, always
// the first exchange of a pair.
const PrimaryTarget = "primary"

// Exchange.Err values of the answers a target never gave.
const (
	// NotMirroredUnsafe marks a request not mirrored because of its method
	// (see SafeToMirror); it counts as skipped.
	NotMirroredUnsafe = "not mirrored: unsafe method"
	// NotMirroredBusy marks a request dropped because the mirror had
	// Options.MaxInFlight requests in flight; it counts as dropped.
	NotMirroredBusy = "not mirrored: in-flight cap reached"
	// NotMirroredClosed marks a request dropped because the fan-out was
	// closed; it counts as dropped.
	NotMirroredClosed = "not mirrored: fan-out closed"
	// NoAnswerBeforeClose marks an answer (a mirror's, or the primary's
	// that Flight.Finish never reported) still missing when Close wrote
	// the pair: Class canceled, not Dropped, FromIntended false. A
	// mirror's counts as failed.
	NoAnswerBeforeClose = "no answer before the fan-out closed"
)

// ErrConfig is wrapped by the errors NewFanout and NewClient return for
// targets or options they cannot use.
var ErrConfig = errors.New("mirror: invalid configuration")

// Target is one mirror: a secondary or candidate version.
type Target struct {
	// Name is the target's role in pairs and stats: "secondary",
	// "candidate", "candidate-2", … It must be unique and not
	// PrimaryTarget.
	Name string
	// Client sends the mirrored requests. It should carry its own timeout
	// (Options.Timeout adds one): an answer is waited for until it comes
	// or Close gives up.
	Client gonogo.Client
}

// Options configure a Fanout; zero values take the defaults.
type Options struct {
	// MaxInFlight caps each mirror's requests in flight; a copy that finds
	// its mirror at the cap is dropped (Stats.Dropped, NotMirroredBusy).
	// Set it to the concurrency the primary's traffic has, e.g. the
	// scenario's maxVUs. 0 means DefaultMaxInFlight.
	MaxInFlight int
	// AllowUnsafe mirrors requests that SafeToMirror rejects.
	AllowUnsafe bool
	// Timeout, when > 0, bounds each mirrored request on top of the mirror
	// client's own timeout.
	Timeout time.Duration
}

// PairSink receives the assembled pairs. WritePair must be safe for
// concurrent use and must not keep the pair after it returns; an error
// does not stop the fan-out, and Close returns the first one.
type PairSink interface {
	WritePair(p *gonogo.Pair) error
}

// BodyClient is an optional capability of a primary client: the request
// body it sends for a request that has no recording (the openai and kserve
// clients have it). Client uses it for Pair.Request.
type BodyClient interface {
	Body(req *gonogo.Request) []byte
}

// Stats counts what happened to the requests of one mirror. Sent +
// Dropped + Skipped is the number of flights started.
type Stats struct {
	// Sent counts requests sent to the mirror (answered, failed or never
	// answered).
	Sent int64 `json:"sent"`
	// Dropped counts requests not sent: in-flight cap reached, or fan-out
	// closed.
	Dropped int64 `json:"dropped"`
	// Skipped counts requests not mirrored because of their method.
	Skipped int64 `json:"skipped"`
	// Failed counts sent requests that failed (any error class) or had no
	// answer when Close wrote their pair.
	Failed int64 `json:"failed"`
}

// Fanout is the mirror core: it sends a copy of each request it is told
// about to every mirror and writes each request's gonogo.Pair to a
// PairSink once every target's answer is in. Exchanges holds the primary's
// answer first, then the mirrors' in the order given. Its methods are safe
// for concurrent use.
//
// Create one with NewFanout; call Close after the last Flight.Finish.
type Fanout struct {
	targets []*target
	sink    PairSink
	opts    Options
	// body describes requests without a recording (Pair.Request); nil
	// describes them by their token counts.
	body func(*gonogo.Request) []byte

	// base is the mirrors' context: it outlives the caller's requests
	// until Close.
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards closed, seq, flights, and sends.Add
	closed  bool
	seq     uint64
	flights map[uint64]*Flight
	sends   sync.WaitGroup // mirrored requests in flight

	errMu   sync.Mutex
	sinkErr error
}

type target struct {
	name     string
	index    int // in Pair.Exchanges
	client   gonogo.Client
	inFlight atomic.Int64

	sent, dropped, skipped, failed atomic.Int64
}

// Flight is one request on its way to the primary and the mirrors. The
// caller reports the primary's answer with Finish, once.
type Flight struct {
	f   *Fanout
	key uint64
	// req is the fan-out's own copy of the request, read by every mirror.
	req gonogo.Request
	// intended is the base of every target's latency.
	intended time.Time

	mu      sync.Mutex // guards pair and left until flushed
	pair    gonogo.Pair
	left    int  // exchanges still missing, the primary's included
	flushed bool // the pair was handed to the sink (or is being)
}

// NewFanout returns a Fanout mirroring to targets and writing pairs to
// sink. The error wraps ErrConfig and names what is wrong: a target
// without a name or client, a repeated name, a nil sink, a negative
// option.
func NewFanout(targets []Target, sink PairSink, opts Options) (*Fanout, error) {
	switch {
	case sink == nil:
		return nil, fmt.Errorf("%w: no pair sink", ErrConfig)
	case opts.MaxInFlight < 0:
		return nil, fmt.Errorf("%w: max in flight %d: want ≥ 0", ErrConfig, opts.MaxInFlight)
	case opts.Timeout < 0:
		return nil, fmt.Errorf("%w: timeout %v: want ≥ 0", ErrConfig, opts.Timeout)
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	f := &Fanout{sink: sink, opts: opts, flights: make(map[uint64]*Flight)}
	seen := map[string]bool{PrimaryTarget: true}
	for i, t := range targets {
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("%w: target %d has no name", ErrConfig, i+1)
		case seen[t.Name]:
			return nil, fmt.Errorf("%w: target name %q used twice (or is the primary's)", ErrConfig, t.Name)
		case t.Client == nil:
			return nil, fmt.Errorf("%w: target %s has no client", ErrConfig, t.Name)
		}
		seen[t.Name] = true
		f.targets = append(f.targets, &target{name: t.Name, index: i + 1, client: t.Client})
	}
	f.base, f.cancel = context.WithCancel(context.Background())
	return f, nil
}

// Start tells the fan-out that req is leaving for the primary now, and
// sends a copy of it to every mirror at once, each on its own goroutine;
// a mirror at its in-flight cap, or a request SafeToMirror rejects (unless
// AllowUnsafe), gets none and its exchange is marked Dropped. After Close,
// every mirror's copy is dropped.
//
// Every target's latency is timed from req.Intended (from the moment of
// Start when it is zero: a live proxy may leave it so). Start copies req
// deeply: the caller may reuse it, and its buffers, as soon as Start
// returns. It does not block.
func (f *Fanout) Start(req *gonogo.Request) *Flight {
	intended := req.Intended
	if intended.IsZero() {
		intended = time.Now()
	}
	return f.start(req, intended)
}

// start is Start with every target timed from intended.
func (f *Fanout) start(req *gonogo.Request, intended time.Time) *Flight {
	fl := &Flight{f: f, req: cloneRequest(req), intended: intended}
	fl.pair = gonogo.Pair{
		ID: req.ID, Row: req.Row, Tags: fl.req.Tags, InputTokens: req.InputTokens,
		Exchanges: make([]gonogo.Exchange, 1+len(f.targets)),
	}
	fl.left = len(fl.pair.Exchanges)
	safe := f.opts.AllowUnsafe || SafeToMirror(req.Recorded)
	var buf [8]*target
	launch := buf[:0]
	for _, t := range f.targets {
		switch {
		case !safe:
			t.skipped.Add(1)
			fl.noSend(t, NotMirroredUnsafe)
		case t.inFlight.Add(1) > int64(f.opts.MaxInFlight):
			t.inFlight.Add(-1)
			t.dropped.Add(1)
			fl.noSend(t, NotMirroredBusy)
		default:
			launch = append(launch, t)
		}
	}
	f.mu.Lock()
	if f.closed {
		for _, t := range launch {
			t.inFlight.Add(-1)
			t.dropped.Add(1)
			fl.noSend(t, NotMirroredClosed)
		}
		launch = launch[:0]
	}
	f.seq++
	fl.key = f.seq
	f.flights[fl.key] = fl
	f.sends.Add(len(launch))
	f.mu.Unlock()
	for _, t := range launch {
		go f.send(fl, t)
	}
	return fl
}

// noSend records, before fl is shared, that t gets no copy.
func (fl *Flight) noSend(t *target, reason string) {
	fl.pair.Exchanges[t.index] = gonogo.Exchange{Target: t.name, Dropped: true, Err: reason}
	fl.left--
}

var resultPool = sync.Pool{New: func() any { return new(gonogo.Result) }}

// send sends fl's request to t and records the answer.
func (f *Fanout) send(fl *Flight, t *target) {
	defer f.sends.Done()
	res := resultPool.Get().(*gonogo.Result)
	*res = gonogo.Result{Request: &fl.req, ChunkGaps: res.ChunkGaps[:0], Output: res.Output[:0]}
	ctx, cancel := f.base, context.CancelFunc(nil)
	if f.opts.Timeout > 0 {
		ctx, cancel = context.WithTimeout(f.base, f.opts.Timeout)
	}
	t.sent.Add(1)
	res.Sent = time.Now()
	t.client.Do(ctx, &fl.req, res)
	if res.Done.IsZero() {
		res.Done = time.Now()
	}
	if cancel != nil {
		cancel()
	}
	t.inFlight.Add(-1)
	if fl.complete(t.index, exchange(t.name, res, fl.intended)) && res.Failed() {
		t.failed.Add(1)
	}
	resultPool.Put(res)
}

// Finish reports the primary's answer: res as a protocol client measured
// it (Sent, Done, Status, Class, Err, TTFT, OutputTokens, BytesIn,
// Output; Request is not read), timed from the same intended send time as
// the mirrors'. A zero res.Done means now. The pair is written when the
// last answer is in, which may be during this call. Only the first call
// counts; res is not kept.
func (fl *Flight) Finish(res *gonogo.Result) {
	fl.complete(0, exchange(PrimaryTarget, res, fl.intended))
}

// complete records exchange i and writes the pair when it was the last
// one missing. It reports false, recording nothing, when exchange i is
// already in or Close already wrote the pair.
func (fl *Flight) complete(i int, ex gonogo.Exchange) bool {
	fl.mu.Lock()
	if fl.flushed || fl.pair.Exchanges[i].Target != "" {
		fl.mu.Unlock()
		return false
	}
	fl.pair.Exchanges[i] = ex
	fl.left--
	last := fl.left == 0
	fl.flushed = last
	fl.mu.Unlock()
	if last {
		f := fl.f
		f.mu.Lock()
		delete(f.flights, fl.key)
		f.mu.Unlock()
		f.emit(fl)
	}
	return true
}

// emit describes fl's request and writes its pair; fl is flushed, so no
// one else touches the pair.
func (f *Fanout) emit(fl *Flight) {
	fl.pair.Request = f.describe(&fl.req)
	if err := f.sink.WritePair(&fl.pair); err != nil {
		f.errMu.Lock()
		if f.sinkErr == nil {
			f.sinkErr = fmt.Errorf("mirror: writing pair %d: %w", fl.pair.ID, err)
		}
		f.errMu.Unlock()
	}
}

// Close stops mirroring (later Starts drop every copy), waits until the
// mirrors' requests in flight have returned or ctx ends, and writes every
// pair still open. When ctx ends first, the requests in flight are
// cancelled (their exchanges say canceled) and Close waits at most
// CloseGrace more for them. A pair whose answer is still missing then —
// a mirror's, or the primary's when Finish was never called — gets an
// exchange with Class canceled and Err NoAnswerBeforeClose.
//
// Close returns an error wrapping ctx's when requests were still in
// flight, and the first error of the PairSink, if any. It does not close
// the sink. Call it once no Flight is waiting for its Finish; a Flight
// started after Close writes its pair when Finish comes.
func (f *Fanout) Close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()

	drained := make(chan struct{})
	go func() { f.sends.Wait(); close(drained) }()
	var errs []error
	select {
	case <-drained:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("mirror: closing with requests in flight: %w", ctx.Err()))
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
	keys := slices.Sorted(maps.Keys(f.flights))
	open := make([]*Flight, len(keys))
	for i, k := range keys {
		open[i] = f.flights[k]
	}
	clear(f.flights)
	f.mu.Unlock()
	for _, fl := range open {
		fl.mu.Lock()
		if fl.flushed {
			fl.mu.Unlock()
			continue
		}
		fl.flushed = true
		for i := range fl.pair.Exchanges {
			if fl.pair.Exchanges[i].Target != "" {
				continue
			}
			name := PrimaryTarget
			if i > 0 {
				t := f.targets[i-1]
				name = t.name
				t.failed.Add(1)
			}
			fl.pair.Exchanges[i] = gonogo.Exchange{Target: name, Class: gonogo.ErrCanceled, Err: NoAnswerBeforeClose}
		}
		fl.mu.Unlock()
		f.emit(fl)
	}
	f.errMu.Lock()
	if f.sinkErr != nil {
		errs = append(errs, f.sinkErr)
	}
	f.errMu.Unlock()
	return errors.Join(errs...)
}

// Stats returns the counts of every mirror by name.
func (f *Fanout) Stats() map[string]Stats {
	out := make(map[string]Stats, len(f.targets))
	for _, t := range f.targets {
		out[t.name] = Stats{
			Sent: t.sent.Load(), Dropped: t.dropped.Load(), Skipped: t.skipped.Load(), Failed: t.failed.Load(),
		}
	}
	return out
}

// Pending returns the number of pairs waiting for an answer: at most the
// primary's requests in flight plus each mirror's (Options.MaxInFlight).
func (f *Fanout) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.flights)
}

// exchange is a target's answer as recorded in a pair, timed from
// intended and from its own send. Output is copied: the result is reused.
func exchange(target string, res *gonogo.Result, intended time.Time) gonogo.Exchange {
	done := res.Done
	if done.IsZero() {
		done = time.Now()
	}
	sent := res.Sent
	if sent.IsZero() {
		sent = intended
	}
	return gonogo.Exchange{
		Target:        target,
		Status:        res.Status,
		Class:         res.Class,
		Err:           res.Err,
		LatencyMicros: done.Sub(intended).Microseconds(),
		ServiceMicros: done.Sub(sent).Microseconds(),
		FromIntended:  true,
		TTFTMicros:    res.TTFT.Microseconds(),
		OutputTokens:  res.OutputTokens,
		Bytes:         res.BytesIn,
		Output:        string(res.Output),
	}
}

// cloneRequest copies what mirrors read of req, deep enough that the
// caller's reuse of req (and a source's reuse of its buffers) cannot race
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
	if f.body != nil {
		return capText(f.body(req))
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
