package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gonogo-dev/gonogo/replay"
	_ "github.com/gonogo-dev/gonogo/replay/all" // register every trace format
	"github.com/gonogo-dev/gonogo/runner"
)

// traceFlags choose and read a trace; `trace inspect` and `load --trace`
// share them.
type traceFlags struct {
	format, preset, columns, timeFormat string
	strict                              bool
}

func (t *traceFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&t.format, "trace-format", "", "trace format: "+strings.Join(replay.Formats(), ", ")+" (default: detected)")
	fs.StringVar(&t.preset, "preset", "", "column preset of a known public trace: "+strings.Join(presetNames(), ", ")+" (default: detected from the header)")
	fs.StringVar(&t.columns, "columns", "", "column mapping, e.g. timestamp=TIMESTAMP,input_tokens=ContextTokens,output_tokens=GeneratedTokens (known traces need none)")
	fs.StringVar(&t.timeFormat, "time-format", "", "timestamp format: "+strings.Join(replay.TimeFormats, ", ")+" or a Go layout (default: detected; whole-number offsets with a median gap of 10 or more are milliseconds)")
	fs.BoolVar(&t.strict, "strict", false, "the first malformed trace row is an error (exit 2) instead of being skipped and counted")
}

func presetNames() []string {
	var names []string
	for _, p := range replay.Presets() {
		names = append(names, p.Name)
	}
	return names
}

// options turns the flags into reader options.
func (t *traceFlags) options() (replay.Options, error) {
	o := replay.Options{Format: t.format, Preset: t.preset, TimeFormat: t.timeFormat, Strict: t.strict}
	if t.columns != "" {
		cols, err := replay.ParseColumns(t.columns)
		if err != nil {
			return o, usageError("--columns: %v", err)
		}
		o.Columns = cols
	}
	return o, nil
}

func newTraceCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Read recorded production traffic",
	}
	cmd.AddCommand(newTraceInspectCmd(o))
	return cmd
}

func newTraceInspectCmd(o *options) *cobra.Command {
	var tf traceFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect TRACE",
		Short: "Summarize a trace: rows, span, rate, burstiness, token sizes",
		Long: `Summarize a recorded trace: rows, time span, mean rate, burstiness (the
coefficient of variation of inter-arrival times), the most arrivals in any
aligned 1 s bin and any sliding 1 s window, nearest-rank percentiles of input
and output tokens with small histograms, and the rows skipped as malformed.
It says which timestamp format it took (and whether it detected it), and
warns when the unit looks wrong (docs/traces.md, "Timestamps").

Formats: CSV and JSONL traces with a column mapping (--columns; the Azure LLM
inference trace needs none), JSONL request logs, and HAR 1.2.`,
		Example: `  gonogo trace inspect fixtures/traces/azure-llm-2023/AzureLLMInferenceTrace_code.csv
  gonogo trace inspect prod.jsonl --columns timestamp=ts,input_tokens=prompt,output_tokens=completion --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			ro, err := tf.options()
			if err != nil {
				return err
			}
			r, closer, err := replay.Open(args[0], ro)
			if err != nil {
				return runner.TraceError(err)
			}
			defer closer.Close()
			st, err := replay.Inspect(r)
			if errors.Is(err, replay.ErrEndless) {
				err = fmt.Errorf("%s: %w", args[0], err)
			}
			if err != nil {
				return runner.TraceError(err)
			}
			if asJSON {
				enc := json.NewEncoder(o.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return st.WriteText(o.Out)
		},
	}
	tf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
