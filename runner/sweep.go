package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/promscrape"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// Defaults and limits of a sweep (docs/sweep.md).
const (
	// DefaultSweepStage is each stage's length.
	DefaultSweepStage = 30 * time.Second
	// DefaultAutoRates is the number of rate stages of --rates auto.
	DefaultAutoRates = 6
	// DefaultMaxConcurrency is the requests the throughput stage keeps
	// in flight: past the batch of the servers it is meant for (vLLM's
	// default max_num_seqs is 256), so that their queue never runs dry.
	DefaultMaxConcurrency = 512
	// DefaultScrapeEvery is the period of the server metrics scrapes.
	DefaultScrapeEvery = time.Second
	// MaxSweepRates bounds the rate stages of a sweep.
	MaxSweepRates = 100
	// AutoSpacing is how --rates auto fills the range between the
	// synchronous and the saturating rate.
	AutoSpacing = "linear"
)

// ParseRates reads --rates: "auto", or offered rates in requests per
// second, comma-separated and strictly increasing ("5,10,20,40"). Every
// error is bad input naming the flag.
func ParseRates(v string) (rates []float64, auto bool, err error) {
	v = strings.TrimSpace(v)
	if v == "auto" {
		return nil, true, nil
	}
	if v == "" {
		return nil, false, inputf("--rates: empty; give rates in requests per second, e.g. 5,10,20,40, or auto")
	}
	parts := strings.Split(v, ",")
	if len(parts) > MaxSweepRates {
		return nil, false, inputf("--rates: %d rates, at most %d", len(parts), MaxSweepRates)
	}
	for i, p := range parts {
		p = strings.TrimSpace(p)
		r, err := strconv.ParseFloat(p, 64)
		switch {
		case err != nil || math.IsNaN(r) || math.IsInf(r, 0):
			return nil, false, inputf("--rates: rate %d %q is not a number; want e.g. 5,10,20,40 or auto", i+1, p)
		case r <= 0:
			return nil, false, inputf("--rates: rate %d %q: must be > 0", i+1, p)
		case r > scenarios.LimitRatePerSec:
			return nil, false, inputf("--rates: rate %d %q: at most %d per second", i+1, p, scenarios.LimitRatePerSec)
		case i > 0 && r <= rates[i-1]:
			return nil, false, inputf("--rates: rate %d %q: rates must increase (after %g)", i+1, p, rates[i-1])
		}
		rates = append(rates, r)
	}
	return rates, false, nil
}

// SweepConfig describes a sweep: one run per stage, each in a directory
// of its own below Dir.
type SweepConfig struct {
	// Workload returns the base workload, afresh for every stage: one
	// scenario, whose executor, rate or VUs and duration each stage sets.
	Workload func() (*scenarios.File, error)
	// Protocol, Target, Client, Command, Labels, Samples, Gates, Baseline
	// and Preflight are those of every stage's run (Config); the
	// preflight is done before the first stage only.
	Protocol, Target string
	Client           extensions.Options
	Command          []string
	Labels           map[string]string
	Samples          bool
	Gates            *analyze.Gates
	// GatesPath names the gates file in sweep.json.
	GatesPath string
	Baseline  *analyze.RunData
	Preflight Preflight
	// Dir is the sweep's results directory.
	Dir string
	// Rates are the offered rates, increasing; with Auto they are chosen
	// after a synchronous and a throughput stage: AutoRates rates (at
	// least 2) from the one's throughput to the other's.
	Rates     []float64
	Auto      bool
	AutoRates int
	// Stage is each stage's length (DefaultSweepStage when zero).
	Stage time.Duration
	// MaxConcurrency is the throughput stage's VUs (DefaultMaxConcurrency
	// when zero).
	MaxConcurrency int
	// ServerMetrics is the metrics page scraped during every stage; ""
	// scrapes none. ScrapeEvery is its period (DefaultScrapeEvery when
	// zero).
	ServerMetrics string
	ScrapeEvery   time.Duration
	// TargetRatePerSec asks for scaling advice; Headroom is the share of
	// each replica kept free.
	TargetRatePerSec float64
	Headroom         float64
	// Interval is the runs' interval (analyze.DefaultInterval when zero).
	Interval time.Duration
	// Percentiles and SLOs are those of every stage's run (Config): the
	// percentiles its summary shows and the SLOs whose goodput it counts.
	Percentiles []float64
	SLOs        []analyze.SLO
	// Out receives a line per stage; Err warnings. nil discards.
	Out, Err io.Writer
}

