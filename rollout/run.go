package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/store"
)

// ErrInput is matched by errors about a rollout's input (exit 2).
var ErrInput = input.ErrInput

// atomic64 is a counter.
type atomic64 = atomic.Int64

// Run drives the rollout until it ends (promoted, aborted, rolled back)
// or ctx is done: it warms the canary before it gets traffic, takes the
// steps, and judges the live window at every interval. The proxy serves
// (Handler) the whole time.
func (c *Controller) Run(ctx context.Context) error {
	wctx, stopWarm := context.WithCancel(ctx)
	var warming sync.WaitGroup
	defer func() { stopWarm(); warming.Wait() }()
	for _, b := range c.pinned() {
		if !b.eligible.Load() {
			warming.Go(func() { c.warmPinned(wctx, b) })
		}
	}
	interval := c.cfg.Analysis.Interval.D()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	step := time.NewTimer(0)
	defer step.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = c.rec.Close(time.Now())
			return nil
		case now := <-tick.C:
			_ = c.rec.Flush(now)
			if c.beh != nil {
				c.beh.Rotate()
			}
			c.judgeNow(ctx, now)
			c.judgeExperiment(ctx, now)
		case <-c.wake:
		case <-step.C:
		}
		if wait := c.advance(ctx); wait > 0 {
			step.Reset(wait)
		}
		if c.exitOnEnd && Terminal(c.Phase()) {
			_ = c.rec.Close(time.Now())
			return nil
		}
	}
}

// pinnedTries bounds the warm-ups of a pinned backend.
const pinnedTries = 5

// warmPinned makes a pinned backend eligible for the requests flag rules
// send it; until then they follow the split. A warm-up that fails is
// tried again after the analysis interval, pinnedTries times at most.
func (c *Controller) warmPinned(ctx context.Context, b *backend) {
	var err error
	for try := range pinnedTries {
		if err = c.warm(ctx, b); err == nil {
			return
		}
		if try < pinnedTries-1 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(c.cfg.Analysis.Interval.D()):
			}
		}
	}
	if ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	c.event("warm-failed", ActorController, fmt.Sprintf("pinned backend %s not ready after %d tries (%v): the requests its rules select follow the split", b.name, pinnedTries, err))
	c.mu.Unlock()
}

// Phase is the rollout's current phase.
func (c *Controller) Phase() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Phase
}

// State returns a copy of the rollout's state.
func (c *Controller) State() store.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *cloneState(c.st)
}

// poke makes Run look at the steps again.
func (c *Controller) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// advance takes every step that can be taken now, and returns how long
// until the current one may end by itself (0: nothing to wait for).
func (c *Controller) advance(ctx context.Context) time.Duration {
	for range len(c.steps) + 2 {
		c.mu.Lock()
		st := c.st
		if Terminal(st.Phase) || st.Paused {
			c.mu.Unlock()
			return 0
		}
		if st.Step >= len(c.steps) {
			c.finish(ActorController, "every step passed")
			c.mu.Unlock()
			return 0
		}
		s := c.steps[st.Step]
		// The canary must be ready and warm before any step gives it
		// traffic (a weight, a mirror to it, a header route).
		needsCanary := s.SetWeight != nil && *s.SetWeight > 0 || s.SetMirror != nil && s.SetMirror.Percent > 0 && !s.SetMirror.toStable ||
			s.SetHeaderRoute != nil && s.SetHeaderRoute.Header != ""
		if b := c.notWarm(); needsCanary && b != nil {
			c.mu.Unlock()
			if err := c.warm(ctx, b); err != nil {
				c.mu.Lock()
				c.rollback(ActorController, "rollback", b.role+" not ready: "+err.Error())
				c.mu.Unlock()
				return 0
			}
			continue
		}
		wait, next := c.stepDone(s, st)
		if !next {
			c.mu.Unlock()
			return wait
		}
		n := cloneState(st)
		n.Step++
		n.StepStarted = time.Now()
		kind, reason := "step", describe(s)
		if s.SetWeight != nil {
			n.Weights = c.weightsFor(*s.SetWeight)
			kind = "flip"
		}
		n.Message = reason
		if _, err := c.save(n, store.Event{Kind: kind, Actor: ActorController, Reason: reason}); err != nil {
			c.logf("cannot store step %d: %v (not taken)", st.Step, err)
			c.mu.Unlock()
			return time.Second
		}
		c.enterStep()
		if err := c.apply(n); err != nil {
			c.logf("apply step %d: %v", st.Step, err)
		}
		c.mu.Unlock()
	}
	return 0
}

