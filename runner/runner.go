// Package runner runs one load or shadow run end to end: it builds the
// protocol clients and arrival sources of a workload, checks the target,
// prints the plan, and owns the run's lifecycle — one time zero for the
// engine, the recorder, the timeline and the journal; the interval flush;
// thresholds, live gates and abort; the results directory, written so that
// a killed run leaves what it measured and a run.json that says it is
// partial; the summary, the verdict and the run history.
//
// Other parts attach to a run through Hooks: called just before time zero,
// after every interval (with live windows through Run.Window), and once
// the last request has finished. A chaos experiment injects and reverts
// its faults from them and writes them to the journal; the command line
// draws its progress line from them.
package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/ndjson"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// Config describes one run.
type Config struct {
	// File is the workload: scenarios and thresholds.
	File *scenarios.File
	// Protocol names the protocol client (extensions.Names) and Target is
	// the base URL of the service under test.
	Protocol, Target string
	// Client holds the client options; a scenario's request block fills
	// what they leave zero.
	Client extensions.Options
	// Dir is the results directory; "" picks results/<scenario>-<time>.
	Dir string
	// Command is the command line as typed, program name first; its
	// credentials are redacted (RedactArgs) before it is stored.
	Command []string
	// Labels say what is tested (version=v2); the history keys runs by
	// them.
	Labels map[string]string
	// Samples writes every request to samples.ndjson.gz.
	Samples bool
	// MetricsAddr serves live metrics (Prometheus), windowed percentiles
	// and the marker endpoint on this address; "" serves none.
	MetricsAddr string
	// Outputs receive the run's live metrics every OutputInterval (0:
	// outputs.DefaultInterval) and its totals and events once it has ended
	// (package outputs); a slow or failing output never slows or fails the
	// run. Every run writes annotations.json, outputs or not.
	Outputs        []outputs.Output
	OutputInterval time.Duration
	// Gates, when set, are judged during the run (windowed and abortOnFail
	// gates, over the live windows) and after it (verdict.json), against
	// Baseline for relative gates.
	Gates    *analyze.Gates
	Baseline *analyze.RunData
	// History is the run history database the run (and its verdict) is
	// recorded in; "" records nothing.
	History string
	// Preflight says how the target is checked before the run.
	Preflight Preflight
	// Shadow, when set, mirrors every request to secondary and candidate
	// versions and stores every answer (gonogo shadow).
	Shadow *Shadow
	// Out receives the plan, the summary and the results' location; Err
	// the warnings and the progress line. nil discards.
	Out, Err io.Writer
	// Progress draws a live progress line on Err (a terminal, not CI).
	Progress bool
	// Interval is the length of the run's intervals; zero means
	// analyze.DefaultInterval.
	Interval time.Duration
	// Window is the longest span hooks ask Run.Window for: the recorder
	// keeps at least that many intervals in memory.
	Window time.Duration
	// SLOs are counted live besides those of Gates, for the goodput gates
	// hooks judge.
	SLOs []analyze.SLO
	// Percentiles are the percentiles (0–100) the text summary and the
	// HTML report show (--percentiles); nil shows the default set. Those
	// not stored in every MetricStats are added to run.json.
	Percentiles []float64

	// sinks receive every result and drop besides the run's own (a
	// sweep's throughput counter).
	sinks gonogo.Sinks
}

// Preflight says how the target is checked before a run.
type Preflight struct {
	// Skip sends no readiness check.
	Skip bool
	// Wait keeps retrying the check this long, for a service that was just
	// started; 0 checks once.
	Wait time.Duration
}

// Hooks are called at the moments of a run's lifecycle; nil ones are
// skipped. They run on the run's goroutines: Tick must return quickly
// (well within an interval).
type Hooks struct {
	// Start is called just before time zero, once the results directory,
	// the recorder and the journal exist. An error stops the run before its
	// first request.
	Start func(ctx context.Context, r *Run) error
	// Tick is called after every interval is flushed, with the end of the
	// interval.
	Tick func(ctx context.Context, r *Run, now time.Time)
	// Stop is called once the last request has finished, before the
	// results are written.
	Stop func(ctx context.Context, r *Run)
}

