package scenarios

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonogo-dev/gonogo"
	chk "github.com/gonogo-dev/gonogo/scenarios/checks"
)

// Plan pairs a scenario with the client that sends its requests.
type Plan struct {
	Scenario *Scenario
	Client   gonogo.Client
	// Source yields the arrivals of an open-model scenario; nil means the
	// scenario's own schedule (NewSchedule). VU executors ignore it.
	Source Source
	// Checks are judged on every recorded response of the scenario (nil or
	// empty: none); the sink learns which failed (CheckSink). They never
	// change a result.
	Checks *chk.Set
	// Observe, when set, sends a request of a scenario with checks so that
	// its check State is shown the response as the client reads it (the
	// client's extensions.ObservingClient.DoObserved); nil sends it with
	// Client.Do, and the checks judge the finished result alone.
	Observe func(ctx context.Context, req *gonogo.Request, res *gonogo.Result, st *chk.State)
}

// CheckSink is a sink that counts checks: the engine hands it every
// result of a scenario with checks through RecordChecked, in place of
// Record. A sink without it gets Record, and the checks go uncounted.
type CheckSink interface {
	gonogo.Sink
	// RecordChecked takes one finished request, judged by set: bit i of
	// failed is set when set.Check(i) failed.
	RecordChecked(res *gonogo.Result, set *chk.Set, failed uint64)
}

// Engine runs scenarios side by side and feeds every result to a sink.
// Create one with NewEngine; it runs once.
type Engine struct {
	sink     gonogo.Sink
	checked  CheckSink // sink as a CheckSink; nil when it is not one
	lead     time.Duration
	inFlight atomic.Int64
	nextID   atomic.Uint64
	pool     sync.Pool // *job
	started  atomic.Int64
	warmups  atomic.Int64
}

// DefaultLead is how far in the future the run's time zero is placed, so
// that every worker is up before the first intended send.
const DefaultLead = 20 * time.Millisecond

// Option configures an Engine.
type Option func(*Engine)

// WithLead sets the delay between RunAt's call and time zero that Lead
// asks for (besides warm-ups), and so Run's.
func WithLead(d time.Duration) Option { return func(e *Engine) { e.lead = d } }

// NewEngine returns an engine that records into sink.
func NewEngine(sink gonogo.Sink, opts ...Option) *Engine {
	e := &Engine{sink: sink, lead: DefaultLead}
	e.checked, _ = sink.(CheckSink)
	e.pool.New = func() any { return new(job) }
	for _, o := range opts {
		o(e)
	}
	return e
}

// InFlight is the number of requests sent and not yet finished.
func (e *Engine) InFlight() int64 { return e.inFlight.Load() }

// WarmupRequests is the number of requests sent during closed-model
// warm-ups (Scenario.Warmup): intended before their scenario's start, they
// are not passed to the sink.
func (e *Engine) WarmupRequests() int64 { return e.warmups.Load() }

// Start is the run's time zero, the zero given to RunAt (the intended time
// of the first arrival of a scenario with startTime 0); the zero time
// before RunAt.
func (e *Engine) Start() time.Time {
	n := e.started.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

type job struct {
	req gonogo.Request
	res gonogo.Result
}

// Warmer is a client that can open connections ahead of the load. Before
// time zero (Engine.Warm) the engine asks the client of each open-model
// scenario for warmConns of them. Warming is best effort: a connection
// that cannot be opened now is dialed, and its failure recorded, by the
// request that needs it.
type Warmer interface {
	// Warm opens up to conns idle connections and returns when they are
	// open, when ctx ends, or when one cannot be opened.
	Warm(ctx context.Context, conns int) error
}

// warmTimeout bounds the warm-up of all plans together.
const warmTimeout = 5 * time.Second

// warmWindow sizes the warm-up: see warmConns.
const warmWindow = 20 * time.Millisecond

// warmConns is how many connections the engine asks a Warmer for: the
// arrivals of warmWindow at the scenario's peak rate, at least its
// preallocated VUs and at most its maxVUs. When the generator or the
// server stalls, the arrivals that pile up go out together as soon as it
// ends, one VU each; without enough open connections each of them dials,
// and on a machine the generator shares with the server those dials cost
// more than the arrivals' spacing, so that a stall of a few milliseconds
// grows until maxVUs is reached and arrivals are dropped.
func (s *Scenario) warmConns() int {
	var peak float64 // arrivals per second; unknown for recorded arrivals
	switch s.Executor {
	case ConstantArrivalRate:
		unit := s.TimeUnit
		if unit <= 0 {
			unit = DefaultTimeUnit
		}
		peak = s.Rate * float64(time.Second) / float64(unit)
	case RampingArrivalRate:
		peak = s.peakRate()
	}
	n := int(math.Ceil(peak * warmWindow.Seconds()))
	return max(s.PreAllocatedVUs, min(n, s.MaxVUs))
}

// Run warms the plans' connections (Warm), places time zero Lead(plans)
// from then and runs every plan to completion (RunAt). It suits a caller
// that has no clock of its own to share; a run whose recorder, timeline
// and events count from one time zero calls Warm, picks the zero and
// calls RunAt.
func (e *Engine) Run(ctx context.Context, plans []Plan) {
	e.Warm(ctx, plans)
	e.RunAt(ctx, plans, time.Now().Add(e.Lead(plans)))
}

// Lead is how long before time zero RunAt must be called for every
// worker to be up by zero and every closed-model warm-up to last its
// Warmup: the engine's lead (WithLead) plus the longest warm-up that
// begins before zero (warmup − startTime).
func (e *Engine) Lead(plans []Plan) time.Duration {
	var early time.Duration
	for _, p := range plans {
		if !p.Scenario.openModel() {
			early = max(early, p.Scenario.Warmup-p.Scenario.StartTime)
		}
	}
	return e.lead + early
}

// RunAt runs every plan to completion, each scenario from zero plus its
// startTime (closed-model warm-ups from warmup before that), and returns
// when all requests have finished. Start reports zero from now on. A
// warm-up that should have begun before RunAt was called begins at once,
// shorter; see Lead.
//
// Cancelling ctx is a graceful stop: no new arrivals, and requests in
// flight get their scenario's gracefulStop to finish before they are
// cancelled (and recorded as canceled).
func (e *Engine) RunAt(ctx context.Context, plans []Plan, zero time.Time) {
	e.started.Store(zero.UnixNano())
	var wg sync.WaitGroup
	for _, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.runScenario(ctx, zero.Add(p.Scenario.StartTime), p)
		}()
	}
	wg.Wait()
}