// stepDone says whether step s (the current one) is over, or how long
// until it may be. A timed pause ends when its time is up and the last
// judgement was no hold; an analysis step after its passes.
func (c *Controller) stepDone(s Step, st *store.State) (time.Duration, bool) {
	switch {
	case s.Pause != nil:
		if s.Pause.Duration == 0 {
			return 0, false // until promoted
		}
		left := s.Pause.Duration.D() - time.Since(st.StepStarted)
		if left > 0 {
			return left, false
		}
		return 0, !c.holdingNow()
	case s.Experiment != nil:
		return c.experimentDone(s.Experiment, st)
	case s.Analysis != nil:
		if s.Analysis.Timeout > 0 && time.Since(st.StepStarted) > s.Analysis.Timeout.D() && c.passes < s.Analysis.Passes {
			c.inconclusive(fmt.Sprintf("analysis step %d not passed within %s", st.Step, s.Analysis.Timeout.D()))
			return 0, false
		}
		return 0, c.passes >= s.Analysis.Passes
	}
	return 0, true
}

// holdingNow says whether the live analysis holds the rollout where it is.
func (c *Controller) holdingNow() bool { return !c.holding.IsZero() }

// enterStep resets what a step judges by: consecutive passes, holds and
// the split's counts.
func (c *Controller) enterStep() {
	c.passes = 0
	c.holding = time.Time{}
	c.ab = nil
	c.proxy.users.reset()
	c.splitBase = c.proxy.splitCounts()
}

// judgeNow judges the live window and acts on it: a no-go rolls back at
// once, a hold holds, an inconclusive window follows the policy.
func (c *Controller) judgeNow(ctx context.Context, now time.Time) {
	c.mu.Lock()
	st := c.st
	if Terminal(st.Phase) {
		c.mu.Unlock()
		return
	}
	canary, control := c.backends[0].name, c.control().name
	t := c.proxy.table.Load()
	mirrored := t.mirror != nil && t.mirrorBuckets > 0
	counts, unit := c.proxy.users.counts(), "users"
	if len(counts) == 0 {
		counts, unit = diffCounts(c.proxy.splitCounts(), c.splitBase), "requests"
	}
	weights := st.Weights
	since := st.StepStarted
	c.mu.Unlock()
	if rc, ok := c.router.(requestCounter); ok {
		// The traffic went through the external router: its split.
		if c.judge.router == nil {
			c.judge.router = &routerSplit{rc: rc}
		}
		counts, unit = c.judge.router.counts(ctx, since), "requests (router)"
		if w, err := rc.Realised(weights); err == nil {
			weights = w
		}
	}

	stalled := stalls(c.backends, now, c.cfg.Analysis.StallAfter.D())
	j := c.judge.evaluate(ctx, now, since, counts, unit, weights, canary, control, mirrored, stalled)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Revision != st.Revision && Terminal(c.st.Phase) {
		return // rolled back or ended while judging
	}
	j.Step = c.st.Step
	c.last = &j
	c.metrics.judged(j)
	c.storeJudgement(j)
	c.logf("judged step %d: %s: %s", j.Step, j.Decision, j.Reason)
	switch j.Decision {
	case string(analyze.NoGo):
		c.rollback(ActorAnalysis, "rollback", j.Reason)
	case DecisionHold:
		c.hold(now, j.Reason)
	case string(analyze.Inconclusive):
		c.inconclusive(j.Reason)
	case string(analyze.Go):
		c.holding = time.Time{}
		c.passes++
	case DecisionIdle:
		c.holding = time.Time{}
	}
}

// hold keeps the step where it is, up to MaxHold; then rolls back. An
// analysis step's passes must be consecutive: a hold starts them again.
func (c *Controller) hold(now time.Time, reason string) {
	c.passes = 0
	if c.holding.IsZero() {
		c.holding = now
		c.event("hold", ActorAnalysis, reason)
	}
	if now.Sub(c.holding) > c.cfg.Analysis.MaxHold.D() {
		c.rollback(ActorAnalysis, "rollback", fmt.Sprintf("held longer than maxHold (%s): %s", c.cfg.Analysis.MaxHold.D(), reason))
	}
}

// inconclusive applies the inconclusive policy.
func (c *Controller) inconclusive(reason string) {
	switch c.cfg.Analysis.Inconclusive {
	case PolicyRollback:
		c.rollback(ActorAnalysis, "rollback", "inconclusive (policy rollback): "+reason)
	case PolicyContinue:
		c.holding = time.Time{}
		c.passes++
	default:
		c.hold(time.Now(), "inconclusive (policy hold): "+reason)
	}
}

// event stores a transition that changes nothing but the record.
func (c *Controller) event(kind, actor, reason string) {
	if _, err := c.save(cloneState(c.st), store.Event{Kind: kind, Actor: actor, Reason: reason}); err != nil {
		c.logf("cannot store %s event: %v", kind, err)
	}
}

// analysisStatus is a judgement's status in the store.
var analysisStatus = map[string]string{string(analyze.Go): "pass", string(analyze.NoGo): "fail",
	string(analyze.Inconclusive): "inconclusive", DecisionHold: "hold"}

