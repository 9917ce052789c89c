package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/replay"
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
	maxVUs               int
	queue, workers       int
	allowUnsafe, samples bool
	segments             []string
	out                  string
	quiet                bool
	req                  requestFlags
	traceOpts            traceFlags
}

func newShadowCmd(o *options) *cobra.Command {
	f := &shadowFlags{}
	cmd := &cobra.Command{
		Use:   "shadow",
		Short: "Replay recorded traffic into primary, secondary and candidate versions and measure divergence",
		Long: `Send every request of a recorded trace to the primary (production) version and,
asynchronously, to an optional secondary (a second copy of production, which
measures non-determinism) and to one or more candidates. Users never see the
mirrored answers; gonogo stores every answer of every target in
pairs.ndjson.gz and reports how the candidates' outputs and latencies
diverge from the primary's, with the primary-vs-secondary noise cancelled.

The mirrors are fully asynchronous with bounded queues: a slow or dead
candidate never slows the primary; what its queue cannot take is counted as
dropped. Requests with unsafe methods (POST/PUT/PATCH/DELETE outside the
inference paths) are not mirrored unless --allow-unsafe.

The pace is the recorded one (--speed to compress it) or, with --rate, the
rows in order at a fixed rate. Load results of the primary go to run.json as
for gonogo load; the divergence report to divergence.json and the terminal.`,
		Example: `  gonogo shadow --trace requests.jsonl --primary http://127.0.0.1:8001 --secondary http://127.0.0.1:8002 \
    --candidate http://127.0.0.1:8003 --protocol openai --out results/shadow
  gonogo shadow --trace prod.csv --primary http://127.0.0.1:8001 --candidate http://127.0.0.1:8003 \
    --protocol kserve --model resnet --rate 200 --duration 2m --segments region
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
	fs.IntVar(&f.maxVUs, "max-vus", 0, "cap on concurrent primary requests")
	fs.IntVar(&f.queue, "queue", 0, "mirror queue length per secondary/candidate (default 1024)")
	fs.IntVar(&f.workers, "workers", 0, "concurrent requests per secondary/candidate (default 64)")
	fs.BoolVar(&f.allowUnsafe, "allow-unsafe", false, "also mirror POST/PUT/PATCH/DELETE requests outside the inference paths")
	fs.StringSliceVar(&f.segments, "segments", nil, "tag keys to break divergence down by (besides input length), e.g. region,user")
	fs.BoolVar(&f.samples, "samples", false, "also write every primary request to samples.ndjson.gz")
	fs.StringVar(&f.out, "out", "", "results directory (default results/shadow-<time>)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no live progress line")
	f.req.register(fs)
	f.traceOpts.register(fs)
	f.rec.register(fs)
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
	mirrors := []namedTarget{}
	if f.secondary != "" {
		mirrors = append(mirrors, namedTarget{"secondary", f.secondary})
	}
	for i, c := range f.candidates {
		name := "candidate"
		if i > 0 {
			name = fmt.Sprintf("candidate-%d", i+1)
		}
		mirrors = append(mirrors, namedTarget{name, c})
	}
	if fs.Changed("duration") && !fs.Changed("rate") {
		// At the recorded pace, a duration is a window of the trace.
		end := f.from + time.Duration(float64(f.duration)*f.speed)
		if traffic.To == 0 || end < traffic.To {
			traffic.To = end
		}
	}
	labels, err := parseLabels("--label", f.rec.labels)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	out := f.out
	if out == "" {
		out = filepath.Join("results", "shadow-"+time.Now().Format("20060102-150405"))
	}
	return runLoad(ctx, o, &loadJob{
		File: file, Protocol: f.protocol, Target: f.primary, Client: copts, Out: out,
		Samples: f.samples, Quiet: f.quiet, Labels: labels, History: f.rec.history,
		Command: "gonogo " + strings.Join(commandArgs(cmd), " "),
		Shadow: &shadowJob{
			Mirrors: mirrors, Queue: f.queue, Workers: f.workers, AllowUnsafe: f.allowUnsafe,
			Segments: f.segments,
		},
	})
}

// maxShadowDuration bounds a shadow run at a given rate whose length is
// not given: the end of the trace normally comes first.
const maxShadowDuration = 24 * time.Hour

// namedTarget is a mirror: its role and base URL.
type namedTarget struct{ name, url string }

// shadowJob is the mirroring part of a load job.
type shadowJob struct {
	Mirrors     []namedTarget
	Queue       int
	Workers     int
	AllowUnsafe bool
	Segments    []string

	fanouts []*replay.Fanout
	pairs   *replay.PairWriter
	file    *os.File
}

// wrap replaces each plan's client by a fan-out to the primary (the
// plan's client) and the mirrors, writing pairs to dir.
func (sj *shadowJob) wrap(o *options, dir string, protocol string, base extensions.Options, plans []scenarios.Plan) error {
	f, err := os.Create(filepath.Join(dir, replay.PairsFile))
	if err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	sj.file, sj.pairs = f, replay.NewPairWriter(f)
	for i := range plans {
		var mirrors []replay.Mirror
		for _, m := range sj.Mirrors {
			mo := scenarioOptions(base, plans[i].Scenario.Request)
			mo.Target = m.url
			c, err := extensions.New(protocol, mo)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("--%s: %w", strings.SplitN(m.name, "-", 2)[0], err)}
			}
			pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := extensions.Preflight(pctx, c, m.url); err != nil {
				fmt.Fprintf(o.Err, "warning: %s: %v (its requests will be recorded as failures)\n", m.name, err)
			}
			cancel()
			mirrors = append(mirrors, replay.Mirror{Name: m.name, Client: c})
		}
		fan := replay.NewFanout(plans[i].Client, mirrors, sj.pairs, replay.FanoutOptions{
			QueueSize: sj.Queue, Workers: sj.Workers, AllowUnsafe: sj.AllowUnsafe,
		})
		sj.fanouts = append(sj.fanouts, fan)
		plans[i].Client = fan
	}
	return nil
}

// mirrorDrainTimeout bounds how long a finished shadow run waits for the
// mirrors' queued requests.
const mirrorDrainTimeout = 2 * time.Minute

// finish drains the mirrors, closes the pair store and returns the mirrors'
// counts for run.json.
func (sj *shadowJob) finish(o *options) (map[string]replay.MirrorStats, error) {
	stats := map[string]replay.MirrorStats{}
	var firstErr error
	for _, f := range sj.fanouts {
		ctx, cancel := context.WithTimeout(context.Background(), mirrorDrainTimeout)
		err := f.Close(ctx)
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			// Every pair is written; the unanswered ones are marked so.
			fmt.Fprintf(o.Err, "warning: mirrors still busy after %s: their last requests are recorded as canceled or dropped\n", mirrorDrainTimeout)
		case err != nil && firstErr == nil:
			firstErr = err
		}
		for name, st := range f.Stats() {
			sum := stats[name]
			sum.Sent += st.Sent
			sum.Dropped += st.Dropped
			sum.Skipped += st.Skipped
			sum.Failed += st.Failed
			stats[name] = sum
		}
	}
	if err := sj.pairs.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if err := sj.file.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	return stats, firstErr
}
