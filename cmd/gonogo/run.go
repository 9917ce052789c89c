package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/container"
	"github.com/gonogo-dev/gonogo/extensions/ndjson"
	promout "github.com/gonogo-dev/gonogo/extensions/prometheus"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// loadJob is everything a load run needs, however it was asked for.
type loadJob struct {
	File        *scenarios.File
	Protocol    string
	Target      string
	Client      extensions.Options // per-scenario request blocks fill what is zero
	Out         string             // results directory; "" picks one
	MetricsAddr string
	Samples     bool // write samples.ndjson.gz
	Quiet       bool
	Command     string
	Labels      map[string]string
	// History is the run history database the run is recorded in; ""
	// records nothing.
	History string
	// WaitReady keeps retrying the preflight check this long, for a
	// service that was just started; 0 checks once.
	WaitReady time.Duration
	// Shadow, when set, mirrors every request to secondary and candidate
	// versions and stores every answer (gonogo shadow).
	Shadow *shadowJob
}

// preflightTimeout bounds the readiness check before a run.
const preflightTimeout = 30 * time.Second

// runLoad runs a load job end to end: preflight, engine, recorder, live
// progress, abortOnFail thresholds, run.json and the text summary. Every
// error before the first request is a usage error (exit 2); once the run
// starts, whatever was measured is written even if the run is interrupted.
func runLoad(ctx context.Context, o *options, job *loadJob) error {
	ths, err := thresholds(job.File)
	if err != nil {
		return err
	}
	names := job.File.Names()
	plans := make([]scenarios.Plan, 0, len(names))
	traces := map[string]*openTrace{}
	defer func() {
		for _, t := range traces {
			t.close()
		}
	}()
	for _, name := range names {
		s := job.File.Scenarios[name]
		opts := scenarioOptions(job.Client, s.Request)
		opts.Target = job.Target
		c, err := extensions.New(job.Protocol, opts)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("scenario %s: %w", name, err)}
		}
		p := scenarios.Plan{Scenario: s, Client: c}
		if s.Traffic != nil {
			t, err := openTraffic(s)
			if err != nil {
				return err
			}
			traces[name], p.Source = t, t.source
		}
		plans = append(plans, p)
	}
	if err := preflight(ctx, plans[0].Client, job.Target, job.WaitReady); err != nil {
		return err
	}

	start := time.Now()
	dir := job.Out
	if dir == "" {
		dir = filepath.Join("results", names[0]+"-"+start.Format("20060102-150405"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	if err := removeStale(dir); err != nil {
		return err
	}
	hf, err := os.Create(filepath.Join(dir, analyze.IntervalLogFile))
	if err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	defer hf.Close()
	hlog := bufio.NewWriterSize(hf, 64<<10)
	tf, err := os.Create(filepath.Join(dir, analyze.TimelineFile))
	if err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	defer tf.Close()
	timeline := bufio.NewWriterSize(tf, 16<<10)

	rec, err := analyze.NewRecorder(analyze.Config{Start: start, IntervalLog: hlog, Timeline: timeline})
	if err != nil {
		return err
	}
	run := &reports.Run{
		ID: reports.RunID(dir, start), Command: job.Command, Target: job.Target, Protocol: job.Protocol, Labels: job.Labels,
		Scenarios: map[string]reports.Scenario{}, Files: []string{analyze.IntervalLogFile, analyze.TimelineFile},
	}
	for _, p := range plans {
		rec.SetTargetRate(p.Scenario.Name, p.Scenario.TargetRate())
		run.Scenarios[p.Scenario.Name] = reports.Scenario{Executor: p.Scenario.Describe()}
	}
	var eng *scenarios.Engine
	sinks := gonogo.Sinks{rec}
	if job.MetricsAddr != "" {
		prom := promout.New(func() float64 { return float64(eng.InFlight()) })
		stop, err := serveMetrics(job.MetricsAddr, prom.Handler())
		if err != nil {
			return err
		}
		defer stop()
		sinks = append(sinks, prom)
	}
	if job.Shadow != nil {
		if err := job.Shadow.wrap(o, dir, job.Protocol, job.Client, plans); err != nil {
			return err
		}
		run.Files = append(run.Files, replay.PairsFile)
	}
	if job.Samples {
		sf, err := os.Create(filepath.Join(dir, ndjson.File))
		if err != nil {
			return fmt.Errorf("results directory: %w", err)
		}
		defer sf.Close()
		samples := ndjson.New(sf, rec.Start())
		defer func() {
			if err := samples.Close(); err != nil {
				fmt.Fprintf(o.Err, "warning: %s: %v\n", ndjson.File, err)
			}
		}()
		sinks = append(sinks, samples)
		run.Files = append(run.Files, ndjson.File)
	}
	eng = scenarios.NewEngine(sinks)

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	abort, err := analyze.NewAbortChecker(ths)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	loopCtx, stopLoops := context.WithCancel(context.Background())
	flushed := make(chan error, 1)
	go func() { flushed <- rec.Run(loopCtx) }()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		run.Aborted, run.AbortReason = watch(loopCtx, o, job, rec, eng, abort, stopRun)
	}()

	eng.Run(runCtx, plans)

	stopLoops()
	<-watched
	end := time.Now()
	err = errors.Join(<-flushed, rec.Close(end), hlog.Flush(), timeline.Flush(),
		writeFileWith(filepath.Join(dir, analyze.CumulativeLogFile), rec.WriteCumulative))
	run.Files = append(run.Files, analyze.CumulativeLogFile)
	if ctx.Err() != nil && !run.Aborted {
		run.Aborted, run.AbortReason = true, "interrupted"
	}
	if job.Shadow != nil {
		mirrors, serr := job.Shadow.finish(o)
		err = errors.Join(err, serr)
		run.Mirrors = map[string]reports.Mirror{}
		for name, m := range mirrors {
			run.Mirrors[name] = reports.Mirror{Sent: m.Sent, Dropped: m.Dropped, Skipped: m.Skipped, Failed: m.Failed}
		}
	}
	run.SetSummary(rec.Summary(end))
	var traceErr error
	for name, t := range traces {
		sc := run.Scenarios[name]
		sc.Traffic = t.report()
		run.Scenarios[name] = sc
		if e := t.err(); e != nil && traceErr == nil {
			traceErr = traceError(e)
		}
	}
	if run.Thresholds, err = analyze.Evaluate(ths, run.Summary()); err != nil {
		return err
	}
	run.Files = append(run.Files, summaryFile)
	if werr := reports.WriteRunJSON(dir, run); werr != nil {
		return errors.Join(err, werr)
	}
	if werr := writeSummary(o, dir, run); werr != nil {
		return errors.Join(err, werr)
	}
	recordRun(o.Err, job.History, dir)
	fmt.Fprintf(o.Out, "\nresults: %s\n", dir)
	if err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	if job.Shadow != nil {
		fmt.Fprintln(o.Out)
		dopts := analyze.DivergenceOptions{Segments: job.Shadow.Segments}
		if job.Protocol == "openai" {
			dopts.Kind = analyze.OutputText // a short answer such as "42" is still text
		}
		if err := writeDivergence(o, dir, dopts, false); err != nil {
			return err
		}
	}
	if traceErr != nil {
		return fmt.Errorf("replay stopped early (results written): %w", traceErr)
	}
	if !analyze.Passed(run.Thresholds) {
		return &exitError{code: exitNoGo, err: errors.New(failedThresholds(run.Thresholds))}
	}
	return nil
}

// staleFiles are what an earlier run may have left in a reused results
// directory (results/nightly) and this run may not write: a verdict,
// report or samples of last night must not pass for tonight's.
var staleFiles = []string{
	analyze.VerdictFile, analyze.EventsFile, reports.DivergenceFile, replay.PairsFile, ndjson.File,
	reports.HTMLFile, reports.JUnitFile, reports.MarkdownFile,
}

// removeStale removes staleFiles from dir.
func removeStale(dir string) error {
	for _, name := range staleFiles {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("results directory: %w", err)
		}
	}
	return nil
}