// storeJudgement keeps the judgement in the store's analysis table (not
// an idle one: there was nothing to judge).
func (c *Controller) storeJudgement(j Judgement) {
	status, ok := analysisStatus[j.Decision]
	if !ok {
		return
	}
	detail, _ := json.Marshal(j)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.db.SaveAnalysis(ctx, store.Analysis{Rollout: c.cfg.Name, Step: j.Step, Time: j.Time, Status: status, Detail: detail}); err != nil {
		c.logf("cannot store the judgement: %v", err)
	}
}

// rollback sends every request to stable at once and drains the canary
// (and the baseline). It runs even when the store cannot record it (then
// says so). Call with c.mu held.
func (c *Controller) rollback(actor, kind, reason string) {
	n := cloneState(c.st)
	n.Weights = c.weightsFor(0)
	n.Phase = PhaseRolledBack
	if kind == "abort" {
		n.Phase = PhaseAborted
	}
	n.Paused = false
	n.Message = reason
	if _, err := c.save(n, store.Event{Kind: kind, Actor: actor, Reason: reason}); err != nil {
		c.logf("cannot store the %s (%v): rolling back all the same", kind, err)
		c.st = n
	}
	if err := c.apply(n); err != nil {
		c.logf("%s: %v", kind, err)
	}
	for _, b := range c.movers() {
		b.eligible.Store(false)
		c.draining.Go(func() { c.drain(b) })
	}
}

// finish promotes: all traffic to the canary, stable (and the baseline)
// drained. Call with c.mu held.
func (c *Controller) finish(actor, reason string) {
	n := cloneState(c.st)
	n.Weights = c.weightsFor(100)
	n.Phase = PhasePromoted
	n.Step = len(c.steps)
	n.Paused = false
	n.Message = reason
	if _, err := c.save(n, store.Event{Kind: "promote", Actor: actor, Reason: reason}); err != nil {
		c.logf("cannot store the promotion: %v (not promoted)", err)
		return
	}
	if err := c.apply(n); err != nil {
		c.logf("promote: %v", err)
	}
	c.draining.Go(func() { c.drain(c.backends[1]) })
	if b := c.baseline; b != nil {
		b.eligible.Store(false)
		c.draining.Go(func() { c.drain(b) })
	}
}

// drain waits for a backend out of the split to finish its requests.
func (c *Controller) drain(b *backend) {
	if r := c.router; r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.Drain(ctx, b.name); err != nil {
			c.logf("router drain %s: %v", b.name, err)
		}
		cancel()
	}
	start := time.Now()
	cut := b.drain(c.cfg.DrainTimeout.D())
	reason := fmt.Sprintf("%s drained in %s", b.name, time.Since(start).Round(time.Millisecond))
	if cut > 0 {
		reason = fmt.Sprintf("%s: drain timed out after %s, %d requests cut", b.name, c.cfg.DrainTimeout.D(), cut)
	}
	c.mu.Lock()
	c.event("drain", ActorController, reason)
	c.mu.Unlock()
}

// weightsFor returns the weights with the canary at pct percent: the
// baseline takes as much, stable the rest; at 100 % the canary takes all.
func (c *Controller) weightsFor(pct float64) map[string]int {
	w, all := buckets(pct), buckets(100)
	m := map[string]int{c.backends[0].name: w, c.backends[1].name: all - w}
	if b := c.baseline; b != nil {
		bw := w
		if w == all {
			bw = 0
		}
		m[b.name], m[c.backends[1].name] = bw, all-w-bw
	}
	return m
}

// movers are the backends a step's weight goes to: the canary, and the
// baseline when there is one.
func (c *Controller) movers() []*backend {
	if c.baseline != nil {
		return []*backend{c.backends[0], c.baseline}
	}
	return c.backends[:1]
}

// notWarm is the first of the movers not yet ready and warm; nil when
// they all are.
func (c *Controller) notWarm() *backend {
	for _, b := range c.movers() {
		if !b.eligible.Load() {
			return b
		}
	}
	return nil
}

// control is the backend the canary is compared with: the baseline when
// there is one, else stable.
func (c *Controller) control() *backend {
	if c.baseline != nil {
		return c.baseline
	}
	return c.backends[1]
}

// pinned are the backends served only by flag rules.
func (c *Controller) pinned() []*backend {
	if c.baseline != nil {
		return c.backends[3:]
	}
	return c.backends[2:]
}

// backendNamed is the backend of that name; nil when none.
func (c *Controller) backendNamed(name string) *backend {
	for _, b := range c.backends {
		if b.name == name {
			return b
		}
	}
	return nil
}

