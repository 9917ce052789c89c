package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/container"
	"github.com/gonogo-dev/gonogo/chaos/grpcfault"
	"github.com/gonogo-dev/gonogo/chaos/httpfault"
	"github.com/gonogo-dev/gonogo/chaos/tcpfault"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/runner"
)

// Options configure one run of an experiment.
type Options struct {
	// Dir is the results directory (default results/chaos-<time>).
	Dir string
	// Out receives the plan, the timeline and the summary; Err warnings
	// and the progress line.
	Out, Err io.Writer
	Progress bool
	// Command is the command line, program name first.
	Command []string
	// AllowTarget lets the load, the proxies' upstreams and the actions
	// reach hosts other than loopback and local Docker networks.
	AllowTarget bool
	// Guard starts the guard process of the results directory (see
	// chaos.Guard); nil starts none, and faults that outlive the run's
	// process are then left to gonogo chaos revert.
	Guard func(dir rundir.Dir) error
	// Filler is a static gonogo binary that container fill faults copy
	// into their containers (FROM-scratch images have no tools); "" makes
	// such faults fail.
	Filler string
}

// revertTimeout bounds the reverts and rollbacks at the end of a run,
// which run whatever stopped it.
const revertTimeout = 30 * time.Second

// execution is one run of an experiment.
type execution struct {
	x   *Experiment
	o   Options
	dir rundir.Dir

	ledger  *chaos.Ledger
	holder  *chaos.Holder
	targets map[string]chaos.Injector // by proxy name
	docker  *container.Injector       // container faults; nil until one is needed
	stops   []func()                  // in-process proxies to stop
	acts    []*running
	first   time.Duration // the first activity's start
	lastEnd time.Duration // the method's end
	iv      time.Duration
	ivGates *analyze.Gates // the hypothesis with MinIntervalRequests
	// judgedBefore is set once the hypothesis was judged before the
	// method (tick's goroutine only).
	judgedBefore bool

	mu      sync.Mutex
	j       chaos.Journal
	run     *runner.Run
	stopped string // the status once the experiment stopped early
	why     string
	wg      sync.WaitGroup
	over    chan struct{} // closed when the experiment stops, early or not
}

// running is a method activity as the run goes.
type running struct {
	a      *Activity
	rec    *chaos.Activity
	fault  *chaos.Fault
	inj    chaos.Injector
	begun  bool
	done   chan struct{} // closed once the activity is over
	revert chan struct{} // closed to revert it
}

// Run runs the experiment: it starts the proxies, the load and the
// timeline, judges the hypothesis, reverts everything, and writes the
// journal. The journal is returned whenever the run started (with the
// error of what could not be written); its ExitCode is the command's.
func Run(ctx context.Context, x *Experiment, o Options) (*chaos.Journal, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	e := &execution{x: x, o: o, targets: map[string]chaos.Injector{}, iv: analyze.DefaultInterval, over: make(chan struct{})}
	if err := e.checkTargets(); err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		dir = "results/chaos-" + time.Now().Format("20060102-150405")
	}
	e.dir = rundir.Dir(dir)
	if err := e.revertLeftovers(); err != nil {
		return nil, err
	}
	defer e.stopProxies()
	target, err := e.startProxies()
	if err != nil {
		return nil, err
	}
	e.plan()
	ig := *x.Hypothesis
	ig.MinRequests = MinIntervalRequests
	e.ivGates = &ig

	cfg := runner.Config{
		File: x.Workload, Protocol: x.Load.Protocol, Target: target, Client: x.Client,
		Dir: string(e.dir), Command: o.Command, Out: o.Out, Err: o.Err, Progress: o.Progress,
		Window: max(x.Window, longestWindow(x.Hypothesis), longestWindow(x.AbortGates)),
		SLOs:   append(x.Hypothesis.SLOs(), slosOf(x.AbortGates)...),
	}
	r, err := runner.New(cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	e.run = r
	r.Attach(runner.Hooks{Start: e.start, Tick: e.tick, Stop: e.stop})
	res, runErr := r.Execute(ctx)
	if res == nil {
		return nil, runErr // nothing ran: the preflight or the directory failed
	}
	e.conclude(res)
	fmt.Fprintln(o.Out)
	WriteSummary(o.Out, &e.j)
	if err := chaos.WriteJournal(e.dir, &e.j); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return &e.j, runErr
}