// summaryFile is the text summary in a results directory.
const summaryFile = "summary.txt"

// writeSummary prints the text summary and keeps a copy in the results.
func writeSummary(o *options, dir string, run *reports.Run) error {
	f, err := os.Create(filepath.Join(dir, summaryFile))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := reports.WriteText(io.MultiWriter(o.Out, f), run); err != nil {
		return err
	}
	return f.Close()
}

// preflight checks that the target takes load, retrying for up to wait.
func preflight(ctx context.Context, c gonogo.Client, target string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		pctx, cancel := context.WithTimeout(ctx, preflightTimeout)
		err := extensions.Preflight(pctx, c, target)
		cancel()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// watch draws the live progress line and stops the run when an
// abortOnFail threshold fails. It returns whether it aborted and why.
func watch(ctx context.Context, o *options, job *loadJob, rec *analyze.Recorder, eng *scenarios.Engine, abort *analyze.AbortChecker, stopRun func()) (bool, string) {
	p := &progress{w: o.Err, on: o.Interactive && !job.Quiet}
	defer p.done()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ""
		case now := <-tick.C:
			p.update(rec.Live(now).Line(int(eng.InFlight())))
			if abort.Len() == 0 {
				continue
			}
			if failed := abort.Check(rec, now); len(failed) > 0 {
				stopRun()
				return true, "abortOnFail: " + failedThresholds(failed)
			}
		}
	}
}

