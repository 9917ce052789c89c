package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/chaos/container"
)

// newChaosFillCmd is `gonogo chaos fill`, hidden: the filler that the
// container faults fill-memory and fill-disk copy into a container and
// exec there (FROM-scratch images have no shell, and gonogo is a static
// binary).
func newChaosFillCmd(o *options) *cobra.Command {
	var memory, disk, stop string
	var hold time.Duration
	cmd := &cobra.Command{
		Use:          "fill (--memory SIZE | --disk PATH:SIZE) --for DURATION",
		Short:        "Take memory or disk space for a while, then give it back (run inside a container by fill faults)",
		Hidden:       true,
		SilenceUsage: true,
		Long: `Allocate SIZE bytes of memory and write every page of it, or write a new file
of SIZE bytes at PATH (never overwriting one), print a "ready" line, hold it
for DURATION, then release it (the file removed) and exit by itself. It ends
early on SIGINT or SIGTERM, or once the --stop file exists: that is how the
container fault injector ends it through the engine's archive API, without
a shell in the container. SIZE is bytes or a number and unit (64MiB, 1GiB,
512m).`,
		Example: `  gonogo chaos fill --memory 256MiB --for 30s
  gonogo chaos fill --disk /data/fill.bin:1GiB --for 5m --stop /tmp/fill.stop`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fo := container.FillOptions{For: hold, StopFile: stop, Out: o.Out}
			if memory != "" {
				b, err := container.ParseBytes(memory)
				if err != nil {
					return usageError("--memory: %v", err)
				}
				fo.MemoryBytes = int64(b)
			}
			if disk != "" {
				p, n, err := container.ParseDiskFill(disk)
				if err != nil {
					return usageError("--disk: %v", err)
				}
				fo.DiskPath, fo.DiskBytes = p, n
			}
			if err := fo.Check(); err != nil {
				return usageError("%v", err)
			}
			return container.Fill(cmd.Context(), fo)
		},
	}
	f := cmd.Flags()
	f.StringVar(&memory, "memory", "", "memory to allocate and touch, SIZE (64MiB, 1GiB)")
	f.StringVar(&disk, "disk", "", "file to write, PATH:SIZE (it must not exist; it is removed at the end)")
	f.DurationVar(&hold, "for", 0, "how long to hold it before releasing it and exiting (required)")
	f.StringVar(&stop, "stop", "", "end early once this file exists")
	return cmd
}
