package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/fuzz"
	"github.com/gonogo-dev/gonogo/rundir"
)

// newChaosFuzzCmd is `gonogo chaos fuzz`: malformed and adversarial
// requests against an endpoint, a table per class, fuzz.json.
func newChaosFuzzCmd(o *options) *cobra.Command {
	var (
		fo                     fuzz.Options
		classes, requests, out string
	)
	cmd := &cobra.Command{
		Use:   "fuzz --target URL --protocol openai|kserve --out DIR",
		Short: "Send malformed requests and report, per class, what the endpoint did",
		Long: `Send an inference endpoint deterministic mutations of normal requests — the
protocol's own or those of a request log (--requests) — and judge each answer:
validation-error (a 4xx: good), accepted (a 2xx to a mutation that is still a
valid request: neutral), and the bad ones: server-error (a 5xx, or a 2xx with
a malformed answer), crash (connection refused or reset, or the health check
failing right after; the run stops), hang (no answer within --timeout) and
accepted-nonsense (a 2xx with a confident answer to a request that is
nonsense).

Classes: invalid-json, wrong-types, empty-prompt, huge-prompt (openai),
invalid-utf8, nan-inf, wrong-shape (kserve), unknown-model, missing-fields,
max-tokens (openai). Each sends --per-class requests, its variants in turn;
the same --seed sends the same requests.

It prints its plan, then a table per class and the findings, and writes
fuzz.json to --out. Exit codes: 0 no bad finding, 3 bad findings, 2 bad
input, 4 interrupted or out of time without a bad finding.`,
		Example: `  gonogo chaos fuzz --target http://127.0.0.1:8000 --protocol openai --out results/fuzz
  gonogo chaos fuzz --target http://127.0.0.1:8000 --protocol kserve --model resnet \
    --classes nan-inf,wrong-shape --per-class 10 --out results/fuzz
  gonogo chaos fuzz --target http://127.0.0.1:8000 --protocol openai \
    --requests prod-requests.jsonl --seed 7 --out results/fuzz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case fo.Target == "":
				return usageError("--target is required: the endpoint's base URL (http://127.0.0.1:8000)")
			case fo.Protocol != fuzz.ProtocolOpenAI && fo.Protocol != fuzz.ProtocolKServe:
				return usageError("--protocol %q: want openai or kserve", fo.Protocol)
			case out == "":
				return usageError("--out is required: the results directory fuzz.json goes to")
			// fuzz.Options reads 0 as the default: a flag must not
			case fo.PerClass < 1 || fo.PerClass > fuzz.MaxPerClass:
				return usageError("--per-class %d: want 1..%d", fo.PerClass, fuzz.MaxPerClass)
			case fo.Concurrency < 1 || fo.Concurrency > fuzz.MaxConcurrency:
				return usageError("--concurrency %d: want 1..%d", fo.Concurrency, fuzz.MaxConcurrency)
			case fo.Timeout <= 0:
				return usageError("--timeout %v: want > 0", fo.Timeout)
			case fo.MaxDuration <= 0:
				return usageError("--max-duration %v: want > 0", fo.MaxDuration)
			}
			var err error
			if fo.Classes, err = fuzz.ParseClasses(classes, fo.Protocol); err != nil {
				return fuzzInputError(err)
			}
			if requests != "" {
				if fo.Seeds, err = fuzz.ReadSeeds(requests, fo.Protocol); err != nil {
					return usageError("--requests %s: %v", requests, err)
				}
				fo.SeedSource = requests
			}
			if err := fo.Check(); err != nil {
				return fuzzInputError(err)
			}
			fmt.Fprint(o.Out, fo.Plan())
			rep, err := fuzz.Run(cmd.Context(), fo)
			switch {
			case errors.Is(err, fuzz.ErrUnreachable):
				return usageError("%v (check --target, or start the simulated server: gonogo fixture serve --addr 127.0.0.1:8000)", err)
			case err != nil:
				return fuzzInputError(err)
			}
			fmt.Fprintln(o.Out)
			if err := rep.WriteTable(o.Out); err != nil {
				return err
			}
			dir := rundir.Dir(out)
			if err := rep.Write(dir); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "wrote %s\n", dir.Path(rundir.Fuzz))
			switch {
			case rep.Bad() > 0:
				return &exitError{code: exitNoGo, err: fmt.Errorf("chaos fuzz: %d bad answers in %d findings", rep.Bad(), len(rep.Findings))}
			case rep.Stopped != "":
				return &exitError{code: exitInconclusive, err: fmt.Errorf("chaos fuzz: stopped early (%s) after %d requests, without a bad finding", rep.Stopped, rep.Sent)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&fo.Target, "target", "", "base URL of the endpoint (required)")
	f.StringVar(&fo.Protocol, "protocol", "", "openai or kserve (required)")
	f.StringVar(&fo.Model, "model", "", "model of the built-in requests (kserve: required without --requests; openai: default the first of /v1/models)")
	f.StringVar(&requests, "requests", "", "request log (JSON lines) whose requests to mutate instead of the built-in ones")
	f.IntVar(&fo.PerClass, "per-class", fuzz.DefaultPerClass, "requests per class")
	f.StringVar(&classes, "classes", "", "comma-separated classes to send (default: every class of the protocol)")
	f.DurationVar(&fo.Timeout, "timeout", fuzz.DefaultTimeout, "per-request timeout; no answer by then is a hang")
	f.Uint64Var(&fo.Seed, "seed", 1, "seed of the mutations")
	f.IntVar(&fo.Concurrency, "concurrency", fuzz.DefaultConcurrency, "requests in flight at most")
	f.DurationVar(&fo.MaxDuration, "max-duration", fuzz.DefaultMaxDuration, "bound of the whole run")
	f.StringVar(&out, "out", "", "results directory for fuzz.json (required)")
	return cmd
}

// fuzzInputError makes a chaos.InputError a usage error naming its flag.
func fuzzInputError(err error) error {
	var ie *chaos.InputError
	switch {
	case errors.As(err, &ie) && ie.Field != "":
		return usageError("--%s: %s", ie.Field, ie.Msg)
	case errors.Is(err, chaos.ErrInput):
		return &exitError{code: exitUsage, err: err}
	}
	return err
}