// SweepResult is what a sweep produced: its directory and sweep.json's
// content, written there with sweep.html and summary.txt.
type SweepResult struct {
	Dir   rundir.Dir
	Sweep *reports.Sweep
}

// ErrNoAdvice is returned (with the result) when scaling advice was asked
// for and no rate met the SLO before the knee.
var ErrNoAdvice = errors.New("runner: no scaling advice")

// Sweep runs the stages in order and analyzes them (analyze.AnalyzeSweep).
// A stage whose run could not start or whose results could not be
// written ends the sweep with an error; an interrupt ends it with status
// interrupted. Either way what was measured is written, once a stage has
// run: the stages that ran, their analysis, sweep.json, sweep.html and
// summary.txt. Bad input (ErrInput) is found before the first request.
func Sweep(ctx context.Context, cfg SweepConfig) (*SweepResult, error) {
	if cfg.Workload == nil {
		return nil, inputf("sweep: no workload")
	}
	if !cfg.Auto && len(cfg.Rates) == 0 {
		return nil, inputf("--rates: no rate to run")
	}
	if cfg.Auto && cfg.AutoRates < 2 {
		cfg.AutoRates = DefaultAutoRates
	}
	cfg.Stage = cmp.Or(cfg.Stage, DefaultSweepStage)
	cfg.MaxConcurrency = cmp.Or(cfg.MaxConcurrency, DefaultMaxConcurrency)
	cfg.ScrapeEvery = cmp.Or(cfg.ScrapeEvery, DefaultScrapeEvery)
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Err == nil {
		cfg.Err = io.Discard
	}
	// Every workload and gates error shows before the first request.
	if _, err := StageFile(cfg, analyze.StageRate, 1, 0); err != nil {
		return nil, err
	}
	if cfg.Gates != nil {
		if err := checkGates(cfg.Gates, cfg.Baseline); err != nil {
			return nil, err
		}
	}
	dir := rundir.Dir(cfg.Dir)
	if err := dir.Make(); err != nil {
		return nil, err
	}
	sw := &sweeper{cfg: cfg, dir: dir}
	if cfg.ServerMetrics != "" {
		sw.scraper = &promscrape.Scraper{URL: cfg.ServerMetrics}
	}
	sw.doc = &reports.Sweep{
		ID: reports.RunID(cfg.Dir, time.Now()), Started: time.Now(), Command: CommandLine(RedactArgs(cfg.Command)),
		Target: RedactURL(cfg.Target), Protocol: cfg.Protocol, Labels: cfg.Labels,
		StageDurationS: cfg.Stage.Seconds(), ServerMetrics: RedactURL(cfg.ServerMetrics),
		Rates: reports.SweepRates{Mode: "list", PerSec: cfg.Rates},
	}
	if cfg.Auto {
		sw.doc.Rates = reports.SweepRates{Mode: "auto", Spacing: AutoSpacing, MaxConcurrency: cfg.MaxConcurrency}
	}
	runErr := sw.run(ctx)
	if runErr != nil && len(sw.doc.Stages) == 0 {
		return nil, runErr // nothing measured: nothing to write
	}
	return sw.finish(ctx, runErr)
}

// sweeper runs one sweep.
type sweeper struct {
	cfg     SweepConfig
	dir     rundir.Dir
	scraper *promscrape.Scraper
	scraped bool // a scrape error was reported
	doc     *reports.Sweep
}

