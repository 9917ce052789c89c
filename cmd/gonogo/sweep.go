package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/promscrape"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/reports/history"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// sweepFlags are the flags of `gonogo sweep`: the workload flags of
// `gonogo load` that a sweep keeps (it sets the executor, the rate and
// the duration of each stage itself), and its own.
type sweepFlags struct {
	load           loadFlags
	rates          string
	rateCount      int
	maxConcurrency int
	targetRate     float64
	headroom       float64
	serverMetrics  string
	scrapeEvery    time.Duration
	dryRun         bool
	dryRunRequests int
}

func newSweepCmd(o *options) *cobra.Command {
	f := &sweepFlags{}
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Run one stage per request rate and find the knee, the saturation and the replicas a rate needs",
		Long: `Sweep request rates against an endpoint: one constant-arrival-rate stage per
rate, each a run with its own results directory below --out, then a knee
report (sweep.json, sweep.html, summary.txt; docs/sweep.md): the highest
rate whose stage met the SLO (the gates file, or the default SLO), where
latency turned (the knee), the saturating throughput, the server resource
that saturated first (read from its Prometheus /metrics: vLLM's and the
simulated server's queue, running batch and KV-cache gauges) and, with
--target-rate, the replicas that rate needs.

--rates auto first runs one request at a time (the synchronous rate) and
--max-concurrency requests in flight (the saturating rate), then
--rate-count rates spaced linearly between the two.

A complete sweep is recorded in the run history (--history) with its
knee: gonogo history sweeps follows it over nights. --dry-run prints the
plan and the first stage's first requests, and sends nothing.

Exit codes: 0 when every stage ran (and, with --target-rate, the advice
was computed), 1 runtime error, 2 bad usage or input, 4 interrupted or no
rate met the SLO before the knee.`,
		Example: `  # four rates, 30 s each, against an OpenAI-compatible server
  gonogo sweep --rates 5,10,20,40 --target http://127.0.0.1:8000 --protocol openai --out results/sweep

  # find the range by itself, judge each stage by a gates file, size for 200 req/s
  gonogo sweep --rates auto --target http://127.0.0.1:8000 --protocol openai --max-tokens 128 \
    --gates gates.yaml --target-rate 200 --headroom 0.3 --out results/sweep

  # the plan and the first requests, nothing sent
  gonogo sweep --rates 5,10,20,40 --target http://127.0.0.1:8000 --protocol openai --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSweepCmd(cmd, o, f)
		},
	}
	fs := cmd.Flags()
	l := &f.load
	fs.StringVar(&f.rates, "rates", "", "offered rates in requests per second, increasing (5,10,20,40), or auto (required)")
	fs.IntVar(&f.rateCount, "rate-count", runner.DefaultAutoRates, "--rates auto: number of rates between the synchronous and the saturating rate, both included")
	fs.IntVar(&f.maxConcurrency, "max-concurrency", runner.DefaultMaxConcurrency, "--rates auto: requests in flight while finding the saturating rate")
	fs.DurationVar(&l.duration, "duration", runner.DefaultSweepStage, "length of each stage")
	fs.Float64Var(&f.targetRate, "target-rate", 0, "scaling advice: replicas needed for this many requests per second")
	fs.Float64Var(&f.headroom, "headroom", analyze.DefaultHeadroom, "scaling advice: share of each replica's capacity kept free (0 to <1)")
	fs.StringVar(&f.serverMetrics, "server-metrics", "", `the server's Prometheus page read during each stage (default TARGET's /metrics; "off" reads none)`)
	fs.DurationVar(&f.scrapeEvery, "scrape-interval", runner.DefaultScrapeEvery, "period of the server metrics reads")
	fs.StringVar(&l.target, "target", "", "base URL of the service under test, e.g. http://127.0.0.1:8000")
	fs.StringVar(&l.protocol, "protocol", "http", "protocol: "+strings.Join(extensions.Names(), ", "))
	fs.StringVar(&l.scenario, "scenario", "", "scenario YAML file (one scenario) or built-in profile, for the request, the thresholds and the arrival process: "+strings.Join(scenarios.Profiles(), ", "))
	fs.StringVar(&l.arrival, "arrival", "", "arrival process of the rate stages: constant, poisson, gamma")
	fs.Float64Var(&l.burstiness, "burstiness", 0, "gamma shape: 1 is Poisson, <1 burstier")
	fs.IntVar(&l.maxVUs, "max-vus", 0, "cap on concurrent requests of a rate stage")
	fs.StringVar(&l.saturation, "saturation", "", "when every VU of a rate stage is busy: drop (count as dropped) or queue")
	l.req.register(fs)
	l.registerTargets(fs)
	fs.StringVar(&l.out, "out", "", "results directory of the sweep, a subdirectory per stage (default results/sweep-<time>)")
	fs.BoolVar(&l.samples, "samples", false, "also write every request of every stage to its samples.ndjson.gz")
	fs.StringArrayVar(&l.tags, "tag", nil, "tag KEY=VALUE added to every request (repeatable)")
	fs.StringArrayVar(&l.rec.labels, "label", nil, "label KEY=VALUE of what is tested, e.g. version=v2 (repeatable)")
	fs.BoolVar(&l.noPreflight, "no-preflight", false, "send no readiness check before the first stage")
	fs.StringVar(&l.rec.history, "history", defaultHistory, `run history database to record a complete sweep in, with its knee ("" to not record)`)
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and the first stage's first requests (secrets redacted), send nothing")
	fs.IntVar(&f.dryRunRequests, "dry-run-requests", 5, "requests of the first stage that --dry-run prints")
	l.judge.register(fs)
	l.figures.register(fs)
	return cmd
}

func runSweepCmd(cmd *cobra.Command, o *options, f *sweepFlags) error {
	fs := cmd.Flags()
	l := &f.load
	if !fs.Changed("rates") {
		return usageError("--rates is required: offered rates in requests per second (5,10,20,40) or auto")
	}
	rates, auto, err := runner.ParseRates(f.rates)
	if err != nil {
		return err
	}
	switch {
	case f.rateCount < 2 || f.rateCount > runner.MaxSweepRates:
		return usageError("--rate-count: %d: want 2 to %d", f.rateCount, runner.MaxSweepRates)
	case f.maxConcurrency < 1 || f.maxConcurrency > scenarios.LimitVUs:
		return usageError("--max-concurrency: %d: want 1 to %d", f.maxConcurrency, scenarios.LimitVUs)
	case l.duration <= 0 || l.duration > scenarios.LimitDuration:
		return usageError("--duration: %s: want a stage length above 0 and at most %s", l.duration, scenarios.LimitDuration)
	case !(f.targetRate >= 0) || f.targetRate > scenarios.LimitRatePerSec:
		return usageError("--target-rate: %g: want a rate in requests per second, at most %d", f.targetRate, scenarios.LimitRatePerSec)
	case !(f.headroom >= 0 && f.headroom < 1):
		return usageError("--headroom: %g: want a share from 0 to below 1 (0.3 keeps 30 %% free)", f.headroom)
	case f.scrapeEvery < 10*time.Millisecond:
		return usageError("--scrape-interval: %s: want at least 10ms", f.scrapeEvery)
	case l.target == "":
		return usageError("--target is required: the base URL of the service under test")
	case auto && fs.Changed(targetsFlag):
		return usageError("--targets: an auto sweep's closed-model stages replay no file: give --rates a list")
	case f.dryRunRequests < 0:
		return usageError("--dry-run-requests: must not be negative (got %d)", f.dryRunRequests)
	}
	pcts, slos, err := l.figures.parse()
	if err != nil {
		return err
	}
	copts, err := l.req.options(fs, l.protocol)
	if err != nil {
		return err
	}
	labels, err := parseLabels("--label", l.rec.labels)
	if err != nil {
		return err
	}
	metrics := f.serverMetrics
	switch metrics {
	case "off":
		metrics = ""
	case "":
		// A target without a scheme (host:port) has no page to guess.
		metrics, _ = promscrape.MetricsURL(l.target)
	}
	// The workload flags, with the stage length; each stage sets its
	// executor and its rate or VUs over this.
	workload := func() (*scenarios.File, error) {
		var ov scenarios.Overrides
		if fs.Changed(targetsFlag) && len(rates) > 0 {
			// A targets file is replayed at a rate: the stages set theirs.
			ov.Rate = &rates[0]
		}
		file, err := l.scenarioFile(fs, ov)
		if err != nil {
			return nil, err
		}
		if err := applySeed(fs, file); err != nil {
			return nil, err
		}
		return file, addTags(file, l.tags)
	}
	base, err := workload()
	if err != nil {
		return err
	}
	if _, err := checkTargets(base, l.protocol, l.target, false); err != nil {
		return err
	}
	job := &loadJob{File: base, Protocol: l.protocol, Target: l.target, Labels: labels}
	if err := l.judge.load(o, job, l.rec.history); err != nil {
		return err
	}
	l.req.tr.warn(o.Err)
	out := l.out
	if out == "" {
		out = filepath.Join("results", "sweep-"+time.Now().Format("20060102-150405"))
	}
	cfg := runner.SweepConfig{
		Workload: workload, Protocol: l.protocol, Target: l.target, Client: copts,
		Command: o.Args, Labels: labels, Samples: l.samples,
		Gates: job.Gates, GatesPath: l.judge.gates, Baseline: job.Baseline,
		Preflight: runner.Preflight{Skip: l.noPreflight},
		Dir:       out, Rates: rates, Auto: auto, AutoRates: f.rateCount,
		Stage: l.duration, MaxConcurrency: f.maxConcurrency,
		ServerMetrics: metrics, ScrapeEvery: f.scrapeEvery,
		TargetRatePerSec: f.targetRate, Headroom: f.headroom,
		Percentiles: pcts, SLOs: slos,
		Out: o.Err, Err: o.Err,
	}
	if f.dryRun {
		return writeSweepDryRun(o.Out, cfg, copts, l.rec.history, f.dryRunRequests)
	}
	res, err := runner.Sweep(cmd.Context(), cfg)
	if res != nil && res.Sweep.Status == reports.SweepComplete && l.rec.history != "" {
		recordSweepHistory(o, l.rec.history, res)
	}
	if res != nil {
		fmt.Fprintln(o.Out)
		if werr := reports.WriteSweepText(o.Out, res.Sweep); werr != nil && err == nil {
			err = werr
		}
		fmt.Fprintf(o.Out, "\nresults: %s (sweep.json, sweep.html, a directory per stage)\n", res.Dir)
	}
	switch {
	case errors.Is(err, runner.ErrNoAdvice):
		return &exitError{code: exitInconclusive, err: err}
	case err != nil:
		return err
	case res.Sweep.Status != reports.SweepComplete:
		return &exitError{code: exitInconclusive, err: fmt.Errorf("the sweep ended early (%s): %s", res.Sweep.Status, res.Sweep.Reason)}
	}
	return nil
}

// recordSweepHistory records a complete sweep in the run history; a
// failure is a warning: the sweep's results are written either way.
func recordSweepHistory(o *options, path string, res *runner.SweepResult) {
	db, err := history.Open(path)
	if err == nil {
		err = errors.Join(db.RecordSweep(res.Sweep, string(res.Dir)), db.Close())
	}
	if err != nil {
		fmt.Fprintf(o.Err, "warning: run history %s: %v\n", path, err)
	}
}
