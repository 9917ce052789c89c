package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/experiment"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/traffic"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rollout"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
	"github.com/gonogo-dev/gonogo/store"
)

func newDemoCmd(o *options) *cobra.Command {
	var out string
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole flow on the simulated inference server, with nothing to set up",
		Long: `Run the whole flow on embedded defaults, with nothing to set up:

  1. start the simulated GPU inference server (v1) in-process and run the
     built-in stress profile against it over the OpenAI streaming API;
  2. replay a slice of a real recorded production trace (embedded: 600 rows
     of the Azure LLM inference trace) at 5× its recorded pace;
  3. shadow-replay the same slice into v1 (primary), a second v1
     (secondary) and v2 (candidate), all with sampling noise, and report
     how v2's outputs diverge from v1's with the noise corrected;
  4. replay the slice against v2 as a canary, judge it with the gates in
     --out/gates.yaml against the v1 replay (baseline) and the shadow
     divergence, and write the verdict and an HTML report;
  5. run a short chaos experiment (--out/chaos.yaml) on v1: a fault proxy
     answers 10 % of requests with 503 and the GPU slows down for 6 s,
     while a steady-state hypothesis is judged before, during and after;
     write its journal and game-day report;
  6. roll out v2-slow, then v2, as canaries through the embedded routing
     proxy (25 % → 50 % → 100 %) while the recorded slice replays into it,
     each step judged on the live window: v2-slow is rolled back on its
     own, v2 is promoted; the transitions are marked in each run's report.

Each step writes a results directory under --out.`,
		Example: `  gonogo demo
  gonogo demo --duration 1m --out results/demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if duration <= 0 {
				return usageError("--duration: must be > 0 (got %s)", duration)
			}
			return runDemo(cmd.Context(), o, out, duration)
		},
	}
	cmd.Flags().StringVar(&out, "out", "results/demo", "results directory; each step writes a folder in it")
	cmd.Flags().DurationVar(&duration, "duration", 20*time.Second, "length of the stress profile")
	return cmd
}

// demoServer starts a simulated server of version on a loopback port;
// scale < 1 makes it a faster GPU. Noisy servers need seeds of their own,
// or their noise falls on the same requests.
func demoServer(ctx context.Context, version string, noise, scale float64, seed int64) (string, error) {
	cfg := modelserver.DefaultConfig()
	cfg.Addr, cfg.Version, cfg.Knobs.Noise, cfg.Knobs.LatencyScale, cfg.Seed = "", version, noise, scale, seed
	_, url, stop, err := modelserver.Start(cfg)
	if err != nil {
		return "", err
	}
	context.AfterFunc(ctx, stop)
	return url, nil
}

// demoNoise is the share of each shadow server's answers with sampling
// noise: copies of one serving stack are equally noisy, as the noise
// correction assumes (docs/divergence.md).
const demoNoise = 0.02

// demoRun runs one step of the demo with the runner.
func demoRun(ctx context.Context, o *options, cfg runner.Config, hooks ...runner.Hooks) (*runner.Result, error) {
	cfg.Out, cfg.Err, cfg.Progress = o.Out, o.Err, o.Interactive
	r, err := runner.New(cfg)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	for _, h := range hooks {
		r.Attach(h)
	}
	res, err := r.Execute(ctx)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("demo interrupted: %w", ctx.Err())
	}
	return res, nil
}

func runDemo(ctx context.Context, o *options, out string, duration time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v1, err := demoServer(ctx, modelserver.VersionV1, 0, 1, 1)
	if err != nil {
		return err
	}
	model := extensions.Options{Model: modelserver.DefaultModel}
	step := func(n int, title string) { fmt.Fprintf(o.Out, "\n━━ %d. %s\n\n", n, title) }
	command := func(name string) []string { return []string{"gonogo", "demo", "(" + name + ")"} }

	step(1, "stress profile against the simulated inference server (gpt-sim v1, "+v1+")")
	file, err := scenarios.Profile("stress")
	if err != nil {
		return err
	}
	if err := file.Apply(scenarios.Overrides{Duration: &duration}); err != nil {
		return err
	}
	if _, err := demoRun(ctx, o, runner.Config{File: file, Protocol: "openai", Target: v1, Client: model,
		Dir: filepath.Join(out, "stress"), Command: command("stress")}); err != nil {
		return err
	}

	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tracePath := filepath.Join(out, traffic.AzureConvSampleName)
	if err := os.WriteFile(tracePath, traffic.AzureConvSample, 0o644); err != nil {
		return err
	}
	// Recorded conversations ask for hundreds of tokens each: steps 2 and 3
	// use fresh servers on a 5× faster simulated GPU.
	fast, err := demoServer(ctx, modelserver.VersionV1, 0, 0.2, 1)
	if err != nil {
		return err
	}
	step(2, "replay of recorded production traffic ("+tracePath+", its first 60 s) at 5× speed, on a faster GPU")
	speed, to := 5.0, time.Minute
	file, err = scenarios.FromFlags(scenarios.Overrides{Traffic: scenarios.TrafficOverrides{Trace: &tracePath, Speed: &speed, To: &to}})
	if err != nil {
		return err
	}
	replayDir := filepath.Join(out, "replay")
	if _, err := demoRun(ctx, o, runner.Config{File: file, Protocol: "openai", Target: fast, Client: model,
		Dir: replayDir, Command: command("replay")}); err != nil {
		return err
	}

	step(3, "shadow replay: v1 primary, v1 secondary, v2 candidate, all with sampling noise")
	primary, err := demoServer(ctx, modelserver.VersionV1, demoNoise, 0.2, 1)
	if err != nil {
		return err
	}
	v1b, err := demoServer(ctx, modelserver.VersionV1, demoNoise, 0.2, 2)
	if err != nil {
		return err
	}
	v2, err := demoServer(ctx, modelserver.VersionV2, demoNoise, 0.2, 3)
	if err != nil {
		return err
	}
	s := &scenarios.Scenario{Executor: scenarios.ConstantArrivalRate, Rate: 30, Duration: 20 * time.Second,
		Traffic: &scenarios.Traffic{Trace: tracePath, Replay: scenarios.ReplaySequential}}
	file = &scenarios.File{Scenarios: map[string]*scenarios.Scenario{"shadow": s}}
	if err := file.Validate(); err != nil {
		return err
	}
	shadowOpts := model
	shadowOpts.KeepOutput = true
	shadowDir := filepath.Join(out, "shadow")
	if _, err := demoRun(ctx, o, runner.Config{File: file, Protocol: "openai", Target: primary, Client: shadowOpts,
		Dir: shadowDir, Command: command("shadow"),
		Shadow: &runner.Shadow{Mirrors: []runner.Mirror{{Name: "secondary", Target: v1b}, {Name: "candidate", Target: v2}}}}); err != nil {
		return err
	}

	step(4, "canary: the same replay against v2, judged against v1 (baseline) and the shadow divergence")
	candidate, err := demoServer(ctx, modelserver.VersionV2, 0, 0.2, 1)
	if err != nil {
		return err
	}
	file, err = scenarios.FromFlags(scenarios.Overrides{Traffic: scenarios.TrafficOverrides{Trace: &tracePath, Speed: &speed, To: &to}})
	if err != nil {
		return err
	}
	canaryDir := filepath.Join(out, "canary")
	if _, err := demoRun(ctx, o, runner.Config{File: file, Protocol: "openai", Target: candidate, Client: model,
		Dir: canaryDir, Command: command("canary"), Samples: true, Labels: map[string]string{"version": "v2"}}); err != nil {
		return err
	}
	// The gates are written once: a newcomer's edits survive the next demo.
	gatesPath := filepath.Join(out, "gates.yaml")
	if _, err := os.Stat(gatesPath); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(gatesPath, demoGates, 0o644); err != nil {
			return err
		}
	}
	in, err := demoJudge(o, gatesPath, canaryDir, replayDir, shadowDir)
	if err != nil {
		return err
	}

	step(5, "chaos: a flaky gateway and a slower GPU for 6 s, the steady state judged before, during and after")
	j, err := demoChaos(ctx, o, out, v1)
	if err != nil {
		return err
	}

	step(6, "rollouts through the embedded proxy under recorded traffic: a canary of v2-slow, then of v2")
	var ends []store.State
	for _, version := range []string{modelserver.VersionV2Slow, modelserver.VersionV2} {
		canary, err := demoServer(ctx, version, 0, 0.2, 1)
		if err != nil {
			return err
		}
		st, err := demoRollout(ctx, o, out, tracePath, version, fast, canary)
		if err != nil {
			return err
		}
		ends = append(ends, st)
	}
	return demoRecap(o, out, canaryDir, in, j, ends)
}

// demoRolloutYAML is the demo's rollout; see the file for its
// placeholders.
//
//go:embed demo_rollout.yaml
var demoRolloutYAML string

// demoRollout rolls version out from stable through the embedded proxy
// while the recorded trace replays into the proxy, and writes the run's
// report with the rollout's transitions on its time axes.
func demoRollout(ctx context.Context, o *options, out, tracePath, version, stable, canary string) (store.State, error) {
	var st store.State
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return st, err
	}
	proxyAddr := l.Addr().String()
	l.Close()
	src := strings.NewReplacer("NAME", version, "PROXY", proxyAddr, "STABLE", stable, "CANARY", canary).Replace(demoRolloutYAML)
	cfgPath := filepath.Join(out, "rollout-"+version+".yaml")
	if err := os.WriteFile(cfgPath, []byte(src), 0o644); err != nil {
		return st, err
	}
	cfg, err := rollout.LoadConfig(cfgPath)
	if err != nil {
		return st, err
	}
	// A fresh store: each demo's rollout starts from stable.
	storePath := filepath.Join(out, "rollout-"+version+".db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(storePath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return st, err
		}
	}
	db, err := store.Open(storePath)
	if err != nil {
		return st, err
	}
	defer db.Close()
	token := make([]byte, 16)
	_, _ = rand.Read(token)
	s := &scenarios.Scenario{Executor: scenarios.ConstantArrivalRate, Rate: 40, Duration: 25 * time.Second,
		Traffic: &scenarios.Traffic{Trace: tracePath, Replay: scenarios.ReplaySequential}}
	file := &scenarios.File{Scenarios: map[string]*scenarios.Scenario{"rollout": s}}
	if err := file.Validate(); err != nil {
		return st, err
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	var serveErr error
	hooks := runner.Hooks{
		// The rollout starts with the run, its transitions in the run's
		// journal, and ends with it.
		Start: func(_ context.Context, r *runner.Run) error {
			ready := make(chan struct{})
			go func() {
				defer close(done)
				st, serveErr = rollout.Serve(rctx, rollout.ServeOptions{Config: cfg, Store: db, Token: hex.EncodeToString(token),
					Journal: r.Journal(), Log: o.Out, Ready: func(string, string) { close(ready) }})
			}()
			select {
			case <-ready:
				return nil
			case <-done:
				return serveErr
			}
		},
		Stop: func(context.Context, *runner.Run) { stop(); <-done },
	}
	dir := filepath.Join(out, "rollout-"+version)
	if _, err := demoRun(ctx, o, runner.Config{File: file, Protocol: "openai", Target: "http://" + proxyAddr,
		Client: extensions.Options{Model: modelserver.DefaultModel}, Dir: dir,
		Command: []string{"gonogo", "demo", "(rollout " + version + ")"}, Preflight: runner.Preflight{Skip: true}}, hooks); err != nil {
		return st, err
	}
	if serveErr != nil {
		return st, serveErr
	}
	var in reports.Input
	if in.Run, in.Data, err = reports.LoadRun(dir); err != nil {
		return st, err
	}
	if err := rundir.Dir(dir).WriteAtomic(rundir.HTML, func(w io.Writer) error { return reports.WriteHTML(w, in) }); err != nil {
		return st, err
	}
	fmt.Fprintf(o.Out, "rollout of %s: %s — %s\n", version, st.Phase, st.Message)
	return st, nil
}

// demoChaosYAML is the demo's chaos experiment; TARGET stands for the
// simulated server's URL.
//
//go:embed demo_chaos.yaml
var demoChaosYAML string

// demoChaos writes the experiment to --out, runs it against target and
// writes its game-day report.
func demoChaos(ctx context.Context, o *options, out, target string) (*chaos.Journal, error) {
	path := filepath.Join(out, "chaos.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(demoChaosYAML, "TARGET", target)), 0o644); err != nil {
		return nil, err
	}
	x, err := experiment.LoadFile(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(out, "chaos")
	j, err := experiment.Run(ctx, x, experiment.Options{Dir: dir, Out: o.Out, Err: o.Err, Progress: o.Interactive,
		Command: []string{"gonogo", "demo", "(chaos)"}})
	if err != nil {
		return nil, err
	}
	in := reports.Input{Experiment: j}
	if in.Run, in.Data, err = reports.LoadRun(dir); err != nil {
		return nil, err
	}
	if err := rundir.Dir(dir).WriteAtomic(rundir.HTML, func(w io.Writer) error { return reports.WriteHTML(w, in) }); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Out, "wrote %s\n", rundir.Dir(dir).Path(rundir.HTML))
	return j, nil
}

// demoJudge judges the canary against the replay (baseline) and the
// shadow run's divergence, writes verdict.json and the reports, and
// returns what the reports were made of.
func demoJudge(o *options, gatesPath, canaryDir, baseDir, shadowDir string) (reports.Input, error) {
	var in reports.Input
	gates, err := analyze.LoadGates(gatesPath)
	if err != nil {
		return in, err
	}
	if in.Run, in.Data, err = reports.LoadRun(canaryDir); err != nil {
		return in, err
	}
	if in.Baseline, in.BaselineData, err = reports.LoadRun(baseDir); err != nil {
		return in, err
	}
	if in.Data.Divergence, err = reports.ReadDivergence(shadowDir); err != nil {
		return in, err
	}
	if in.Verdict, err = analyze.Judge(gates, in.Data, in.BaselineData); err != nil {
		return in, err
	}
	dir := rundir.Dir(canaryDir)
	if err := runner.WriteVerdict(dir, in.Verdict); err != nil {
		return in, err
	}
	fmt.Fprintln(o.Out)
	if err := reports.WriteVerdictText(o.Out, in.Verdict); err != nil {
		return in, err
	}
	fmt.Fprintln(o.Out)
	for _, r := range []struct {
		name  string
		write func(io.Writer, reports.Input) error
	}{{rundir.HTML, reports.WriteHTML}, {rundir.JUnit, reports.WriteJUnit}, {rundir.Markdown, reports.WriteMarkdown}} {
		if err := dir.WriteAtomic(r.name, func(w io.Writer) error { return r.write(w, in) }); err != nil {
			return in, err
		}
		fmt.Fprintf(o.Out, "wrote %s\n", dir.Path(r.name))
	}
	return in, nil
}

// demoGates are the gates of the demo's canary, written to --out so that a
// newcomer can read and edit them (docs/gates.md).
//
//go:embed demo_gates.yaml
var demoGates []byte

// demoRecap prints the whole flow on one screen.
func demoRecap(o *options, out, canaryDir string, in reports.Input, j *chaos.Journal, rollouts []store.State) error {
	fmt.Fprintf(o.Out, "\n━━ the whole flow\n\n")
	for _, r := range []struct{ step, dir, what string }{
		{"1. stress", "stress", "built-in stress profile, v1"},
		{"2. replay", "replay", "recorded Azure trace at 5×, v1 (baseline)"},
		{"3. shadow", "shadow", "v1 primary and secondary, v2 candidate, noisy"},
		{"4. canary", "canary", "recorded trace at 5×, v2, judged"},
		{"5. chaos", "chaos", "flaky gateway and slower GPU on v1, game day"},
		{"6. rollout", "rollout-v2-slow", "canary of v2-slow through the proxy"},
		{"6. rollout", "rollout-v2", "canary of v2 through the proxy"},
	} {
		fmt.Fprintf(o.Out, "  %-10s %-28s %s\n", r.step, filepath.Join(out, r.dir), r.what)
	}
	if d := in.Data.Divergence; d != nil {
		for _, c := range d.Candidates {
			for _, h := range c.Headline {
				if h.Metric == "text_mismatch_rate" {
					fmt.Fprintf(o.Out, "\n  divergence: v2 answers differ on %.1f %% of prompts, %.1f %% after correcting for the noise the secondary shows (truth: %.0f %%)\n",
						100*h.Raw, 100*h.Corrected, 100*modelserver.DefaultDiffFraction)
				}
			}
		}
	}
	if v := in.Verdict; v != nil {
		fmt.Fprintf(o.Out, "  verdict:    %s (score %g/100, %d gates) — %s\n", strings.ToUpper(string(v.Verdict)), v.Score, len(v.Gates), filepath.Join(canaryDir, rundir.Verdict))
	}
	fmt.Fprintf(o.Out, "  gates:      %s\n", filepath.Join(out, "gates.yaml"))
	fmt.Fprintf(o.Out, "  report:     %s  (open it in a browser)\n", filepath.Join(canaryDir, rundir.HTML))
	fmt.Fprintf(o.Out, "  chaos:      experiment %s, hypothesis %s", j.Status, j.Verdict)
	for _, a := range j.Activities {
		if a.TimeToDetectS != nil && a.TimeToRecoverS != nil {
			fmt.Fprintf(o.Out, "; %s detected after %.0fs, recovered %.0fs after it ended", a.Name, *a.TimeToDetectS, *a.TimeToRecoverS)
			break
		}
	}
	fmt.Fprintf(o.Out, " — %s\n", filepath.Join(out, "chaos", rundir.HTML))
	for _, st := range rollouts {
		fmt.Fprintf(o.Out, "  rollout:    %s %s at step %d — %s\n", st.Rollout, st.Phase, st.Step, st.Message)
	}
	return nil
}