// run runs the stages: with auto, the synchronous and the throughput
// stages first, then the rates between them.
func (sw *sweeper) run(ctx context.Context) error {
	cfg := sw.cfg
	rates := cfg.Rates
	if cfg.Auto {
		sync, err := sw.stage(ctx, analyze.StageSynchronous, 0, 1)
		if err != nil {
			return err
		}
		sat, err := sw.stage(ctx, analyze.StageThroughput, 0, cfg.MaxConcurrency)
		if err != nil {
			return err
		}
		lo, hi := sync.ThroughputPerSec, sat.ThroughputPerSec
		if lo <= 0 || hi <= 0 {
			return fmt.Errorf("sweep: the synchronous (%s/s) or the throughput stage (%s/s) completed no request: no rates to choose", numfmt.Sig(lo), numfmt.Sig(hi))
		}
		rates = AutoRates(lo, hi, cfg.AutoRates)
		if hi < lo*autoMinSpread {
			fmt.Fprintf(cfg.Err, "warning: the throughput stage (%s/s) was barely faster than one request at a time (%s/s): rates up to %s/s\n",
				numfmt.Sig(hi), numfmt.Sig(lo), numfmt.Sig(rates[len(rates)-1]))
		}
		sw.doc.Rates = reports.SweepRates{Mode: "auto", PerSec: rates, Spacing: AutoSpacing,
			SynchronousPerSec: lo, SaturatingPerSec: hi, MaxConcurrency: cfg.MaxConcurrency}
	}
	for _, r := range rates {
		if _, err := sw.stage(ctx, analyze.StageRate, r, 0); err != nil {
			return err
		}
	}
	return nil
}

// autoMinSpread is the least ratio of the saturating to the synchronous
// rate that auto rates span: a server that serves one request at a time
// is swept up to this multiple of its synchronous rate, past its
// saturation.
const autoMinSpread = 1.5

// AutoRates are n rates spaced linearly from lo to hi (to autoMinSpread ×
// lo when hi is below that), rounded to 4 significant digits. Linear
// spacing keeps the step near the top — where the knee is — at (hi −
// lo)/(n − 1); geometric spacing would spend its points at low loads,
// where a batching server's latency is flat.
func AutoRates(lo, hi float64, n int) []float64 {
	hi = max(hi, autoMinSpread*lo)
	out := make([]float64, n)
	for i := range out {
		r := lo + (hi-lo)*float64(i)/float64(n-1)
		out[i] = roundSig(r, 4)
	}
	return out
}

// roundSig rounds v to n significant digits.
func roundSig(v float64, n int) float64 {
	if v == 0 {
		return 0
	}
	d := n - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	return numfmt.Round(v, d)
}

// maxClosedWarmup bounds the warm-up of the closed-model stages.
const maxClosedWarmup = 10 * time.Second

// ClosedWarmup is the warm-up of a closed-model stage of length d: a
// quarter of it, at most 10 s.
func ClosedWarmup(d time.Duration) time.Duration { return min(d/4, maxClosedWarmup) }

// StageFile builds a stage's workload from the base: constant-arrival-rate
// at rate (kind analyze.StageRate), or constant-vus with vus, warmed up
// for ClosedWarmup first, for the stage's length.
func StageFile(cfg SweepConfig, kind string, rate float64, vus int) (*scenarios.File, error) {
	file, err := cfg.Workload()
	if err != nil {
		return nil, err
	}
	if n := len(file.Scenarios); n != 1 {
		return nil, inputf("%s: a sweep runs one scenario at each rate; the workload has %d", cmp.Or(file.Path, "workload"), n)
	}
	d := cmp.Or(cfg.Stage, DefaultSweepStage)
	ov := scenarios.Overrides{Duration: &d}
	switch kind {
	case analyze.StageRate:
		exec := scenarios.ConstantArrivalRate
		ov.Executor, ov.Rate = &exec, &rate
	default:
		// The VUs warm up for a quarter of the stage first, so that the
		// measured part starts with every connection open and the
		// server's queue in its steady state.
		exec, warm := scenarios.ConstantVUs, ClosedWarmup(d)
		ov.Executor, ov.VUs, ov.Warmup = &exec, &vus, &warm
	}
	if err := file.Apply(ov); err != nil {
		return nil, asInput(fmt.Errorf("sweep stage %s: %w", kind, err))
	}
	return file, nil
}

