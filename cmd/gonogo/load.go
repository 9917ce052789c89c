package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/container"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// loadFlags are the flags of `gonogo load`.
type loadFlags struct {
	rec           recordFlags
	target, image string
	port          int
	protocol      string
	scenario      string

	executor, stages, arrival, saturation string
	rate, burstiness                      float64
	vus, maxVUs, iterations               int
	duration                              time.Duration

	req requestFlags

	trace, replayMode string
	targetsFile       string
	speed, scale      float64
	from, to          time.Duration
	loop              int
	traceOpts         traceFlags

	out, metricsAddr string
	samples          bool
	tags             []string
	quiet            bool
	warmup           time.Duration
	noPreflight      bool
	dryRun           bool
	dryRunRequests   int
	judge            judgeFlags
	outs             outputFlags
	figures          figureFlags
}

func newLoadCmd(o *options) *cobra.Command {
	f := &loadFlags{}
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load-test an endpoint and write a results directory",
		Long: `Load-test an inference endpoint with open-model arrivals (latency measured
from each request's intended send time, free of coordinated omission) or
closed-model virtual users, and write run.json, latency.hlog and a text
summary to --out.

The workload comes from a scenario file (--scenario FILE.yaml), a built-in
profile (--scenario load|stress|spike|soak|breakpoint), or flags alone. Flags
override file values; on a ramping profile --rate sets the peak and
--duration the total length, keeping the profile's shape.
The requests are the protocol's own, a trace's (--trace), or drawn by
weight from a vegeta targets file (--targets, tagged target=NAME).

Thresholds in the scenario (k6 syntax) decide the exit code: 0 when all
pass, 3 when any fails.`,
		Example: `  # built-in stress profile against an OpenAI-compatible server
  gonogo load --target http://127.0.0.1:8000 --protocol openai --scenario stress --out results/stress

  # KServe v2 classifier at a constant 500 req/s for 2 minutes
  gonogo load --target http://127.0.0.1:8000 --protocol kserve --model resnet \
    --executor constant-arrival-rate --rate 500 --duration 2m --out results/r1

  # bursty arrivals (gamma, burstiness 0.5) with a stress ramp of our own
  gonogo load --target 127.0.0.1:8000 --protocol openai --stages 30s:50,1m:50,10s:0 --arrival gamma --burstiness 0.5

  # several endpoints of a vegeta targets file, weighted ("# weight=3"), 50 req/s
  gonogo load --targets targets.txt --rate 50 --duration 1m --out results/mix

  # a freshly built model-server image, started and removed by gonogo
  gonogo load --image gonogo-fixture:dev --port 8000 --protocol openai --scenario load --duration 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLoadCmd(cmd, o, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.target, "target", "", "base URL of the service under test, e.g. http://127.0.0.1:8000")
	fs.StringVar(&f.image, "image", "", "start this local Docker image as the service under test (with --port), test it, remove it")
	fs.IntVar(&f.port, "port", 8000, "container port the --image serves on")
	fs.StringVar(&f.protocol, "protocol", "http", "protocol: "+strings.Join(extensions.Names(), ", "))
	fs.StringVar(&f.scenario, "scenario", "", "scenario YAML file or built-in profile: "+strings.Join(scenarios.Profiles(), ", "))
	fs.StringVar(&f.executor, "executor", "", "executor: "+strings.Join(scenarios.Executors, ", "))
	fs.Float64Var(&f.rate, "rate", 0, "arrivals per second (the peak of a ramping profile)")
	fs.StringVar(&f.stages, "stages", "", "ramp stages DURATION:TARGET,... e.g. 30s:100,1m:100,10s:0")
	fs.IntVar(&f.vus, "vus", 0, "virtual users (closed model), or VUs started up front (open model)")
	fs.IntVar(&f.maxVUs, "max-vus", 0, "cap on concurrent requests of an open-model scenario")
	fs.IntVar(&f.iterations, "iterations", 0, "total requests shared by the VUs (shared-iterations)")
	fs.DurationVar(&f.duration, "duration", 0, "scenario duration (total length of a ramping profile)")
	fs.StringVar(&f.arrival, "arrival", "", "arrival process: constant, poisson, gamma")
	fs.Float64Var(&f.burstiness, "burstiness", 0, "gamma shape: 1 is Poisson, <1 burstier")
	fs.StringVar(&f.saturation, "saturation", "", "when every VU is busy: drop (count as dropped) or queue")
	f.req.register(fs)
	fs.StringVar(&f.trace, "trace", "", "replay recorded traffic from this trace (CSV, JSONL, request log, HAR)")
	fs.StringVar(&f.replayMode, "replay", "", "replay mode: timestamps (recorded arrival times; default), distribution (recorded sizes and gaps at --rate), sequential (the rows in order at --rate)")
	fs.Float64Var(&f.speed, "speed", 0, "timestamps replay: time compression, e.g. 10 replays ten times faster")
	fs.Float64Var(&f.scale, "scale", 0, "timestamps replay: traffic multiplier with the same shape, e.g. 2 or 0.5")
	fs.DurationVar(&f.from, "from", 0, "replay the trace from this offset")
	fs.DurationVar(&f.to, "to", 0, "replay the trace up to this offset")
	fs.IntVar(&f.loop, "loop", 0, "timestamps replay: replay the window this many times")
	f.traceOpts.register(fs)
	f.registerTargets(fs)
	fs.StringVar(&f.out, "out", "", "results directory (default results/<scenario>-<time>)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve live Prometheus metrics of the generator on this address, e.g. 127.0.0.1:9090")
	f.outs.register(fs)
	fs.BoolVar(&f.samples, "samples", false, "also write every request (trace row, tags, timings, outcome) to samples.ndjson.gz")
	fs.StringArrayVar(&f.tags, "tag", nil, "tag KEY=VALUE added to every request (repeatable)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no live progress line")
	fs.DurationVar(&f.warmup, "warmup", 0, "closed-model scenarios: run the VUs this long before time zero and leave those requests out of the results")
	fs.BoolVar(&f.noPreflight, "no-preflight", false, "send no readiness check before the run")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and the first requests (secrets redacted), send nothing")
	fs.IntVar(&f.dryRunRequests, "dry-run-requests", 5, "requests per scenario that --dry-run prints")
	f.judge.register(fs)
	f.rec.register(fs)
	f.figures.register(fs)
	return cmd
}

func runLoadCmd(cmd *cobra.Command, o *options, f *loadFlags) error {
	fs := cmd.Flags()
	file, err := f.scenarioFile(fs, scenarios.Overrides{})
	if err != nil {
		return err
	}
	if err := addTags(file, f.tags); err != nil {
		return err
	}
	copts, err := f.req.options(fs, f.protocol)
	if err != nil {
		return err
	}
	if err := applySeed(fs, file); err != nil {
		return err
	}
	labels, err := parseLabels("--label", f.rec.labels)
	if err != nil {
		return err
	}
	base, err := checkTargets(file, f.protocol, f.target, f.image != "")
	if err != nil {
		return err
	}
	if (base == "") == (f.image == "") {
		return usageError("give exactly one of --target URL or --image NAME")
	}
	outs, err := f.outs.build(f.samples, f.req.traceparent)
	if err != nil {
		return err
	}
	pcts, slos, err := f.figures.parse()
	if err != nil {
		return err
	}
	f.req.tr.warn(o.Err)
	if f.dryRun {
		if f.dryRunRequests < 0 {
			return usageError("--dry-run-requests: must not be negative (got %d)", f.dryRunRequests)
		}
		target := base
		if target == "" { // the port the image would be published on is not known yet
			fmt.Fprintf(o.Out, "image %s is not started; requests are shown for port %d\n", f.image, f.port)
			target = fmt.Sprintf("http://127.0.0.1:%d", f.port)
		}
		return writeDryRun(o.Out, file, f.protocol, target, copts, f.dryRunRequests)
	}
	ctx := cmd.Context()
	target := base
	if f.image != "" {
		sut, err := startImage(ctx, o, f.image, f.port)
		if err != nil {
			return err
		}
		defer sut.stop()
		target = sut.url
	}
	job := &loadJob{
		File:        file,
		Protocol:    f.protocol,
		Target:      target,
		Client:      copts,
		Out:         f.out,
		MetricsAddr: f.metricsAddr,
		Outputs:     outs,
		OutInterval: f.outs.interval,
		Samples:     f.samples,
		Quiet:       f.quiet,
		Command:     o.Args,
		Labels:      labels,
		History:     f.rec.history,
		Preflight:   runner.Preflight{Skip: f.noPreflight},
		Percentiles: pcts,
		SLOs:        slos,
	}
	if f.image != "" {
		job.Preflight.Wait = container.DefaultStartupTimeout
	}
	if err := f.judge.load(o, job, f.rec.history); err != nil {
		return err
	}
	return runLoad(ctx, o, job)
}

// scenarioFile builds the workload from --scenario and the override flags,
// over the overrides ov the command sets itself.
func (f *loadFlags) scenarioFile(fs *pflag.FlagSet, ov scenarios.Overrides) (*scenarios.File, error) {
	if fs.Changed("executor") {
		ov.Executor = &f.executor
	}
	if fs.Changed("rate") {
		ov.Rate = &f.rate
	}
	if fs.Changed("stages") {
		st, err := scenarios.ParseStages(f.stages)
		if err != nil {
			return nil, err
		}
		ov.Stages = st
	}
	if fs.Changed("vus") {
		ov.VUs = &f.vus
	}
	if fs.Changed("max-vus") {
		ov.MaxVUs = &f.maxVUs
	}
	if fs.Changed("iterations") {
		ov.Iterations = &f.iterations
	}
	if fs.Changed("duration") {
		ov.Duration = &f.duration
	}
	if fs.Changed("arrival") {
		ov.Arrival = &f.arrival
	}
	if fs.Changed("burstiness") {
		ov.Burstiness = &f.burstiness
	}
	if fs.Changed("saturation") {
		ov.Saturation = &f.saturation
	}
	if fs.Changed("warmup") {
		ov.Warmup = &f.warmup
	}
	if err := f.trafficOverrides(fs, &ov.Traffic); err != nil {
		return nil, err
	}
	if f.scenario == "" {
		return scenarios.FromFlags(ov)
	}
	file, err := scenarios.Resolve(f.scenario)
	if err != nil {
		return nil, err
	}
	return file, file.Apply(ov)
}

// trafficOverrides collects the replay flags.
func (f *loadFlags) trafficOverrides(fs *pflag.FlagSet, t *scenarios.TrafficOverrides) error {
	str := func(flag string, v *string) *string {
		if fs.Changed(flag) {
			return v
		}
		return nil
	}
	t.Trace, t.Replay = str("trace", &f.trace), str("replay", &f.replayMode)
	t.Format, t.TimeFormat = str("trace-format", &f.traceOpts.format), str("time-format", &f.traceOpts.timeFormat)
	t.Preset = str("preset", &f.traceOpts.preset)
	if fs.Changed("columns") {
		cols, err := replay.ParseColumns(f.traceOpts.columns)
		if err != nil {
			return usageError("--columns: %v", err)
		}
		t.Columns = cols
	}
	if fs.Changed("strict") {
		t.Strict = &f.traceOpts.strict
	}
	for _, v := range []struct {
		flag string
		dst  **float64
		val  *float64
	}{{"speed", &t.Speed, &f.speed}, {"scale", &t.Scale, &f.scale}} {
		if fs.Changed(v.flag) {
			if !(*v.val > 0) {
				return usageError("--%s: must be > 0 (got %g)", v.flag, *v.val)
			}
			*v.dst = v.val
		}
	}
	if fs.Changed("from") {
		t.From = &f.from
	}
	if fs.Changed("to") {
		t.To = &f.to
	}
	if fs.Changed("loop") {
		t.Loop = &f.loop
	}
	if err := f.targetsOverrides(fs, t); err != nil {
		return err
	}
	if t.Trace == nil && (t.Replay != nil || t.Speed != nil || t.Scale != nil || t.From != nil || t.To != nil || t.Loop != nil) && f.scenario == "" {
		return usageError("--replay, --speed, --scale, --from, --to and --loop need --trace (or a scenario with a traffic block)")
	}
	return nil
}

// addTags adds --tag KEY=VALUE pairs to every scenario.
func addTags(file *scenarios.File, tags []string) error {
	for _, t := range tags {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return usageError("--tag %q: want KEY=VALUE", t)
		}
		for _, s := range file.Scenarios {
			m := make(map[string]string, len(s.Tags)+1)
			for a, b := range s.Tags {
				m[a] = b
			}
			m[k] = v
			s.Tags = m
		}
	}
	return nil
}
