package main

import (
	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/runner"
)

func newMarkCmd(o *options) *cobra.Command {
	var attrs []string
	cmd := &cobra.Command{
		Use:   "mark DIR MESSAGE",
		Short: "Add a marker to a run's journal, while it runs or after",
		Long: `Append a person's marker to the event journal (events.ndjson) of the run in
DIR, timed now: "deploy of v2 started", "paged the on-call". Reports draw it
on every time axis. It works from another terminal while the run goes (the
run appends to the same file and never rewrites it); a run started with
--metrics-addr also takes markers on POST /events.`,
		Example: `  gonogo mark results/gameday "feature store failover started"
  gonogo mark results/canary "rolled back by hand" --attr who=alice`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			m, err := parseLabels("--attr", attrs)
			if err != nil {
				return err
			}
			return runner.Mark(rundir.Dir(args[0]), args[1], m)
		},
	}
	cmd.Flags().StringArrayVar(&attrs, "attr", nil, "attribute KEY=VALUE of the marker (repeatable)")
	return cmd
}
