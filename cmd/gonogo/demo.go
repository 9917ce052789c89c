package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/fixtures/traffic"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/scenarios"
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
  3. shadow-replay the same slice into v1 (primary), a noisy second v1
     (secondary) and v2 (candidate), and report how v2's outputs diverge
     from v1's with the noise cancelled;
  4. replay the slice against v2 as a canary, judge it with the gates in
     --out/gates.yaml against the v1 replay (baseline) and the shadow
     divergence, and write the verdict and an HTML report.

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
// scale < 1 makes it a faster GPU.
func demoServer(ctx context.Context, version string, noise, scale float64) (string, error) {
	cfg := modelserver.DefaultConfig()
	cfg.Addr, cfg.Version, cfg.Knobs.Noise, cfg.Knobs.LatencyScale = "", version, noise, scale
	_, url, stop, err := modelserver.Start(cfg)
	if err != nil {
		return "", err
	}
	context.AfterFunc(ctx, stop)
	return url, nil
}

// demoNoise is the share of the secondary's answers with sampling noise.
const demoNoise = 0.02

func runDemo(ctx context.Context, o *options, out string, duration time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v1, err := demoServer(ctx, modelserver.VersionV1, 0, 1)
	if err != nil {
		return err
	}
	model := extensions.Options{Model: modelserver.DefaultModel}
	step := func(n int, title string) { fmt.Fprintf(o.Out, "\n━━ %d. %s\n\n", n, title) }

	step(1, "stress profile against the simulated inference server (gpt-sim v1, "+v1+")")
	file, err := scenarios.Profile("stress")
	if err != nil {
		return err
	}
	if err := file.Apply(scenarios.Overrides{Duration: &duration}); err != nil {
		return err
	}
	if err := runLoad(ctx, o, &loadJob{File: file, Protocol: "openai", Target: v1, Client: model,
		Out: filepath.Join(out, "stress"), Command: "gonogo demo (stress)"}); err != nil {
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
	fast, err := demoServer(ctx, modelserver.VersionV1, 0, 0.2)
	if err != nil {
		return err
	}
	step(2, "replay of recorded production traffic ("+tracePath+", its first 60 s) at 5× speed, on a faster GPU")
	speed, to := 5.0, time.Minute
	file, err = scenarios.FromFlags(scenarios.Overrides{Traffic: scenarios.TrafficOverrides{Trace: &tracePath, Speed: &speed, To: &to}})
	if err != nil {
		return err
	}
	if err := runLoad(ctx, o, &loadJob{File: file, Protocol: "openai", Target: fast, Client: model,
		Out: filepath.Join(out, "replay"), Command: "gonogo demo (replay)"}); err != nil {
		return err
	}

	step(3, "shadow replay: v1 primary, noisy v1 secondary, v2 candidate")
	primary, err := demoServer(ctx, modelserver.VersionV1, 0, 0.2)
	if err != nil {
		return err
	}
	v1b, err := demoServer(ctx, modelserver.VersionV1, demoNoise, 0.2)
	if err != nil {
		return err
	}
	v2, err := demoServer(ctx, modelserver.VersionV2, 0, 0.2)
	if err != nil {
		return err
	}
	s := &scenarios.Scenario{Executor: scenarios.ConstantArrivalRate, Rate: 30, Duration: 10 * time.Second,
		Traffic: &scenarios.Traffic{Trace: tracePath, Replay: scenarios.ReplaySequential}}
	file = &scenarios.File{Scenarios: map[string]*scenarios.Scenario{"shadow": s}}
	if err := file.Validate(); err != nil {
		return err
	}
	shadowOpts := model
	shadowOpts.KeepOutput = true
	shadowDir := filepath.Join(out, "shadow")
	if err := runLoad(ctx, o, &loadJob{File: file, Protocol: "openai", Target: primary, Client: shadowOpts,
		Out: shadowDir, Command: "gonogo demo (shadow)",
		Shadow: &shadowJob{Mirrors: []namedTarget{{"secondary", v1b}, {"candidate", v2}}}}); err != nil {
		return err
	}

	step(4, "canary: the same replay against v2, judged against v1 (baseline) and the shadow divergence")
	candidate, err := demoServer(ctx, modelserver.VersionV2, 0, 0.2)
	if err != nil {
		return err
	}
	file, err = scenarios.FromFlags(scenarios.Overrides{Traffic: scenarios.TrafficOverrides{Trace: &tracePath, Speed: &speed, To: &to}})
	if err != nil {
		return err
	}
	canaryDir := filepath.Join(out, "canary")
	if err := runLoad(ctx, o, &loadJob{File: file, Protocol: "openai", Target: candidate, Client: model,
		Out: canaryDir, Command: "gonogo demo (canary)", Samples: true, Labels: map[string]string{"version": "v2"}}); err != nil {
		return err
	}
	// The gates are written once: a newcomer's edits survive the next demo.
	gatesPath := filepath.Join(out, "gates.yaml")
	if _, err := os.Stat(gatesPath); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(gatesPath, demoGates, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintln(o.Out)
	verr := runVerdict(ctx, o, verdictFlags{gates: gatesPath, baseline: filepath.Join(out, "replay"), shadow: shadowDir}, canaryDir)
	var ee *exitError
	if verr != nil && !(errors.As(verr, &ee) && (ee.code == exitNoGo || ee.code == exitInconclusive)) {
		return verr
	}
	fmt.Fprintln(o.Out)
	if err := runReport(o, reportFlags{baseline: filepath.Join(out, "replay"), shadow: shadowDir}, canaryDir); err != nil {
		return err
	}
	return demoRecap(o, out, canaryDir)
}

// demoGates are the gates of the demo's canary, written to --out so that a
// newcomer can read and edit them (docs/gates.md).
//
//go:embed demo_gates.yaml
var demoGates []byte

// demoRecap prints the whole flow on one screen.
func demoRecap(o *options, out, canaryDir string) error {
	in, err := loadReportInput(canaryDir, "", "")
	if err != nil {
		return err
	}
	if in.Data.Divergence, err = reports.ReadDivergence(filepath.Join(out, "shadow")); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\n━━ the whole flow\n\n")
	for _, r := range []struct{ step, dir, what string }{
		{"1. stress", "stress", "built-in stress profile, v1"},
		{"2. replay", "replay", "recorded Azure trace at 5×, v1 (baseline)"},
		{"3. shadow", "shadow", "v1 primary, noisy v1 secondary, v2 candidate"},
		{"4. canary", "canary", "recorded trace at 5×, v2, judged"},
	} {
		fmt.Fprintf(o.Out, "  %-10s %-28s %s\n", r.step, filepath.Join(out, r.dir), r.what)
	}
	if d := in.Data.Divergence; d != nil {
		for _, c := range d.Candidates {
			for _, h := range c.Headline {
				if h.Metric == "text_mismatch_rate" {
					fmt.Fprintf(o.Out, "\n  divergence: v2 answers differ on %.1f %% of prompts, %.1f %% after cancelling the secondary's noise (truth: %.0f %%)\n",
						100*h.Raw, 100*h.Corrected, 100*modelserver.DefaultDiffFraction)
				}
			}
		}
	}
	if v := in.Verdict; v != nil {
		fmt.Fprintf(o.Out, "  verdict:    %s (score %g/100, %d gates) — %s\n", strings.ToUpper(string(v.Verdict)), v.Score, len(v.Gates), filepath.Join(canaryDir, analyze.VerdictFile))
	}
	fmt.Fprintf(o.Out, "  gates:      %s\n", filepath.Join(out, "gates.yaml"))
	fmt.Fprintf(o.Out, "  report:     %s  (open it in a browser)\n", filepath.Join(canaryDir, reports.HTMLFile))
	return nil
}