// stageDirName names a stage's directory: "01-synchronous",
// "02-throughput", "03-rate-12.5".
func stageDirName(i int, kind string, rate float64) string {
	name := fmt.Sprintf("%02d-%s", i, kind)
	if kind == analyze.StageRate {
		name += "-" + strconv.FormatFloat(rate, 'f', -1, 64)
	}
	return name
}

// stage runs one stage and adds it to the sweep.
func (sw *sweeper) stage(ctx context.Context, kind string, rate float64, vus int) (*analyze.SweepStage, error) {
	cfg := sw.cfg
	idx := len(sw.doc.Stages) + 1
	file, err := StageFile(cfg, kind, rate, vus)
	if err != nil {
		return nil, err
	}
	name := stageDirName(idx, kind, rate)
	pf := cfg.Preflight
	if idx > 1 {
		pf.Skip = true // the target answered before the first stage
	}
	counter := &analyze.CompletionCounter{}
	r, err := New(Config{
		File: file, Protocol: cfg.Protocol, Target: cfg.Target, Client: cfg.Client,
		Dir: filepath.Join(string(sw.dir), name), Command: cfg.Command, Labels: cfg.Labels, Samples: cfg.Samples,
		Gates: cfg.Gates, Baseline: cfg.Baseline, Preflight: pf, Interval: cfg.Interval,
		Percentiles: cfg.Percentiles, SLOs: cfg.SLOs,
		Out: io.Discard, Err: cfg.Err, sinks: gonogo.Sinks{counter},
	})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	what := kind
	switch kind {
	case analyze.StageRate:
		what = numfmt.Sig(rate) + "/s"
	case analyze.StageThroughput:
		what = fmt.Sprintf("throughput (%d in flight)", vus)
	}
	fmt.Fprintf(cfg.Out, "stage %d: %s for %s …", idx, what, cfg.Stage)
	var load map[string]analyze.ServerLoad
	if sw.scraper != nil {
		var w *promscrape.Watch
		r.Attach(Hooks{
			Start: func(ctx context.Context, _ *Run) error {
				w = sw.scraper.Start(ctx, cfg.ScrapeEvery)
				return nil
			},
			Stop: func(context.Context, *Run) {
				if w != nil {
					load = sw.serverLoad(w.Stop())
				}
			},
		})
	}
	res, err := r.Execute(ctx)
	if res == nil {
		fmt.Fprintln(cfg.Out, " failed")
		return nil, err
	}
	st := stageOf(res, kind, rate, vus)
	st.ThroughputPerSec = analyze.ServingThroughput(counter.Completions(), vus)
	st.Index, st.Dir, st.Server = idx, name, load
	sw.doc.Stages = append(sw.doc.Stages, st)
	fmt.Fprintf(cfg.Out, " %s/s", numfmt.Sig(st.ThroughputPerSec))
	if st.Latency != nil {
		fmt.Fprintf(cfg.Out, ", p99 %s ms", numfmt.Sig(st.Latency.P99))
	}
	fmt.Fprintln(cfg.Out)
	if err != nil {
		return &sw.doc.Stages[len(sw.doc.Stages)-1], err
	}
	if res.Run.Status == reports.StatusInterrupted || ctx.Err() != nil {
		return &sw.doc.Stages[len(sw.doc.Stages)-1], errInterrupted
	}
	return &sw.doc.Stages[len(sw.doc.Stages)-1], nil
}

// errInterrupted ends a sweep whose stage was interrupted.
var errInterrupted = errors.New("interrupted")

