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
	var grpcAddr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the simulated inference server (OpenAI-compatible, KServe v2, /metrics)",
		Long: `Serve a simulated GPU inference server: continuous batching with sequence
slots and a KV-cache budget, prefill time proportional to prompt tokens, decode
steps that slow with the batch, queueing past capacity. It speaks the OpenAI
completions/chat API (streaming SSE with usage) and the KServe v2 protocol, and
exposes Prometheus metrics on /metrics. With --grpc-addr it also serves the
KServe v2 gRPC API (GRPCInferenceService) on a listener of its own.

Model versions v1, v2 (a known fraction of outputs differ) and v2-slow (v2, 3×
slower) give known truth; fault knobs (error rate, periodic stalls, latency
scale, cold start, crash after N requests) can also be changed at run time
with PUT /admin/knobs.`,
		Example: `  gonogo fixture serve --addr 127.0.0.1:8000 --version v1
  gonogo fixture serve --addr 127.0.0.1:8001 --version v2 --stall-every 5s --stall-for 1s
  gonogo fixture serve --addr 127.0.0.1:8000 --grpc-addr 127.0.0.1:8081
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
			var gln net.Listener
			if grpcAddr != "" {
				if gln, err = net.Listen("tcp", grpcAddr); err != nil {
					ln.Close()
					srv.Close()
					return usageError("--grpc-addr %s: %v", grpcAddr, err)
				}
			}
			fmt.Fprintf(o.Err, "serving model %s version %s on http://%s\n", cfg.Model, cfg.Version, ln.Addr())
			grpcDone := make(chan error, 1)
			if gln != nil {
				fmt.Fprintf(o.Err, "serving KServe v2 gRPC (model %s) on %s\n", cfg.ClassifierModel, gln.Addr())
				go func() { grpcDone <- srv.ServeGRPC(cmd.Context(), gln) }()
			} else {
				grpcDone <- nil
			}
			err = srv.Serve(cmd.Context(), ln) // closes srv on return, which stops ServeGRPC
			if gerr := <-grpcDone; err == nil {
				err = gerr
			}
			if errors.Is(err, modelserver.ErrCrashed) {
				return &exitError{code: exitRuntime, err: err}
			}
			return err
		},
	}
	gfs := flag.NewFlagSet("fixture", flag.ContinueOnError)
	cfg.RegisterFlags(gfs)
	cmd.Flags().AddGoFlagSet(gfs)
	cmd.Flags().StringVar(&grpcAddr, "grpc-addr", "", "also serve the KServe v2 gRPC API on this address (default: off)")
	return cmd
}
