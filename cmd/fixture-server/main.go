// Command fixture-server runs the simulated GPU inference server
// (package fixtures/modelserver) on its own: flags → modelserver.Config →
// serve. It is the binary the fixture Docker image runs. With --grpc-addr
// it also serves the KServe v2 gRPC API on that address.
//
// With --role featurestore it serves the model server's feature store
// dependency instead (modelserver.FeatureStore: GET /features/{key},
// /healthz, /admin/knobs) on --addr, seeded by --seed, with the knobs
// --store-latency and --store-error-rate; point a model server at it with
// --feature-store http://ADDR.
//
// Exit codes: 0 after SIGINT/SIGTERM, 1 on a runtime error or when the
// crash-after knob crashed the server, 2 on bad flags or config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gonogo-dev/gonogo/fixtures/modelserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("fixture-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := modelserver.DefaultConfig()
	cfg.RegisterFlags(fs)
	grpcAddr := fs.String("grpc-addr", "", "also serve the KServe v2 gRPC API on this address (default: off)")
	role := fs.String("role", "model", "what to serve: model, or featurestore (the feature store a model server may call, see --feature-store)")
	var store modelserver.FeatureStoreConfig
	fs.DurationVar(&store.Knobs.Latency, "store-latency", 0, "featurestore role: latency of every feature request")
	fs.Float64Var(&store.Knobs.ErrorRate, "store-error-rate", 0, "featurestore role: share of feature requests answered 500")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fixture-server: unexpected arguments %q\n", fs.Args())
		return 2
	}
	switch *role {
	case "model":
	case "featurestore":
		store.Addr, store.Seed = cfg.Addr, cfg.Seed
		return serveFeatureStore(ctx, store, stderr)
	default:
		fmt.Fprintf(stderr, "fixture-server: --role %q: want model or featurestore\n", *role)
		return 2
	}
	s, err := modelserver.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fixture-server: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.Close()
		fmt.Fprintf(stderr, "fixture-server: %v\n", err)
		return 1
	}
	var gln net.Listener
	if *grpcAddr != "" {
		if gln, err = net.Listen("tcp", *grpcAddr); err != nil {
			ln.Close()
			s.Close()
			fmt.Fprintf(stderr, "fixture-server: --grpc-addr: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "fixture-server: serving model %q / %q version %s on http://%s\n",
		cfg.Model, cfg.ClassifierModel, cfg.Version, ln.Addr())
	grpcDone := make(chan error, 1)
	if gln != nil {
		fmt.Fprintf(stderr, "fixture-server: serving KServe v2 gRPC (model %q) on %s\n", cfg.ClassifierModel, gln.Addr())
		go func() { grpcDone <- s.ServeGRPC(ctx, gln) }()
	} else {
		grpcDone <- nil
	}
	err = s.Serve(ctx, ln) // closes s on return, which stops ServeGRPC
	if gerr := <-grpcDone; err == nil {
		err = gerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "fixture-server: %v\n", err)
		return 1
	}
	return 0
}

// serveFeatureStore serves the feature store role until ctx is done.
func serveFeatureStore(ctx context.Context, cfg modelserver.FeatureStoreConfig, stderr io.Writer) int {
	f, err := modelserver.NewFeatureStore(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fixture-server: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		f.Close()
		fmt.Fprintf(stderr, "fixture-server: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "fixture-server: serving the feature store on http://%s\n", ln.Addr())
	if err := f.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "fixture-server: %v\n", err)
		return 1
	}
	return 0
}