func describe(s Step) string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight %g%%", *s.SetWeight)
	case s.Pause != nil:
		if s.Pause.Duration == 0 {
			return "pause until promoted"
		}
		return "pause " + s.Pause.Duration.D().String()
	case s.Analysis != nil:
		return fmt.Sprintf("analysis passed %d time(s)", s.Analysis.Passes)
	case s.SetMirror != nil:
		to := "canary"
		if s.SetMirror.toStable {
			to = "stable"
		}
		return fmt.Sprintf("setMirror %g%% to %s", s.SetMirror.Percent, to)
	case s.Experiment != nil:
		return fmt.Sprintf("experiment at %g%% for up to %s", s.Experiment.Weight, s.Experiment.Duration.D())
	case s.SetHeaderRoute != nil:
		if s.SetHeaderRoute.Header == "" {
			return "header route removed"
		}
		return fmt.Sprintf("setHeaderRoute %s: %s", s.SetHeaderRoute.Header, s.SetHeaderRoute.Value)
	}
	return "step"
}

func (c *Controller) logf(format string, a ...any) {
	fmt.Fprintf(c.log, "rollout %s: %s\n", c.cfg.Name, fmt.Sprintf(format, a...))
}

// mirrorTimeout bounds a mirrored request, its answer read whole.
const mirrorTimeout = 5 * time.Minute

// fanout returns the mirror fan-out to backend i, built on first use.
func (c *Controller) fanout(i int) *mirror.Fanout {
	c.fanMu.Lock()
	defer c.fanMu.Unlock()
	if f := c.fanouts[i]; f != nil {
		return f
	}
	b := c.backends[i]
	rt := newH1Transport(b.maxConns, maxIdleConns, extensions.NewTransport(extensions.Options{MaxConns: b.maxConns}))
	f, err := mirror.NewFanout([]mirror.Target{{Name: "mirror-" + b.name, Client: &recordingClient{url: b.url, rt: rt, sink: c.proxy.sink, tags: b.mirrorTags}}},
		discardPairs{}, mirror.Options{MaxInFlight: 1000, AllowUnsafe: true})
	if err != nil {
		c.logf("mirror to %s: %v", b.name, err)
		return nil
	}
	c.fanouts[i] = f
	return f
}

// recordingClient sends a mirrored request to its backend as the client
// sent it — method, path and query, headers but those of the connection,
// body — and records the answer as the backend's, measured as the proxy
// measures a routed one: status, bytes, TTFT to the first content event
// of an OpenAI stream (else to the first body byte), chunk gaps, tokens,
// and an error event as a failure (tokenMeter).
type recordingClient struct {
	url  *url.URL // the backend's
	rt   http.RoundTripper
	sink gonogo.Sink
	tags map[string]string
}

func (r *recordingClient) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	m := r.send(ctx, req.Recorded, res)
	mreq := *req
	mreq.Tags = r.tags
	mres := *res
	mres.Request = &mreq
	r.sink.Record(&mres)
	m.release(res)
}

// send sends rec and measures its answer in res, from res.Sent; it
// returns the meter that read the body, for release once res is recorded.
func (r *recordingClient) send(ctx context.Context, rec *gonogo.Recorded, res *gonogo.Result) *tokenMeter {
	out, err := extensions.RecordedRequest(&http.Request{URL: &url.URL{}, Header: http.Header{}}, rec, nil)
	if err != nil {
		res.Done = time.Now()
		extensions.Fail(ctx, res, err)
		return nil
	}
	(&httputil.ProxyRequest{Out: out}).SetURL(r.url) // the backend's URL joined as a routed request's is
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // none, as the routed request had: not Go's
	}
	m := startMeter(res, []byte(rec.Path))
	resp, rctx, done := extensions.Send(ctx, r.rt, out, rec.Body, mirrorTimeout, res)
	defer done()
	if resp == nil {
		return m
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	buf := copyBuffers.Get()
	defer copyBuffers.Put(buf)
	for {
		n, err := resp.Body.Read(buf)
		now := time.Now()
		if n > 0 {
			res.BytesIn += int64(n)
			m.feed(buf[:n], now)
			if res.TTFT == 0 && !m.streamed() {
				res.TTFT = now.Sub(res.Sent)
			}
		}
		if err == nil {
			continue
		}
		res.Done = now
		m.end(now)
		if err == io.EOF {
			m.classify(res)
		} else {
			failed(res, extensions.Deadline(rctx, mirrorTimeout, err), ctx.Err() != nil)
		}
		return m
	}
}

// discardPairs drops the pairs of the live mirror: its results are
// recorded as the mirror backend's.
type discardPairs struct{}

func (discardPairs) WritePair(*gonogo.Pair) error { return nil }

// diffCounts is a − b per key.
func diffCounts(a, b map[string]int64) map[string]int64 {
	d := make(map[string]int64, len(a))
	for k, v := range a {
		d[k] = v - b[k]
	}
	return d
}