// failedThresholds names the failed thresholds in one line.
func failedThresholds(results []analyze.ThresholdResult) string {
	var parts []string
	for _, r := range results {
		if !r.Pass {
			parts = append(parts, fmt.Sprintf("%s %s (observed %.4g)", r.Metric, r.Expr, r.Observed))
		}
	}
	return "thresholds failed: " + strings.Join(parts, "; ")
}

// thresholds converts a scenario file's thresholds, checking each one so
// that an error names its file and line.
func thresholds(f *scenarios.File) (analyze.Thresholds, error) {
	ts := analyze.Thresholds{}
	for metric, list := range f.Thresholds {
		for _, t := range list {
			spec := analyze.ThresholdSpec{Threshold: t.Expr, AbortOnFail: t.AbortOnFail, DelayAbortEval: t.DelayAbortEval}
			if err := (analyze.Thresholds{metric: {spec}}).Validate(); err != nil {
				return nil, usageError("%s: %v", t.Pos, err)
			}
			ts[metric] = append(ts[metric], spec)
		}
	}
	return ts, nil
}

// serveMetrics serves h on addr until the returned stop is called.
func serveMetrics(addr string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageError("--metrics-addr %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// runningImage is a system under test started from a local image.
type runningImage struct {
	url  string
	stop func()
}

// startImage starts image as the system under test and prints where.
func startImage(ctx context.Context, o *options, image string, port int) (*runningImage, error) {
	fmt.Fprintf(o.Err, "starting %s …\n", image)
	sut, err := container.Start(ctx, image, port)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Err, "%s is up at %s\n", image, sut.URL)
	return &runningImage{url: sut.URL, stop: func() {
		if err := sut.Stop(); err != nil {
			fmt.Fprintf(o.Err, "warning: removing %s: %v\n", image, err)
		}
	}}, nil
}

// openTrace is the recorded traffic of one scenario while it replays.
type openTrace struct {
	spec    *scenarios.Traffic
	source  scenarios.Source
	skipped func() replay.Skips
	err     func() error
	close   func()
}

// openTraffic opens a scenario's trace and builds its arrival source. A
// distribution replay reads the whole trace here (bounded by a reservoir);
// a timestamps replay streams it during the run.
func openTraffic(s *scenarios.Scenario) (*openTrace, error) {
	t := s.Traffic
	ro := replay.Options{Format: t.Format, Preset: t.Preset, Columns: t.Columns, TimeFormat: t.TimeFormat, Strict: t.Strict}
	r, closer, err := replay.Open(t.Trace, ro)
	if err != nil {
		return nil, traceError(err)
	}
	ot := &openTrace{spec: t, skipped: r.Skipped, err: func() error { return nil }, close: func() { closer.Close() }}
	switch t.Replay {
	case scenarios.ReplayDistribution:
		d, err := replay.NewDistribution(r, replay.DistributionOptions{Seed: s.Seed})
		closer.Close()
		if err != nil {
			return nil, traceError(err)
		}
		if s.Executor == scenarios.ConstantArrivalRate && s.Rate == 0 {
			s.Rate, s.TimeUnit = d.MeanRate(), time.Second
		}
		ot.source = scenarios.NewSchedule(s, scenarios.WithGaps(d.Gap), scenarios.WithPayload(d.Fill))
	case scenarios.ReplaySequential:
		p := replay.NewPaced(r, scenarios.NewSchedule(s))
		ot.source, ot.err, ot.skipped = p, p.Err, p.Skipped
	default:
		ts := replay.NewTimestamps(r, replay.TimestampOptions{Speed: t.Speed, Scale: t.Scale, From: t.From, To: t.To, Loop: t.Loop, Seed: s.Seed,
			Reopen: func() (replay.Reader, io.Closer, error) { return replay.Open(t.Trace, ro) }})
		ot.source, ot.err, ot.skipped = ts, ts.Err, ts.Skipped
		ot.close = func() { ts.Close(); closer.Close() }
	}
	return ot, nil
}

// report is the run.json account of a replay.
func (t *openTrace) report() *reports.Traffic {
	sk := t.skipped()
	rt := &reports.Traffic{Trace: t.spec.Trace, Replay: t.spec.Replay, Skipped: sk.Count}
	for _, e := range sk.First {
		rt.FirstSkipped = append(rt.FirstSkipped, e.Error())
	}
	if err := t.err(); err != nil {
		rt.Error = err.Error()
	}
	return rt
}
