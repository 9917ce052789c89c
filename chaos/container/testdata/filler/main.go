// Command filler is the tests' stand-in for `gonogo chaos fill`: a small
// static binary taking the same command line (chaos fill --memory N
// --disk PATH:N --for D --stop FILE) and running container.Fill, so that
// the container tests need not build the whole gonogo CLI.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gonogo-dev/gonogo/chaos/container"
)

func main() {
	args := os.Args[1:]
	if len(args) < 2 || args[0] != "chaos" || args[1] != "fill" {
		fmt.Fprintln(os.Stderr, "usage: filler chaos fill (--memory N | --disk PATH:N) --for D [--stop FILE]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("fill", flag.ContinueOnError)
	memory := fs.String("memory", "", "")
	disk := fs.String("disk", "", "")
	hold := fs.Duration("for", 0, "")
	stop := fs.String("stop", "", "")
	if err := fs.Parse(args[2:]); err != nil {
		os.Exit(2)
	}
	o := container.FillOptions{For: *hold, StopFile: *stop, Out: os.Stdout}
	if *memory != "" {
		b, err := container.ParseBytes(*memory)
		if err != nil {
			fmt.Fprintln(os.Stderr, "error: --memory:", err)
			os.Exit(2)
		}
		o.MemoryBytes = int64(b)
	}
	if *disk != "" {
		p, n, err := container.ParseDiskFill(*disk)
		if err != nil {
			fmt.Fprintln(os.Stderr, "error: --disk:", err)
			os.Exit(2)
		}
		o.DiskPath, o.DiskBytes = p, n
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := container.Fill(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