// serverLoad converts what a watch read; a watch that read nothing is
// reported once.
func (sw *sweeper) serverLoad(loads map[string]promscrape.Load, err error) map[string]analyze.ServerLoad {
	if err != nil || len(loads) == 0 {
		if !sw.scraped {
			sw.scraped = true
			why := "no waiting, running or KV-cache gauge on the page"
			if err != nil {
				why = err.Error()
			}
			fmt.Fprintf(sw.cfg.Err, "warning: server metrics %s: %s (resources are not judged)\n", sw.cfg.ServerMetrics, why)
		}
		return nil
	}
	out := map[string]analyze.ServerLoad{}
	for res, l := range loads {
		out[res] = analyze.ServerLoad{Metric: l.Name, Fraction: l.Fraction, Mean: numfmt.Round(l.Mean, 3), P90: numfmt.Round(l.P90, 3),
			Max: numfmt.Round(l.Max, 3), Limit: l.Limit, Samples: l.Samples}
	}
	return out
}

// stageOf digests a stage's run.
func stageOf(res *Result, kind string, rate float64, vus int) analyze.SweepStage {
	run := res.Run
	ov := run.Overall
	st := analyze.SweepStage{Kind: kind, OfferedPerSec: rate, VUs: vus, Status: run.Status,
		Requests: ov.Requests.Total, OK: ov.Requests.OK, Failed: ov.Requests.FailedTotal(), Dropped: ov.Requests.Dropped,
		TokensPerSec: ov.TokensPerSec, Latency: analyze.QuantilesOf(ov.Latency), TTFT: analyze.QuantilesOf(ov.TTFT)}
	if st.Requests > 0 {
		st.ErrorRate = numfmt.Round(float64(st.Failed)/float64(st.Requests), 4)
	}
	if n := st.Requests + st.Dropped; n > 0 {
		st.DropRate = numfmt.Round(float64(st.Dropped)/float64(n), 4)
	}
	if !analyze.Passed(run.Thresholds) {
		st.Thresholds = FailedThresholds(run.Thresholds)
	}
	if v := res.Verdict; v != nil {
		st.Verdict = string(v.Verdict)
		for _, g := range v.Gates {
			if g.Status != analyze.GatePass {
				st.GateFailures = append(st.GateFailures, g.Name+": "+g.Reason)
			}
		}
	}
	return st
}

// finish analyzes the stages that ran and writes sweep.json, sweep.html
// and summary.txt; runErr is what ended the stages early.
func (sw *sweeper) finish(ctx context.Context, runErr error) (*SweepResult, error) {
	cfg := sw.cfg
	doc := sw.doc
	doc.Ended = time.Now()
	doc.Status = reports.SweepComplete
	switch {
	case errors.Is(runErr, errInterrupted) || runErr != nil && ctx.Err() != nil:
		doc.Status, doc.Reason = reports.SweepInterrupted, "interrupted after "+reports.Stages(len(doc.Stages))
		runErr = nil
	case runErr != nil:
		doc.Status, doc.Reason = reports.SweepFailed, runErr.Error()
	}
	if doc.Stages == nil {
		doc.Stages = []analyze.SweepStage{}
	}
	doc.Analysis = analyze.AnalyzeSweep(doc.Stages, analyze.SweepOptions{Gates: cfg.GatesPath, TargetRatePerSec: cfg.TargetRatePerSec, Headroom: cfg.Headroom})
	res := &SweepResult{Dir: sw.dir, Sweep: doc}
	werr := errors.Join(
		sw.dir.WriteAtomic(rundir.Sweep, func(w io.Writer) error { return reports.WriteSweepJSON(w, doc) }),
		sw.dir.WriteAtomic(rundir.SweepHTML, func(w io.Writer) error { return reports.SweepHTML(w, doc) }),
		sw.dir.WriteAtomic(rundir.Summary, func(w io.Writer) error { return reports.WriteSweepText(w, doc) }),
	)
	if werr != nil {
		return res, errors.Join(runErr, fmt.Errorf("writing the sweep's results to %s: %w", sw.dir, werr))
	}
	if runErr != nil {
		return res, runErr
	}
	if ad := doc.Analysis.Advice; ad != nil && ad.Replicas == 0 && doc.Status == reports.SweepComplete {
		return res, fmt.Errorf("%w: %s", ErrNoAdvice, ad.Reason)
	}
	return res, nil
}
