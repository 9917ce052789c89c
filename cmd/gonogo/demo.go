package main

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
	"github.com/gonogo-dev/gonogo/scenarios"
)

func newDemoCmd(o *options) *cobra.Command {
	var out string
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start the simulated inference server in-process and stress-test it",
		Long: `Run the whole flow on embedded defaults, with nothing to set up: start the
simulated GPU inference server on a loopback port, run the built-in stress
profile against it over the OpenAI streaming API, and write a results
directory with run.json, latency.hlog and a readable summary.`,
		Example: `  gonogo demo
  gonogo demo --duration 1m --out results/demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if duration <= 0 {
				return usageError("--duration: must be > 0 (got %s)", duration)
			}
			ctx := cmd.Context()
			srv, err := modelserver.New(modelserver.DefaultConfig())
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			go srv.Serve(ctx, ln)
			target := "http://" + ln.Addr().String()
			fmt.Fprintf(o.Out, "simulated inference server (model gpt-sim v1) on %s\n", target)

			file, err := scenarios.Profile("stress")
			if err != nil {
				return err
			}
			if err := file.Apply(scenarios.Overrides{Duration: &duration}); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "stress profile: %s\n\n", file.Scenarios["stress"].Describe())
			return runLoad(ctx, o, &loadJob{
				File: file, Protocol: "openai", Target: target, Out: out,
				Client:  extensions.Options{Model: modelserver.DefaultConfig().Model},
				Command: "gonogo demo",
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "results/demo", "results directory")
	cmd.Flags().DurationVar(&duration, "duration", 20*time.Second, "length of the stress profile")
	return cmd
}
