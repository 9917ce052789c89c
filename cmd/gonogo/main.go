// Command gonogo decides whether a new version of an ML inference service
// may take production traffic: it load-tests endpoints without coordinated
// omission, measures LLM streaming metrics, and turns thresholds into an exit
// code a pipeline can act on.
//
// This package is cobra wiring only: each command parses its flags, calls
// the packages that do the work, and maps errors to exit codes (0 success,
// 1 runtime error, 2 bad usage or input, 3 no-go, 4 inconclusive).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/extensions"
	_ "github.com/gonogo-dev/gonogo/extensions/all" // register every protocol
	"github.com/gonogo-dev/gonogo/extensions/container"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// Exit codes shared by every command (DESIGN.md).
const (
	exitOK           = 0
	exitRuntime      = 1
	exitUsage        = 2
	exitNoGo         = 3
	exitInconclusive = 4
)

// options are what every command shares: where it writes, and how it tells
// whether a person is watching.
type options struct {
	Out, Err io.Writer
	// Args is the command line as typed, program name first: the command
	// a run records (its credentials redacted).
	Args []string
	// Interactive is true when Err is a terminal and not under CI: only
	// then are live progress lines drawn.
	Interactive bool
}

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is bad usage or input: exit code 2.
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var ee *exitError
	var ve *scenarios.ValidationError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ve),
		errors.Is(err, runner.ErrInput),
		errors.Is(err, container.ErrNoImage),
		errors.Is(err, analyze.ErrGates),
		errors.Is(err, chaos.ErrInput),
		errors.Is(err, extensions.ErrUnknownProtocol),
		errors.Is(err, extensions.ErrUnreachable):
		return exitUsage
	}
	return exitRuntime
}

// hint returns a "try:" line for errors a user can fix.
func hint(err error) string {
	switch {
	case errors.Is(err, extensions.ErrUnreachable):
		return "check --target, or start the simulated server: gonogo fixture serve --addr 127.0.0.1:8000"
	case errors.Is(err, extensions.ErrUnknownProtocol):
		return "gonogo load --help"
	}
	return ""
}

func newRootCmd(o *options) *cobra.Command {
	root := &cobra.Command{
		Use:   "gonogo",
		Short: "Decide whether a new inference service version may take production traffic",
		Long: `gonogo load-tests ML inference endpoints (OpenAI-compatible LLM servers,
KServe v2 tensor servers, plain HTTP) with open-model arrivals, measures
latency without coordinated omission and the LLM metrics that matter (TTFT,
inter-chunk gaps, TPOT, tokens/s), and turns thresholds into an exit code.

Exit codes: 0 go/success, 1 runtime error, 2 bad usage or input, 3 no-go,
4 inconclusive.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(o.Out)
	root.SetErr(o.Err)
	root.AddCommand(newLoadCmd(o), newSweepCmd(o), newShadowCmd(o), newAnalyzeCmd(o), newTraceCmd(o), newFixtureCmd(o), newDemoCmd(o), newVersionCmd(o))
	root.AddCommand(newVerdictCmd(o), newReportCmd(o))
	root.AddCommand(newHistoryCmd(o))
	root.AddCommand(newImportCmd(o), newMarkCmd(o), newCompareCmd(o))
	root.AddCommand(newExportCmd(o))
	root.AddCommand(newChaosCmd(o), newRolloutCmd(o), newABCmd(o))
	// Without a command, the help; an unknown one is bad usage (exit 2).
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError("unknown command %q for gonogo (gonogo --help lists them)", args[0])
		}
		return cmd.Help()
	}
	usageArgs(root)
	return root
}

// usageArgs makes a wrong number of arguments a usage error (exit 2), as
// flag errors are, for c and every command below it.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// run executes the CLI with args and returns the exit code.
func run(ctx context.Context, o *options, args []string) int {
	o.Args = append([]string{"gonogo"}, args...)
	root := newRootCmd(o)
	root.SetArgs(args)
	root.SetContext(ctx)
	// cobra reports flag errors as plain errors: they are usage errors.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	err := root.Execute()
	if err != nil {
		fmt.Fprintln(o.Err, "error:", err)
		if h := hint(err); h != "" {
			fmt.Fprintln(o.Err, "try:", h)
		}
	}
	return exitCode(err)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := &options{Out: os.Stdout, Err: os.Stderr, Interactive: interactive(os.Stderr)}
	go func() {
		// The first signal stops gracefully: no new arrivals, requests in
		// flight get their gracefulStop, results are written. Restoring the
		// default handler lets a second signal end the process at once.
		<-ctx.Done()
		stop()
		fmt.Fprintln(o.Err, "\nstopping: no new requests; waiting for those in flight, then writing results (interrupt again to quit now)")
	}()
	os.Exit(run(ctx, o, os.Args[1:]))
}
