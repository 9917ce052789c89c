package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze/divergence"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// shadowFlags are the flags of `gonogo shadow`.
type shadowFlags struct {
	rec                  recordFlags
	trace                string
	primary, secondary   string
	candidates           []string
	protocol             string
	speed, rate          float64
	from, to, duration   time.Duration
	maxVUs, mirrorCap    int
	allowUnsafe, samples bool
	segments             []string
	out                  string
	quiet, noPreflight   bool
	dryRun               bool
	dryRunRequests       int
	judge                judgeFlags
	req                  requestFlags
	traceOpts            traceFlags
	outs                 outputFlags
}

func newShadowCmd(o *options) *cobra.Command {
	f := &shadowFlags{}
	cmd := &cobra.Command{
		Use:   "shadow",
		Short: "Replay recorded traffic into primary, secondary and candidate versions and measure divergence",
		Long: `Send every request of a recorded trace to the primary (production) version and,
at the same moment, a copy to an optional secondary (a second copy of
production, which measures non-determinism) and to one or more candidates.
Users never see the mirrored answers; gonogo stores every answer of every
target in pairs.ndjson.gz and reports how the candidates' outputs and
latencies diverge from the primary's, with the primary-vs-secondary noise
cancelled. Every target's latency is timed from the same intended send time.

Each secondary/candidate may have as many requests in flight as the primary
(--mirror-max-in-flight, default --max-vus): it gets the load production
gets. A slow or dead candidate never slows the primary: a copy that finds its
mirror at that cap is dropped and counted, and the divergence report then
says the latency comparison is invalid. Requests with unsafe methods
(POST/PUT/PATCH/DELETE outside the inference paths) are not mirrored unless
--allow-unsafe.

The pace is the recorded one (--speed to compress it) or, with --rate, the
rows in order at a fixed rate. Load results of the primary go to run.json as
for gonogo load; the divergence report to divergence.json and the terminal.

--dry-run prints the plan (targets, transport, pace) and the first
requests of the replay, with the URL each target would get, and sends
nothing.`,
		Example: `  gonogo shadow --trace requests.jsonl --primary http://127.0.0.1:8001 --secondary http://127.0.0.1:8002 \
    --candidate http://127.0.0.1:8003 --protocol openai --out results/shadow
  gonogo shadow --trace prod.csv --primary http://127.0.0.1:8001 --candidate http://127.0.0.1:8003 \
    --protocol kserve --model resnet --rate 200 --duration 2m --segments region
  gonogo shadow --trace prod.jsonl --primary http://127.0.0.1:8001 --candidate http://127.0.0.1:8003 --dry-run
  gonogo analyze divergence results/shadow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShadowCmd(cmd, o, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.trace, "trace", "", "recorded traffic to replay (CSV, JSONL, request log, HAR); required")
	fs.StringVar(&f.primary, "primary", "", "base URL of the production version; required")
	fs.StringVar(&f.secondary, "secondary", "", "base URL of a second copy of production, to measure non-determinism")
	fs.StringArrayVar(&f.candidates, "candidate", nil, "base URL of a candidate version (repeatable); required")
	fs.StringVar(&f.protocol, "protocol", "http", "protocol: "+strings.Join(extensions.Names(), ", "))
	fs.Float64Var(&f.speed, "speed", 1, "replay the recorded pace this many times faster")
	fs.Float64Var(&f.rate, "rate", 0, "replay the rows in order at this rate (req/s) instead of the recorded pace")
	fs.DurationVar(&f.from, "from", 0, "replay the trace from this offset")
	fs.DurationVar(&f.to, "to", 0, "replay the trace up to this offset")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (default: the end of the trace)")
	fs.IntVar(&f.maxVUs, "max-vus", 0, "cap on concurrent primary requests, and by default on each mirror's (default 1000)")
	fs.IntVar(&f.mirrorCap, "mirror-max-in-flight", 0, "cap on concurrent requests per secondary/candidate; copies beyond it are dropped (default: --max-vus, 1000)")
	fs.BoolVar(&f.allowUnsafe, "allow-unsafe", false, "also mirror POST/PUT/PATCH/DELETE requests outside the inference paths")
	fs.StringSliceVar(&f.segments, "segments", nil, "tag keys to break divergence down by (besides input length), e.g. region,user")
	fs.BoolVar(&f.samples, "samples", false, "also write every primary request to samples.ndjson.gz")
	fs.StringVar(&f.out, "out", "", "results directory (default results/shadow-<time>)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no live progress line")
	fs.BoolVar(&f.noPreflight, "no-preflight", false, "send no readiness check to the primary before the run")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and the first requests each target would get (secrets redacted), send nothing")
	fs.IntVar(&f.dryRunRequests, "dry-run-requests", 5, "requests that --dry-run prints")
	f.judge.register(fs)
	f.req.register(fs)
	f.traceOpts.register(fs)
	f.rec.register(fs)
	f.outs.register(fs)
	return cmd
}

func runShadowCmd(cmd *cobra.Command, o *options, f *shadowFlags) error {
	fs := cmd.Flags()
	switch {
	case f.trace == "":
		return usageError("--trace: required: the recorded traffic to replay")
	case f.primary == "":
		return usageError("--primary: required: the production version's base URL")
	case len(f.candidates) == 0:
		return usageError("--candidate: at least one candidate version's base URL is required")
	case !(f.speed > 0):
		return usageError("--speed: must be > 0 (got %g)", f.speed)
	case fs.Changed("rate") && !(f.rate > 0):
		return usageError("--rate: must be > 0 (got %g)", f.rate)
	case fs.Changed("duration") && f.duration <= 0:
		return usageError("--duration: must be > 0 (got %s)", f.duration)
	case f.mirrorCap < 0:
		return usageError("--mirror-max-in-flight: must not be negative (got %d)", f.mirrorCap)
	case f.dryRunRequests < 0:
		return usageError("--dry-run-requests: must not be negative (got %d)", f.dryRunRequests)
	}
	ro, err := f.traceOpts.options()
	if err != nil {
		return err
	}
	traffic := &scenarios.Traffic{
		Trace: f.trace, Format: ro.Format, Preset: ro.Preset, Columns: ro.Columns, TimeFormat: ro.TimeFormat,
		Strict: ro.Strict, Speed: f.speed, From: f.from, To: f.to,
	}
	s := &scenarios.Scenario{Traffic: traffic, MaxVUs: f.maxVUs}
	if fs.Changed("rate") {
		traffic.Replay = scenarios.ReplaySequential
		s.Rate, s.Duration = f.rate, f.duration
		if s.Duration == 0 {
			s.Duration = maxShadowDuration // the trace's end ends it first
		}
	}
	file := &scenarios.File{Scenarios: map[string]*scenarios.Scenario{"shadow": s}}
	if err := file.Validate(); err != nil {
		return err
	}
	copts, err := f.req.options(fs, f.protocol)
	if err != nil {
		return err
	}
	copts.KeepOutput = true
	if err := applySeed(fs, file); err != nil {
		return err
	}
	f.req.tr.warn(o.Err)
	var mirrors []runner.Mirror
	if f.secondary != "" {
		mirrors = append(mirrors, runner.Mirror{Name: "secondary", Target: f.secondary})
	}
	for i, c := range f.candidates {
		name := "candidate"
		if i > 0 {
			name = fmt.Sprintf("candidate-%d", i+1)
		}
		mirrors = append(mirrors, runner.Mirror{Name: name, Target: c})
	}
	if fs.Changed("duration") && !fs.Changed("rate") {
		// At the recorded pace, a duration is a window of the trace.
		end := f.from + time.Duration(float64(f.duration)*f.speed)
		if traffic.To == 0 || end < traffic.To {
			traffic.To = end
		}
	}
	if _, err := checkTargets(file, f.protocol, f.primary, false); err != nil {
		return err
	}
	if f.dryRun {
		return writeShadowDryRun(o.Out, file, f, mirrors, copts)
	}
	labels, err := parseLabels("--label", f.rec.labels)
	if err != nil {
		return err
	}
	outs, err := f.outs.build(f.samples, f.req.traceparent)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	out := f.out
	if out == "" {
		out = filepath.Join("results", "shadow-"+time.Now().Format("20060102-150405"))
	}
	job := &loadJob{
		File: file, Protocol: f.protocol, Target: f.primary, Client: copts, Out: out,
		Samples: f.samples, Quiet: f.quiet, Labels: labels, History: f.rec.history,
		Outputs: outs, OutInterval: f.outs.interval,
		Command:   o.Args,
		Preflight: runner.Preflight{Skip: f.noPreflight},
		Shadow: &runner.Shadow{
			Mirrors: mirrors, MaxInFlight: f.mirrorCap, AllowUnsafe: f.allowUnsafe,
			Divergence: divergence.Options{Segments: f.segments},
		},
	}
	if err := f.judge.load(o, job, f.rec.history); err != nil {
		return err
	}
	return runLoad(ctx, o, job)
}

// maxShadowDuration bounds a shadow run at a given rate whose length is
// not given: the end of the trace normally comes first.
const maxShadowDuration = 24 * time.Hour
