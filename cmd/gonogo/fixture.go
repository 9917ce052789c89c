package main

import (
	"errors"
	"flag"
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
)

func newFixtureCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fixture",
		Short: "Run the simulated GPU inference server used by tests and the demo",
	}
	cmd.AddCommand(newFixtureServeCmd(o))
	return cmd
}

func newFixtureServeCmd(o *options) *cobra.Command {
	cfg := modelserver.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the simulated inference server (OpenAI-compatible, KServe v2, /metrics)",
		Long: `Serve a simulated GPU inference server: continuous batching with sequence
slots and a KV-cache budget, prefill time proportional to prompt tokens, decode
steps that slow with the batch, queueing past capacity. It speaks the OpenAI
completions/chat API (streaming SSE with usage) and the KServe v2 protocol, and
exposes Prometheus metrics on /metrics.

Model versions v1, v2 (a known fraction of outputs differ) and v2-slow (v2, 3×
slower) give known truth; fault knobs (error rate, periodic stalls, latency
scale, cold start, crash after N requests) can also be changed at run time
with PUT /admin/knobs.`,
		Example: `  gonogo fixture serve --addr 127.0.0.1:8000 --version v1
  gonogo fixture serve --addr 127.0.0.1:8001 --version v2 --stall-every 5s --stall-for 1s
  curl -X PUT -d '{"error_rate":0.02}' http://127.0.0.1:8000/admin/knobs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := modelserver.New(cfg)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			ln, err := net.Listen("tcp", cfg.Addr)
			if err != nil {
				return usageError("--addr %s: %v", cfg.Addr, err)
			}
			fmt.Fprintf(o.Err, "serving model %s version %s on http://%s\n", cfg.Model, cfg.Version, ln.Addr())
			err = srv.Serve(cmd.Context(), ln)
			if errors.Is(err, modelserver.ErrCrashed) {
				return &exitError{code: exitRuntime, err: err}
			}
			return err
		},
	}
	gfs := flag.NewFlagSet("fixture", flag.ContinueOnError)
	cfg.RegisterFlags(gfs)
	cmd.Flags().AddGoFlagSet(gfs)
	return cmd
}