func longestWindow(g *analyze.Gates) time.Duration {
	if g == nil {
		return 0
	}
	return g.LongestWindow()
}

func slosOf(g *analyze.Gates) []analyze.SLO {
	if g == nil {
		return nil
	}
	return g.SLOs()
}

// checkTargets refuses a load, an upstream or an action that leaves this
// machine, unless allowed.
func (e *execution) checkTargets() error {
	if e.o.AllowTarget {
		return nil
	}
	check := func(field, t string) error {
		if err := chaos.CheckTarget(t); err != nil {
			return e.x.fail(field, "%v", errors.Unwrap(err))
		}
		return nil
	}
	if e.x.Load.Through == "" {
		if err := check("$.target", e.x.Target); err != nil {
			return err
		}
	}
	for i, p := range e.x.Proxies {
		for _, t := range []struct{ field, v string }{{"upstream", p.Upstream}, {"admin", p.Admin}} {
			if t.v != "" {
				if err := check(fmt.Sprintf("$.proxies[%d].%s", i, t.field), t.v); err != nil {
					return err
				}
			}
		}
		if p.Listen != "" {
			if err := chaos.CheckListen(p.Listen, false); err != nil {
				return e.x.fail(fmt.Sprintf("$.proxies[%d].listen", i), "%v", errors.Unwrap(err))
			}
		}
	}
	for _, list := range []struct {
		path string
		acts []Activity
	}{{"$.method", e.x.Method}, {"$.rollbacks", e.x.Rollbacks}} {
		for i, a := range list.acts {
			if a.Request != nil {
				if err := check(fmt.Sprintf("%s[%d].request.url", list.path, i), a.Request.URL); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// revertLeftovers reverts what an earlier run into the same directory
// left in force (it was killed), before anything starts.
func (e *execution) revertLeftovers() error {
	ctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
	defer cancel()
	res, err := chaos.RevertPending(ctx, e.dir, chaos.ByRun)
	for _, r := range res.Reverted {
		fmt.Fprintf(e.o.Err, "reverted %s (%s on %s), left in force by an earlier run into %s\n", r.ID, r.Kind, r.Target, e.dir)
	}
	if err == nil && len(res.Failed) > 0 {
		f := res.Failed[0]
		err = fmt.Errorf("an earlier run into %s left %s (%s on %s) in force and it could not be reverted: %w; see gonogo chaos revert --ledger %s",
			e.dir, f.ID, f.Kind, f.Target, f.Err, e.dir)
	}
	return err
}

// startProxies starts the experiment's in-process proxies and connects
// to its external ones; it returns the load's target.
func (e *execution) startProxies() (string, error) {
	target := e.x.Target
	for _, p := range e.x.Proxies {
		if p.Admin != "" {
			e.targets[p.Name] = &httpfault.Admin{URL: p.Admin, TokenFile: p.TokenFile, Lease: e.x.Lease.TTL}
			continue
		}
		if p.Kind == ProxyGRPC {
			px, err := grpcfault.NewProxy(p.Listen, p.Upstream, e.x.Seed)
			if err != nil {
				return "", err
			}
			e.stops = append(e.stops, func() { _ = px.Close() })
			e.targets[p.Name] = px
			if p.Name == e.x.Load.Through {
				target = px.Addr()
			}
			fmt.Fprintf(e.o.Out, "proxy %s: grpc %s → %s\n", p.Name, px.Addr(), p.Upstream)
			continue
		}
		if p.Kind == ProxyTCP {
			px, err := tcpfault.NewProxy(p.Name, p.Listen, p.Upstream)
			if err != nil {
				return "", err
			}
			e.stops = append(e.stops, func() { _ = px.Close() })
			e.targets[p.Name] = px
			if p.Name == e.x.Load.Through {
				target = "http://" + px.Addr()
			}
			fmt.Fprintf(e.o.Out, "proxy %s: tcp %s → %s\n", p.Name, px.Addr(), p.Upstream)
			continue
		}
		px, err := httpfault.New(p.Upstream, httpfault.WithSeed(e.x.Seed))
		if err != nil {
			return "", err
		}
		ln, err := net.Listen("tcp", p.Listen)
		if err != nil {
			return "", fmt.Errorf("proxy %s: %w", p.Name, err)
		}
		srv := httpfault.NewServer(px)
		go srv.Serve(ln)
		e.stops = append(e.stops, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
		e.targets[p.Name] = px
		if p.Name == e.x.Load.Through {
			target = "http://" + ln.Addr().String()
		}
		fmt.Fprintf(e.o.Out, "proxy %s: http://%s → %s\n", p.Name, ln.Addr(), p.Upstream)
	}
	return target, nil
}

func (e *execution) stopProxies() {
	for _, stop := range e.stops {
		stop()
	}
}

// plan builds the activities and prints the timeline.
func (e *execution) plan() {
	x := e.x
	e.lastEnd = x.MethodEnd()
	e.first = slices.MinFunc(x.Method, func(a, b Activity) int { return int(a.At - b.At) }).At.D()
	e.j = chaos.Journal{Title: x.Title, Description: x.Description, File: x.File, Status: chaos.StatusRunning,
		Hypothesis: chaos.Hypothesis{Title: x.Steady.Title, WindowS: x.Window.Seconds(), Hold: x.Steady.Hold}}
	for _, gt := range x.Hypothesis.Gates {
		e.j.Hypothesis.Gates = append(e.j.Hypothesis.Gates, gt.Name)
	}
	e.j.Activities = make([]chaos.Activity, len(x.Method))
	for i := range x.Method {
		a := &x.Method[i]
		f := a.fault()
		e.j.Activities[i] = chaos.Activity{Name: a.Name, Kind: f.Kind, Target: f.Target, AtS: a.At.D().Seconds(),
			DurationS: a.Duration.D().Seconds(), Outcome: chaos.OutcomeSkipped}
		e.acts = append(e.acts, &running{a: a, rec: &e.j.Activities[i], fault: f,
			done: make(chan struct{}), revert: make(chan struct{})})
	}
	WriteTimeline(e.o.Out, x)
}

// fault is the activity as a chaos.Fault.
func (a *Activity) fault() *chaos.Fault {
	switch {
	case a.HTTP != nil:
		return &chaos.Fault{ID: a.Name, Kind: a.HTTP.Kind(), Target: a.HTTP.Proxy, Spec: a.HTTP}
	case a.TCP != nil:
		return &chaos.Fault{ID: a.Name, Kind: a.TCP.Kind(), Target: a.TCP.Proxy, Spec: a.TCP}
	case a.GRPC != nil:
		return &chaos.Fault{ID: a.Name, Kind: a.GRPC.Kind(), Target: a.GRPC.Proxy, Spec: &a.GRPC.Spec}
	case a.Container != nil:
		return &chaos.Fault{ID: a.Name, Kind: a.Container.Kind(), Target: a.Container.Selector(), Spec: a.Container}
	case a.Request != nil:
		return &chaos.Fault{ID: a.Name, Kind: "action.request", Target: a.Request.Method + " " + a.Request.URL, Spec: a.Request}
	}
	return &chaos.Fault{ID: a.Name}
}

// injector returns the injector of an activity.
func (e *execution) injector(a *Activity) chaos.Injector {
	switch {
	case a.HTTP != nil:
		return e.targets[a.HTTP.Proxy]
	case a.TCP != nil:
		return e.targets[a.TCP.Proxy]
	case a.GRPC != nil:
		return e.targets[a.GRPC.Proxy]
	case a.Container != nil:
		return e.docker
	case a.Request != nil:
		return requestInjector{}
	}
	return nil
}

// start opens the ledger and takes the lease, once the results directory
// is there (runner hook).
func (e *execution) start(_ context.Context, r *runner.Run) error {
	var err error
	if e.ledger, err = chaos.OpenLedger(e.dir); err != nil {
		return err
	}
	deadline := time.Now().Add(e.x.RunLength() + 2*revertTimeout + e.x.Lease.TTL)
	if e.holder, err = chaos.Hold(e.dir, e.x.Lease, deadline, e.o.Err); err != nil {
		return err
	}
	for _, inj := range e.targets {
		if rn, ok := inj.(interface{ Renew(context.Context) error }); ok {
			e.holder.AddRenewer(rn.Renew)
		}
	}
	for _, a := range e.x.Method {
		if a.Container != nil && e.docker == nil {
			cli, err := container.NewClient()
			if err != nil {
				return fmt.Errorf("container faults need the Docker engine: %w", err)
			}
			e.docker = container.New(cli, container.WithFiller(e.o.Filler))
		}
	}
	if e.o.Guard != nil {
		if err := e.o.Guard(e.dir); err != nil {
			return err
		}
	}
	e.mu.Lock()
	e.j.Started = r.Zero()
	e.mu.Unlock()
	return e.writeJournal()
}

// writeJournal writes the journal as it stands.
func (e *execution) writeJournal() error {
	e.mu.Lock()
	j := e.j
	j.Checks, j.Intervals = nil, nil // written whole at the end
	e.mu.Unlock()
	return chaos.WriteJournal(e.dir, &j)
}

// tick judges the hypothesis and the abort conditions over the live
// windows, and moves the timeline on (runner hook, every interval).
func (e *execution) tick(ctx context.Context, r *runner.Run, now time.Time) {
	elapsed := now.Sub(r.Zero()).Round(time.Millisecond)
	phase := chaos.PhaseAfter
	switch {
	case elapsed <= e.first:
		phase = chaos.PhaseBefore
	case elapsed <= e.lastEnd:
		phase = chaos.PhaseDuring
	}
	c := e.check(e.x.Hypothesis, r.Window(e.x.Window), e.x.Window, now, elapsed, phase)
	ic := e.intervalCheck(r.Window(e.iv), now)
	e.mu.Lock()
	e.j.Checks = append(e.j.Checks, c)
	e.j.Intervals = append(e.j.Intervals, ic)
	stopped := e.stopped != ""
	e.mu.Unlock()
	if stopped {
		return
	}
	if reason := e.abortCondition(r, now, elapsed); reason != "" {
		e.halt(chaos.StatusAborted, "abort condition: "+reason)
		return
	}
	if !e.judgedBefore && elapsed >= e.first {
		// The check at the first activity's start (or the first after it,
		// when the run's loop fell behind and skipped an interval).
		e.judgedBefore = true
		e.mu.Lock()
		before := c
		e.j.Hypothesis.Before = &before
		e.mu.Unlock()
		if c.Status != chaos.Held && slices.Contains(e.x.Steady.Hold, chaos.PhaseBefore) {
			e.halt(chaos.StatusAborted, "no steady state before the method: the hypothesis was "+c.Status+" ("+gateText(c.Gates)+")")
			return
		}
	}
	for _, ra := range e.acts {
		switch {
		case !ra.begun && ra.a.At.D() <= elapsed:
			ra.begun = true
			e.wg.Add(1)
			go e.perform(ra)
		case ra.begun && ra.a.end(e.lastEnd) <= elapsed:
			closeOnce(ra.revert)
		}
	}
}

// halt ends the experiment early: its status, the load stopped, every
// fault reverted now.
func (e *execution) halt(status, why string) {
	e.mu.Lock()
	if e.stopped != "" {
		e.mu.Unlock()
		return
	}
	e.stopped, e.why = status, why
	e.mu.Unlock()
	fmt.Fprintf(e.o.Err, "experiment %s: %s\n", status, why)
	_ = e.run.Journal().Emit(gonogo.Event{Kind: gonogo.EventRun, Source: "chaos", Message: "experiment " + status + ": " + why})
	for _, ra := range e.acts {
		closeOnce(ra.revert)
	}
	closeOnce(e.over)
	e.run.Abort(why)
}

func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}

// check judges gates over data.
func (e *execution) check(g *analyze.Gates, data *analyze.RunData, window time.Duration, now time.Time, elapsed time.Duration, phase string) chaos.Check {
	c := chaos.Check{Time: now, ElapsedS: elapsed.Seconds(), Phase: phase, Status: chaos.Held}
	if data == nil || now.Sub(e.run.Zero()) < window {
		c.Status = chaos.Inconclusive
		c.Gates = []chaos.GateOutcome{{Name: "window", Status: chaos.Inconclusive, Reason: fmt.Sprintf("less than one window (%v) of the run so far", window)}}
		return c
	}
	for _, gt := range g.Gates {
		res, err := g.EvaluateOnce(gt, data, nil)
		if err != nil {
			res.Status, res.Reason = analyze.GateInconclusive, err.Error()
		}
		switch res.Status {
		case analyze.GatePass:
			continue
		case analyze.GateFail:
			c.Status = chaos.Deviated
		default:
			if c.Status == chaos.Held {
				c.Status = chaos.Inconclusive
			}
		}
		c.Gates = append(c.Gates, chaos.GateOutcome{Name: gt.Name, Status: string(res.Status), Observed: res.Observed, Reason: res.Reason})
	}
	return c
}

// intervalCheck judges the hypothesis on the last interval alone.
func (e *execution) intervalCheck(data *analyze.RunData, now time.Time) chaos.IntervalCheck {
	ic := chaos.IntervalCheck{End: now, Status: chaos.Inconclusive}
	if data == nil {
		return ic
	}
	req := data.Summary.Overall.Requests
	ic.Requests, ic.Failed = req.Total, req.FailedTotal()
	ic.Status = e.check(e.ivGates, data, 0, now, 0, "").Status
	return ic
}

// abortCondition judges the abort conditions; it returns why one fired.
func (e *execution) abortCondition(r *runner.Run, now time.Time, elapsed time.Duration) string {
	g := e.x.AbortGates
	if g == nil {
		return ""
	}
	for _, gt := range g.Gates {
		w := gt.WindowDuration()
		if w == 0 {
			w = e.x.Window
		}
		if elapsed < w {
			continue
		}
		res, err := g.EvaluateOnce(gt, r.Window(w), nil)
		if err == nil && res.Status == analyze.GateFail {
			return fmt.Sprintf("%s: %s", gt.Name, res.Reason)
		}
	}
	return ""
}

// perform applies one activity, keeps it in force until it is reverted
// (its end, or the experiment's), and records it: ledger, journal.
func (e *execution) perform(ra *running) {
	defer e.wg.Done()
	defer close(ra.done)
	rec := func(f func(a *chaos.Activity)) {
		e.mu.Lock()
		f(ra.rec)
		e.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
	inj := e.injector(ra.a)
	undo, err := inj.Prepare(ctx, ra.fault)
	if err == nil {
		err = e.ledger.Applying(ra.fault, undo)
	}
	var revert chaos.Revert
	start := time.Now()
	if err == nil {
		revert, err = inj.Apply(ctx, ra.fault)
		if err != nil {
			_ = e.ledger.Reverted(ra.fault.ID, chaos.ByRun) // never in force
		}
	}
	cancel()
	if err != nil {
		rec(func(a *chaos.Activity) { a.Outcome, a.Error = chaos.OutcomeFailed, err.Error() })
		fmt.Fprintf(e.o.Err, "activity %s failed: %v\n", ra.a.Name, err)
		_ = e.writeJournal()
		return
	}
	rec(func(a *chaos.Activity) { a.Start, a.Outcome = &start, chaos.OutcomeActive })
	_ = e.writeJournal()
	fmt.Fprintf(e.o.Out, "%s  %s started (%s on %s)\n", clock(start.Sub(e.run.Zero())), ra.a.Name, ra.fault.Kind, ra.fault.Target)

	end, settled := start, time.Time{}
	if s, ok := inj.(chaos.Settler); ok {
		// A fault that ends by itself (a killed container restarted by
		// its policy) is waited for until the experiment is over, its
		// own revert time notwithstanding.
		sctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-e.over:
			case <-sctx.Done():
			}
			cancel()
		}()
		if t, err := s.Settled(sctx, ra.fault); err == nil && !t.IsZero() {
			settled = t
		}
		cancel()
	}
	<-ra.revert
	var matched, affected *int64
	if c, ok := inj.(chaos.Counter); ok {
		m, af := c.Counts(ra.fault.ID)
		matched, affected = &m, &af
	}
	rctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
	rerr := revert(rctx)
	cancel()
	switch {
	case !settled.IsZero():
		end = settled // it ended by itself: a killed container came back
	case ra.a.Duration > 0 || needsRevert(ra):
		end = time.Now()
	}
	if rerr == nil {
		rerr = e.ledger.Reverted(ra.fault.ID, chaos.ByRun)
	}
	rec(func(a *chaos.Activity) {
		a.End, a.Outcome, a.Matched, a.Affected = &end, chaos.OutcomeOK, matched, affected
		if rerr != nil {
			a.RevertError = rerr.Error()
			fmt.Fprintf(e.o.Err, "activity %s: revert failed: %v (the ledger keeps it: gonogo chaos revert --ledger %s)\n", ra.a.Name, rerr, e.dir)
		}
	})
	fmt.Fprintf(e.o.Out, "%s  %s ended\n", clock(end.Sub(e.run.Zero())), ra.a.Name)
	attrs := map[string]string{"kind": ra.fault.Kind, "activity": ra.a.Name}
	_ = e.run.Journal().Emit(gonogo.Event{Time: start, End: &end, Kind: gonogo.EventFault, Target: ra.fault.Target,
		Source: "chaos", Message: ra.a.Name + " (" + ra.fault.Kind + ")", Attrs: attrs})
	_ = e.writeJournal()
}

// needsRevert reports whether an activity without a duration is in force
// until the end of the method (a proxy fault) rather than instant (an
// action without a revert).
func needsRevert(ra *running) bool {
	return ra.a.HTTP != nil || ra.a.TCP != nil || ra.a.GRPC != nil || ra.a.Container != nil || (ra.a.Request != nil && ra.a.Request.Revert != nil)
}

// stop reverts everything still in force, runs the rollbacks and
// releases the lease, whatever ended the run (runner hook).
func (e *execution) stop(ctx context.Context, r *runner.Run) {
	for _, ra := range e.acts {
		closeOnce(ra.revert)
	}
	closeOnce(e.over)
	e.wg.Wait()
	for i := range e.x.Rollbacks {
		a := &e.x.Rollbacks[i]
		rctx, cancel := context.WithTimeout(context.Background(), revertTimeout)
		t := time.Now()
		err := a.Request.send(rctx)
		cancel()
		rb := chaos.Activity{Name: a.Name, Kind: "action.request", Target: a.Request.Method + " " + a.Request.URL, Start: &t, End: &t, Outcome: chaos.OutcomeOK}
		if err != nil {
			rb.Outcome, rb.Error = chaos.OutcomeFailed, err.Error()
			fmt.Fprintf(e.o.Err, "rollback %s failed: %v\n", a.Name, err)
		}
		e.mu.Lock()
		e.j.Rollbacks = append(e.j.Rollbacks, rb)
		e.mu.Unlock()
	}
	if e.holder != nil {
		if err := e.holder.Release(); err != nil {
			fmt.Fprintf(e.o.Err, "warning: releasing the fault lease: %v\n", err)
		}
	}
	if e.ledger != nil {
		_ = e.ledger.Close()
	}
}

// conclude decides the status and the verdict once the run is over, and
// derives time to detect and recover and the blast radius.
func (e *execution) conclude(res *runner.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	j := &e.j
	end := res.Run.Ended
	if end.IsZero() {
		end = time.Now()
	}
	j.Ended = &end
	e.timesToDetectAndRecover()
	e.blastRadius()
	var during *chaos.Check
	for i := range j.Checks {
		c := &j.Checks[i]
		if c.Phase != chaos.PhaseDuring {
			continue
		}
		if during == nil || rank(c.Status) > rank(during.Status) {
			during = c
		}
	}
	j.Hypothesis.During = during
	if n := len(j.Checks); n > 0 && j.Checks[n-1].Phase == chaos.PhaseAfter {
		after := j.Checks[n-1]
		j.Hypothesis.After = &after
	}
	hold := func(p string) bool { return slices.Contains(j.Hypothesis.Hold, p) }
	switch {
	case e.stopped != "":
		j.Status, j.Verdict, j.Reason = e.stopped, chaos.Inconclusive, e.why
	case res.Run.Status == reports.StatusInterrupted:
		j.Status, j.Verdict, j.Reason = chaos.StatusInterrupted, chaos.Inconclusive, "interrupted"
	case res.Run.Partial():
		j.Status, j.Verdict, j.Reason = chaos.StatusAborted, chaos.Inconclusive, "the run ended early: "+res.Run.AbortReason
	case hold(chaos.PhaseDuring) && during != nil && during.Status == chaos.Deviated:
		j.Status, j.Verdict = chaos.StatusDeviated, chaos.Deviated
		j.Reason = fmt.Sprintf("the hypothesis failed during the method at +%.0fs: %s", during.ElapsedS, gateText(during.Gates))
	case j.Hypothesis.After == nil:
		j.Status, j.Verdict, j.Reason = chaos.StatusCompleted, chaos.Inconclusive, "no check after the method"
	case j.Hypothesis.After.Status == chaos.Deviated && hold(chaos.PhaseAfter):
		j.Status, j.Verdict = chaos.StatusDeviated, chaos.Deviated
		j.Reason = "the hypothesis failed after the method: " + gateText(j.Hypothesis.After.Gates)
	case j.Hypothesis.After.Status == chaos.Inconclusive && hold(chaos.PhaseAfter):
		j.Status, j.Verdict = chaos.StatusCompleted, chaos.Inconclusive
		j.Reason = "not enough data after the method: " + gateText(j.Hypothesis.After.Gates)
	default:
		j.Status, j.Verdict = chaos.StatusCompleted, chaos.Held
	}
	for i := range j.Activities {
		if a := &j.Activities[i]; a.Outcome == chaos.OutcomeActive {
			a.Outcome = chaos.OutcomeOK // reverted at the end (the run's Stop hook)
		}
	}
}

// rank orders check statuses from best to worst.
func rank(s string) int {
	switch s {
	case chaos.Held:
		return 0
	case chaos.Inconclusive:
		return 1
	}
	return 2
}

// timesToDetectAndRecover reads, for every fault, the first interval that
// failed after it began and the first that held again after it ended.
func (e *execution) timesToDetectAndRecover() {
	ivs := e.j.Intervals
	for i := range e.j.Activities {
		a := &e.j.Activities[i]
		if a.Start == nil || a.End == nil {
			continue
		}
		k := slices.IndexFunc(ivs, func(c chaos.IntervalCheck) bool { return c.End.After(*a.Start) && c.Status == chaos.Deviated })
		if k < 0 {
			continue
		}
		det := ivs[k].End
		ttd := det.Sub(*a.Start).Seconds()
		a.DetectedAt, a.TimeToDetectS = &det, &ttd
		for _, c := range ivs[k:] {
			if c.End.After(*a.End) && c.Status == chaos.Held {
				rec := c.End.Add(-e.iv)
				if rec.Before(*a.End) {
					rec = *a.End
				}
				ttr := rec.Sub(*a.End).Seconds()
				a.RecoveredAt, a.TimeToRecoverS = &rec, &ttr
				break
			}
		}
	}
}

// blastRadius sums the load's requests and failures, and those of the
// intervals a fault was in force in.
func (e *execution) blastRadius() {
	br := &e.j.BlastRadius
	for _, c := range e.j.Intervals {
		br.Requests += c.Requests
		br.Failed += c.Failed
		from := c.End.Add(-e.iv)
		for _, a := range e.j.Activities {
			// An interval counts when a fault was in force during it.
			if a.Start != nil && a.End != nil && minTime(c.End, *a.End).After(maxTime(from, *a.Start)) {
				br.DuringRequests += c.Requests
				br.DuringFailed += c.Failed
				break
			}
		}
	}
	if br.DuringRequests > 0 {
		br.DuringErrRate = float64(br.DuringFailed) / float64(br.DuringRequests)
	}
	for _, a := range e.j.Activities {
		if a.Affected != nil {
			br.Affected += *a.Affected
		}
	}
}

// gateText names the gates of a check that did not pass.
func gateText(gs []chaos.GateOutcome) string {
	var parts []string
	for _, g := range gs {
		parts = append(parts, g.Name+": "+g.Reason)
	}
	if len(parts) == 0 {
		return "no gate failed"
	}
	return strings.Join(parts, "; ")
}

// clock formats an offset from time zero as +12.3s.
func clock(d time.Duration) string { return fmt.Sprintf("+%5.1fs", d.Seconds()) }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