// Warm lets the clients of open-model plans that are Warmers open their
// connections, all plans at once, and returns when they have, or after
// warmTimeout, or when ctx ends. Call it before picking time zero.
func (e *Engine) Warm(ctx context.Context, plans []Plan) {
	ctx, cancel := context.WithTimeout(ctx, warmTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range plans {
		w, ok := p.Client.(Warmer)
		if !ok || !p.Scenario.openModel() {
			continue
		}
		n := p.Scenario.warmConns()
		if n <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = w.Warm(ctx, n) // best effort: see Warmer
		}()
	}
	wg.Wait()
}

// openModel reports whether the scenario's executor is an arrival-rate one.
func (s *Scenario) openModel() bool {
	switch s.Executor {
	case ConstantArrivalRate, RampingArrivalRate, RecordedArrivals:
		return true
	}
	return false
}

// runScenario runs one scenario from its start time, or from its warm-up
// before that.
func (e *Engine) runScenario(ctx context.Context, start time.Time, p Plan) {
	begin := start
	if !p.Scenario.openModel() {
		begin = start.Add(-p.Scenario.Warmup)
	}
	if !sleepUntil(ctx, nil, begin) {
		return
	}
	// Requests get their own context: it ends gracefulStop after the
	// arrivals end, whether they end on schedule or by interrupt.
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()
	var workers sync.WaitGroup
	if p.Scenario.openModel() {
		e.runArrivals(ctx, reqCtx, start, p, &workers)
	} else {
		e.runVUs(ctx, reqCtx, start, p, &workers)
	}
	grace := time.AfterFunc(p.Scenario.GracefulStop, cancelReqs)
	workers.Wait()
	grace.Stop()
}

// send performs one request on the calling goroutine, judges its checks
// and records it.
func (e *Engine) send(ctx context.Context, p *Plan, j *job) {
	if p.Checks.Len() == 0 {
		e.do(ctx, p, j, nil)
		e.sink.Record(&j.res)
		return
	}
	st := p.Checks.State()
	e.do(ctx, p, j, st)
	failed := st.Finish(&j.res)
	st.Release()
	if e.checked != nil {
		e.checked.RecordChecked(&j.res, p.Checks, failed)
	} else {
		e.sink.Record(&j.res)
	}
}

// warmup performs one warm-up request: it counts, but is neither judged
// nor recorded.
func (e *Engine) warmup(ctx context.Context, p *Plan, j *job) {
	e.do(ctx, p, j, nil)
	e.warmups.Add(1)
}

// do performs one request on the calling goroutine into j.res, showing st
// (when not nil) the response through p.Observe.
func (e *Engine) do(ctx context.Context, p *Plan, j *job, st *chk.State) {
	res := &j.res
	gaps, output := res.ChunkGaps[:0], res.Output[:0]
	queued := res.Queued
	*res = gonogo.Result{Request: &j.req, ChunkGaps: gaps, Output: output, Queued: queued}
	e.inFlight.Add(1)
	res.Sent = time.Now()
	if st != nil && p.Observe != nil {
		p.Observe(ctx, &j.req, res, st)
	} else {
		p.Client.Do(ctx, &j.req, res)
	}
	if res.Done.IsZero() {
		res.Done = time.Now()
	}
	e.inFlight.Add(-1)
}

// newJob takes a job from the pool with a blank request.
func (e *Engine) newJob() *job {
	j := e.pool.Get().(*job)
	j.req = gonogo.Request{}
	j.res.Queued = false
	return j
}

// stamp gives a job's request its identity: ID, scenario, intended time,
// and the scenario's tags merged under any the source gave it.
func (e *Engine) stamp(j *job, s *Scenario, intended time.Time) {
	r := &j.req
	r.ID, r.Scenario, r.Intended = e.nextID.Add(1), s.Name, intended
	switch {
	case len(r.Tags) == 0:
		r.Tags = s.Tags
	case len(s.Tags) > 0:
		tags := make(map[string]string, len(s.Tags)+len(r.Tags))
		for k, v := range s.Tags {
			tags[k] = v
		}
		for k, v := range r.Tags { // recorded tags win
			tags[k] = v
		}
		r.Tags = tags
	}
}

// sleepUntil waits until t or until ctx ends; it reports whether t came.
// A non-nil timer is reused, to keep the arrival loop free of allocations.
func sleepUntil(ctx context.Context, timer *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	if timer == nil {
		timer = time.NewTimer(d)
		defer timer.Stop()
	} else {
		timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		timer.Stop()
		return false
	case <-timer.C:
		return true
	}
}
