// Command fixture-server runs the simulated GPU inference server
// (package fixtures/modelserver) on its own: flags → modelserver.Config →
// serve. It is the binary the fixture Docker image runs.
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
	fmt.Fprintf(stderr, "fixture-server: serving model %q / %q version %s on http://%s\n",
		cfg.Model, cfg.ClassifierModel, cfg.Version, ln.Addr())
	if err := s.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "fixture-server: %v\n", err)
		return 1
	}
	return 0
}