// preflightTimeout bounds one readiness check.
const preflightTimeout = 30 * time.Second

// Run is one run, from New to Execute.
type Run struct {
	cfg     Config
	dir     rundir.Dir
	plans   []scenarios.Plan
	planned []scenarios.PlanSummary // by plan, read before the run
	traces  map[string]*trace
	ths     analyze.Thresholds
	hooks   []Hooks
	out     io.Writer
	errw    io.Writer

	zero    time.Time
	eng     *scenarios.Engine
	rec     *analyze.Recorder
	journal *Journal
	watch   *analyze.Watch
	abort   *analyze.AbortChecker
	sinks   gonogo.Sinks
	shadow  *shadowRun
	checks  runChecks

	mu       sync.Mutex
	stopRun  context.CancelFunc
	stopped  string // status once stopped early (StatusAborted)
	stopWhy  string
	gateDown map[string]bool // live gates failing at the last check
	windows  windowCache     // for /metrics
	outs     runOutputs      // for Config.Outputs and annotations.json
}

var _ gonogo.Sink = (*Run)(nil)

// New checks a run's configuration, builds its clients and opens its
// traces. Every error is bad input (ErrInput). Call Execute next, then
// Close when New succeeded.
func New(cfg Config) (*Run, error) {
	if cfg.File == nil || len(cfg.File.Scenarios) == 0 {
		return nil, inputf("no scenario to run")
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Err == nil {
		cfg.Err = io.Discard
	}
	r := &Run{cfg: cfg, traces: map[string]*trace{}, out: cfg.Out, errw: cfg.Err, gateDown: map[string]bool{}}
	ths, err := thresholds(cfg.File)
	if err != nil {
		return nil, err
	}
	r.ths = ths
	if r.abort, err = analyze.NewAbortChecker(ths); err != nil {
		return nil, asInput(err)
	}
	if cfg.Gates != nil {
		if err := checkGates(cfg.Gates, cfg.Baseline); err != nil {
			return nil, err
		}
		r.watch = analyze.NewWatch(cfg.Gates, cfg.Baseline)
	}
	for _, name := range cfg.File.Names() {
		s := cfg.File.Scenarios[name]
		opts := ScenarioOptions(cfg.Client, s.Request)
		opts.Target = cfg.Target
		c, err := r.newClient(s, opts)
		if err != nil {
			r.Close()
			if errors.Is(err, ErrInput) { // names the scenario already
				return nil, err
			}
			return nil, asInput(fmt.Errorf("scenario %s: %w", name, err))
		}
		p := scenarios.Plan{Scenario: s, Client: c}
		if s.Traffic != nil {
			t, err := openTraffic(s)
			if err != nil {
				r.Close()
				return nil, err
			}
			r.traces[name], p.Source = t, t.source
		}
		r.plans = append(r.plans, p)
	}
	if cfg.Shadow != nil {
		if err := r.newShadow(); err != nil {
			r.Close()
			return nil, err
		}
	}
	r.bindChecks()
	if err := r.checkNames(); err != nil {
		r.Close()
		return nil, err
	}
	// The plan is read before the run: during it the sources are the
	// engine's.
	for _, p := range r.plans {
		r.planned = append(r.planned, p.Summary())
	}
	dir := cfg.Dir
	if dir == "" {
		dir = filepath.Join("results", cfg.File.Names()[0]+"-"+time.Now().Format("20060102-150405"))
	}
	r.dir = rundir.Dir(dir)
	return r, nil
}

// checkGates refuses gates a run cannot judge: a relative gate against a
// baseline without one.
func checkGates(g *analyze.Gates, base *analyze.RunData) error {
	if base != nil {
		return nil
	}
	for _, gt := range g.Gates {
		if gt.Kind() == analyze.Relative && gt.Compare == "baseline" {
			return inputf("%s: gate %q compares with a baseline: pass --baseline DIR (or last-go)", g.Path, gt.Name)
		}
	}
	return nil
}

// Attach adds hooks to the run; call it before Execute.
func (r *Run) Attach(h Hooks) { r.hooks = append(r.hooks, h) }

// Dir is the run's results directory.
func (r *Run) Dir() rundir.Dir { return r.dir }

// Zero is the run's time zero; zero before Execute picks it.
func (r *Run) Zero() time.Time { return r.zero }

// Journal is the run's event journal; nil before the Start hooks.
func (r *Run) Journal() *Journal { return r.journal }

// InFlight is the number of requests in flight.
func (r *Run) InFlight() int64 {
	if r.eng == nil {
		return 0
	}
	return r.eng.InFlight()
}

// Window returns the last span of the run as the judge's input (see
// analyze.Recorder.Window); nil before the Start hooks.
func (r *Run) Window(span time.Duration) *analyze.RunData {
	if r.rec == nil {
		return nil
	}
	return r.rec.Window(span)
}

// Abort stops the run early: no new arrivals, requests in flight get
// their gracefulStop; the run's status is aborted and its reason kept in
// run.json. The first call wins.
func (r *Run) Abort(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped != "" || r.stopRun == nil {
		return
	}
	r.stopped, r.stopWhy = reports.StatusAborted, reason
	r.stopRun()
}

// Record passes a result to the run's sinks (the engine's sink).
func (r *Run) Record(res *gonogo.Result) { r.sinks.Record(res) }

// Drop passes a dropped arrival to the run's sinks.
func (r *Run) Drop(req *gonogo.Request) { r.sinks.Drop(req) }

// Close releases what New opened (traces, clients and their mirrors). Execute
// leaves them open so that a caller may inspect them; call Close last.
func (r *Run) Close() {
	for _, t := range r.traces {
		t.close()
	}
	for _, p := range r.plans {
		if c, ok := p.Client.(io.Closer); ok { // a gRPC client's connections
			_ = c.Close()
		}
	}
}

// Result is what a run produced.
type Result struct {
	Dir rundir.Dir
	// Run is run.json's content.
	Run *reports.Run
	// Verdict is the verdict of Config.Gates; nil without gates.
	Verdict *analyze.Verdict
}

// Decision is the run's outcome for the exit code: the verdict's when the
// run was judged; else no-go when a threshold failed, inconclusive when
// the run ended early, and go otherwise.
func (res *Result) Decision() analyze.Decision {
	switch {
	case res.Verdict != nil:
		return res.Verdict.Verdict
	case !analyze.Passed(res.Run.Thresholds):
		return analyze.NoGo
	case res.Run.Partial():
		return analyze.Inconclusive
	}
	return analyze.Go
}

// Reason says in one line why the decision is not a go; "" for a go.
func (res *Result) Reason() string {
	switch d := res.Decision(); {
	case d == analyze.Go:
		return ""
	case res.Verdict != nil:
		return "verdict: " + string(d)
	case !analyze.Passed(res.Run.Thresholds):
		return FailedThresholds(res.Run.Thresholds)
	default:
		return "the run ended early (" + res.Run.Status + "): " + res.Run.AbortReason
	}
}

// Execute runs: preflight, plan, time zero, the engine until the workload
// ends (or ctx is cancelled: an interrupt, recorded as such; or the run
// is aborted), then the results. A run that started always writes its
// results: the error returned then is about what could not be written or
// read (the Result is still returned, with what was written).
func (r *Run) Execute(ctx context.Context) (*Result, error) {
	if err := r.preflight(ctx); err != nil {
		return nil, err
	}
	r.printPlan()
	if err := r.dir.Make(); err != nil {
		return nil, err
	}
	early := eventsForNextRun(r.dir)
	if err := r.dir.Clear(); err != nil {
		return nil, err
	}
	streams, err := r.openStreams()
	if err != nil {
		return nil, err
	}
	defer streams.close()
	defer r.journal.Close() // closed by finish; this covers an early return
	for _, e := range early {
		_ = r.journal.Emit(e)
	}

	r.eng = scenarios.NewEngine(r)
	r.eng.Warm(ctx, r.plans)
	r.zero = time.Now().Add(r.eng.Lead(r.plans))
	if err := r.newRecorder(streams); err != nil {
		return nil, err
	}
	run := r.runJSON()
	run.Status = reports.StatusRunning
	if err := reports.WriteRunJSON(string(r.dir), run); err != nil {
		return nil, err
	}
	stopMetrics, err := r.serveMetrics()
	if err != nil {
		return nil, err
	}
	defer stopMetrics()
	r.startOutputs()
	defer r.stopOutputs()

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	r.mu.Lock()
	r.stopRun = stopRun
	r.mu.Unlock()
	var startErr error
	for _, h := range r.hooks {
		if h.Start == nil {
			continue
		}
		if startErr = h.Start(runCtx, r); startErr != nil {
			// No request goes out; the results say why.
			startErr = fmt.Errorf("starting the run: %w", startErr)
			r.Abort(startErr.Error())
			break
		}
	}
	loopCtx, stopLoop := context.WithCancel(context.Background())
	looped := make(chan error, 1)
	go func() { looped <- r.loop(loopCtx, runCtx, streams) }()

	r.eng.RunAt(runCtx, r.plans, r.zero)

	stopLoop()
	loopErr := <-looped
	end := time.Now()
	r.mu.Lock()
	status, why := r.stopped, r.stopWhy
	r.stopRun = nil // Abort after the end does nothing
	r.mu.Unlock()
	switch {
	case status != "":
	case ctx.Err() != nil:
		status, why = reports.StatusInterrupted, "interrupted"
	default:
		status = reports.StatusComplete
	}
	if status != reports.StatusComplete {
		_ = r.journal.Emit(gonogo.Event{Time: end, Kind: gonogo.EventRun, Message: "run " + status + ": " + why})
	}
	for _, h := range r.hooks {
		if h.Stop != nil {
			h.Stop(ctx, r)
		}
	}
	res, err := r.finish(end, status, why, streams, loopErr)
	r.finishOutputs(res, end, status, why)
	return res, errors.Join(startErr, err)
}

// preflight checks that the target takes load, retrying for up to Wait.
func (r *Run) preflight(ctx context.Context) error {
	pf := r.cfg.Preflight
	if pf.Skip {
		return nil
	}
	deadline := time.Now().Add(pf.Wait)
	for {
		pctx, cancel := context.WithTimeout(ctx, preflightTimeout)
		err := extensions.Preflight(pctx, r.plans[0].Client, r.cfg.Target)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("interrupted before the run started: %w", ctx.Err())
		case time.Now().After(deadline):
			return asInput(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// streams are the files a run writes while it goes, buffered; flush
// writes what they buffer to their files at every interval.
type streams struct {
	files   []*os.File
	names   []string
	hlog    *bufio.Writer
	tl      *bufio.Writer
	samples *ndjson.Writer
	sfile   *os.File
	flushed []func() error
}

func (r *Run) openStreams() (*streams, error) {
	s := &streams{}
	open := func(name string) (*os.File, error) {
		f, err := r.dir.Create(name)
		if err == nil {
			s.files, s.names = append(s.files, f), append(s.names, name)
		}
		return f, err
	}
	hf, err := open(rundir.IntervalLog)
	if err != nil {
		s.close()
		return nil, err
	}
	tf, err := open(rundir.Timeline)
	if err != nil {
		s.close()
		return nil, err
	}
	s.hlog, s.tl = bufio.NewWriterSize(hf, 64<<10), bufio.NewWriterSize(tf, 16<<10)
	s.flushed = append(s.flushed, s.hlog.Flush, s.tl.Flush)
	if r.cfg.Samples {
		if s.sfile, err = open(rundir.Samples); err != nil {
			s.close()
			return nil, err
		}
	}
	if r.journal, err = OpenJournal(r.dir); err != nil {
		s.close()
		return nil, err
	}
	if r.shadow != nil {
		pf, err := open(rundir.Pairs)
		if err != nil {
			s.close()
			return nil, err
		}
		r.shadow.open(pf)
		s.flushed = append(s.flushed, r.shadow.flush)
	}
	return s, nil
}

// flush writes the buffered streams to their files.
func (s *streams) flush() error {
	var errs []error
	for _, f := range s.flushed {
		errs = append(errs, f())
	}
	if s.samples != nil {
		errs = append(errs, s.samples.Flush())
	}
	return errors.Join(errs...)
}

// close closes every stream file, naming those that fail.
func (s *streams) close() error {
	var errs []error
	for i, f := range s.files {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("%s: %w", s.names[i], err))
		}
	}
	return errors.Join(errs...)
}

// newRecorder creates the recorder and the sinks at time zero.
func (r *Run) newRecorder(s *streams) error {
	cfg := analyze.Config{Start: r.zero, Interval: r.cfg.Interval, IntervalLog: s.hlog, Timeline: s.tl, Checks: r.checks.names,
		Percentiles: r.cfg.Percentiles}
	longest := r.cfg.Window
	if g := r.cfg.Gates; g != nil {
		cfg.SLOs = g.SLOs()
		longest = max(longest, g.LongestWindow())
	}
	for _, slo := range r.cfg.SLOs {
		if !slices.ContainsFunc(cfg.SLOs, func(o analyze.SLO) bool { return o.Key == slo.Key }) {
			cfg.SLOs = append(cfg.SLOs, slo)
		}
	}
	if longest > 0 {
		iv := cfg.Interval
		if iv <= 0 {
			iv = analyze.DefaultInterval
		}
		cfg.Ring = max(analyze.DefaultRing, int(longest/iv)+2)
	}
	rec, err := analyze.NewRecorder(cfg)
	if err != nil {
		return err
	}
	r.rec = rec
	for _, p := range r.plans {
		rec.SetTargetRate(p.Scenario.Name, p.Scenario.TargetRate())
	}
	r.sinks = append(gonogo.Sinks{rec}, r.cfg.sinks...)
	if s.sfile != nil {
		s.samples = ndjson.New(s.sfile, r.zero)
		r.sinks = append(r.sinks, s.samples)
	}
	return nil
}

// loop closes an interval at every tick of the run's clock (zero + k ×
// interval): the recorder's flush, the streams' flush, the hooks, the
// thresholds and live gates, the progress line. It returns the first
// write error.
func (r *Run) loop(ctx, runCtx context.Context, s *streams) error {
	p := newProgress(r)
	defer p.done()
	iv := r.rec.Interval()
	var firstErr error
	for k := 1; ; k++ {
		next := r.zero.Add(time.Duration(k) * iv)
		if now := time.Now(); now.After(next) { // fell behind: skip to the next tick
			k = int(now.Sub(r.zero)/iv) + 1
			next = r.zero.Add(time.Duration(k) * iv)
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return firstErr
		case <-t.C:
		}
		err := r.rec.Flush(next)
		if err == nil {
			err = s.flush()
		}
		if err != nil && firstErr == nil {
			firstErr = err
			fmt.Fprintf(r.errw, "warning: writing results: %v\n", err)
		}
		for _, h := range r.hooks {
			if h.Tick != nil {
				h.Tick(runCtx, r, next)
			}
		}
		r.checkLive(next)
		p.update(next)
	}
}

// checkLive evaluates the abortOnFail thresholds and the live gates,
// writes the gates' failures to the journal and aborts when one asks to.
func (r *Run) checkLive(now time.Time) {
	if r.abort.Len() > 0 {
		if failed := r.abort.Check(r.rec, now); len(failed) > 0 {
			r.Abort("abortOnFail: " + FailedThresholds(failed))
		}
	}
	if r.watch == nil || r.watch.Len() == 0 {
		return
	}
	results, err := r.watch.Check(r.rec, now)
	if err != nil {
		fmt.Fprintf(r.errw, "warning: live gates: %v\n", err)
		return
	}
	for _, lr := range results {
		failing := lr.Status == analyze.GateFail
		if failing && !r.gateDown[lr.Name] {
			end := lr.To
			_ = r.journal.Emit(gonogo.Event{Time: lr.From, End: &end, Kind: EventGate, Message: "gate " + lr.Name + " failed: " + lr.Reason,
				Attrs: map[string]string{"gate": lr.Name}})
		}
		r.gateDown[lr.Name] = failing
		if lr.Abort {
			r.Abort(fmt.Sprintf("gate %q failed: %s", lr.Name, lr.Reason))
		}
	}
}

// EventGate is the kind of the journal events of live gates that failed.
const EventGate = "gate"

// finish writes the results of a run that ended at end.
func (r *Run) finish(end time.Time, status, why string, s *streams, loopErr error) (*Result, error) {
	var errs []error
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	if loopErr != nil {
		errs = append(errs, loopErr)
	}
	note(rundir.IntervalLog+" and "+rundir.Timeline, r.rec.Close(end))
	if s.samples != nil {
		note(rundir.Samples, s.samples.Close())
	}
	if r.shadow != nil {
		note(rundir.Pairs, r.shadow.finish(r))
	}
	note("flushing", s.flush())
	if err := s.close(); err != nil {
		errs = append(errs, err)
	}
	note(rundir.Events, r.journal.Close())

	run := r.runJSON()
	run.Status = status
	if status != reports.StatusComplete {
		run.Aborted, run.AbortReason = true, why
	}
	run.SetSummary(r.rec.Summary(end))
	run.WarmupRequests = r.eng.WarmupRequests()
	if s.samples != nil {
		run.Slowest = s.samples.Slowest()
	}
	if r.shadow != nil {
		run.Mirrors = r.shadow.stats()
	}
	var traceErr error
	for name, t := range r.traces {
		sc := run.Scenarios[name]
		sc.Traffic = t.report()
		run.Scenarios[name] = sc
		if e := t.err(); e != nil && traceErr == nil {
			traceErr = TraceError(e)
		}
	}
	var err error
	if run.Thresholds, err = evaluateThresholds(r.ths, run.Summary()); err != nil {
		return nil, err
	}
	if r.ramps() {
		c, err := r.capacity()
		note("capacity", err)
		run.Capacity = c
	}
	note(rundir.Cumulative, r.dir.WriteAtomic(rundir.Cumulative, r.rec.WriteCumulative))
	if err := reports.WriteRunJSON(string(r.dir), run); err != nil {
		errs = append(errs, err)
	}
	note(rundir.Summary, WriteSummary(r.dir, run, r.out))
	res := &Result{Dir: r.dir, Run: run}
	if werr := errors.Join(errs...); werr != nil {
		fmt.Fprintf(r.out, "\nresults (incomplete): %s\n", r.dir)
		return res, fmt.Errorf("writing results to %s: %w", r.dir, werr)
	}
	fmt.Fprintf(r.out, "\nresults: %s\n", r.dir)
	if r.shadow != nil {
		if err := r.shadow.divergence(r); err != nil {
			return res, err
		}
	}
	if r.cfg.Gates != nil {
		v, err := r.judge()
		if err != nil {
			return res, err
		}
		res.Verdict = v
	} else {
		r.record(nil)
	}
	if traceErr != nil {
		return res, fmt.Errorf("replay stopped early (results written): %w", traceErr)
	}
	return res, nil
}

// ramps reports whether a scenario ramps its arrival rate: a stress or
// breakpoint run, whose capacity is reported.
func (r *Run) ramps() bool {
	for _, p := range r.plans {
		if p.Scenario.Executor == scenarios.RampingArrivalRate {
			return true
		}
	}
	return false
}

// capacityMinRequests is the least a window needs for Capacity.
const capacityMinRequests = 10

// capacity reads the run's intervals back and says where the service
// broke, judging windows by the workload's thresholds and the defaults.
func (r *Run) capacity() (*analyze.Capacity, error) {
	ths := analyze.Thresholds{}
	maps.Copy(ths, DefaultThresholds)
	maps.Copy(ths, r.ths)
	check, err := analyze.ThresholdCheck(ths)
	if err != nil {
		return nil, err
	}
	tf, err := os.Open(r.dir.Path(rundir.Timeline))
	if err != nil {
		return nil, err
	}
	defer tf.Close()
	points, err := analyze.ReadTimeline(tf)
	if err != nil {
		return nil, err
	}
	hf, err := os.Open(r.dir.Path(rundir.IntervalLog))
	if err != nil {
		return nil, err
	}
	defer hf.Close()
	slices, err := analyze.ReadSlices(points, r.zero, hf, func(group, metric string) bool {
		return group == analyze.Overall && metric == analyze.MetricLatency
	})
	if err != nil {
		return nil, err
	}
	return analyze.CapacityOf(slices, analyze.DefaultCapacityWindow, capacityMinRequests, check), nil
}

// judge loads the run back from its directory, as gonogo verdict does,
// judges it, writes verdict.json and records the run with its verdict.
func (r *Run) judge() (*analyze.Verdict, error) {
	run, data, err := reports.LoadRun(string(r.dir))
	if err != nil {
		return nil, err
	}
	v, err := analyze.Judge(r.cfg.Gates, data, r.cfg.Baseline)
	if err != nil {
		return nil, err
	}
	if err := WriteVerdict(r.dir, v); err != nil {
		return v, err
	}
	fmt.Fprintln(r.out)
	if err := reports.WriteVerdictText(r.out, v); err != nil {
		return v, err
	}
	if r.cfg.History != "" {
		if err := RecordVerdict(r.cfg.History, run, data, v); err != nil {
			fmt.Fprintf(r.errw, "warning: run history %s: %v\n", r.cfg.History, err)
		}
	}
	return v, nil
}

// record records the finished run in the history; a failure is a
// warning, never a lost run.
func (r *Run) record(v *analyze.Verdict) {
	if r.cfg.History == "" {
		return
	}
	run, data, err := reports.LoadRun(string(r.dir))
	if err == nil {
		err = RecordVerdict(r.cfg.History, run, data, v)
	}
	if err != nil {
		fmt.Fprintf(r.errw, "warning: run history %s: %v\n", r.cfg.History, err)
	}
}

// RecordVerdict records a run, and its verdict when v is not nil, in the
// history at path.
func RecordVerdict(path string, run *reports.Run, data *analyze.RunData, v *analyze.Verdict) error {
	db, err := history.Open(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Record(run, data); err != nil {
		return err
	}
	if v == nil {
		return nil
	}
	return db.SetVerdict(run.ID, v)
}

// runJSON is run.json's content known before the run's end.
func (r *Run) runJSON() *reports.Run {
	run := &reports.Run{
		ID:      reports.RunID(string(r.dir), r.zero),
		Started: r.zero,
		Command: CommandLine(RedactArgs(r.cfg.Command)),
		Target:  RedactURL(r.cfg.Target), Protocol: r.cfg.Protocol, Labels: r.cfg.Labels,
		Scenarios:   map[string]reports.Scenario{},
		Files:       []string{rundir.IntervalLog, rundir.Timeline, rundir.Events, rundir.Cumulative, rundir.Summary},
		Percentiles: r.cfg.Percentiles,
	}
	for i, p := range r.plans {
		ps := r.planned[i]
		run.Scenarios[p.Scenario.Name] = reports.Scenario{Executor: ps.Description,
			ExpectedRequests: math.Round(ps.Requests*10) / 10, RequestsRSE: math.Round(ps.RequestsRSE*1000) / 1000}
	}
	if r.cfg.Samples {
		run.Files = append(run.Files, rundir.Samples)
	}
	if r.shadow != nil {
		run.Files = append(run.Files, rundir.Pairs, rundir.Divergence)
	}
	return run
}

// FailedThresholds names the failed thresholds in one line.
func FailedThresholds(results []analyze.ThresholdResult) string {
	var parts []string
	for _, t := range results {
		if !t.Pass {
			obs := fmt.Sprintf("observed %.4g", t.Observed)
			if t.NoData {
				obs = "no data"
			}
			parts = append(parts, fmt.Sprintf("%s %s (%s)", t.Metric, t.Expr, obs))
		}
	}
	return "thresholds failed: " + strings.Join(parts, "; ")
}

// WriteSummary writes the text summary of run to out and, atomically, to
// summary.txt in dir.
func WriteSummary(dir rundir.Dir, run *reports.Run, out io.Writer) error {
	return dir.WriteAtomic(rundir.Summary, func(w io.Writer) error {
		return reports.WriteText(io.MultiWriter(out, w), run)
	})
}

// WriteVerdict writes verdict.json into dir atomically.
func WriteVerdict(dir rundir.Dir, v *analyze.Verdict) error {
	return dir.WriteAtomic(rundir.Verdict, func(w io.Writer) error { return analyze.WriteVerdict(w, v) })
}
