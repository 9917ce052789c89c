package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/chaos/experiment"
	"github.com/gonogo-dev/gonogo/chaos/httpfault"
	"github.com/gonogo-dev/gonogo/rundir"
)

func newChaosCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Game days: faults during load, a steady-state hypothesis, faults that cannot be left behind",
		Long: `Chaos experiments: gonogo generates the load, injects the faults, judges a
steady-state hypothesis (the same gates as verdicts) over its live windows
before, during and after them, and writes the journal (experiment.json).
Every fault is written to the results directory's ledger before it is
applied and carries a lease: a guard process reverts what a killed run
left, and gonogo chaos revert does it by hand. See docs/chaos.md.`,
	}
	cmd.AddCommand(newChaosRunCmd(o), newChaosProxyCmd(o), newChaosRevertCmd(o), newChaosGuardCmd(o), newChaosFillCmd(o), newChaosFuzzCmd(o))
	return cmd
}

func newChaosRunCmd(o *options) *cobra.Command {
	var out string
	var dryRun, allowTarget, quiet bool
	cmd := &cobra.Command{
		Use:   "run EXPERIMENT.yaml",
		Short: "Run a chaos experiment: load, faults on a timeline, the hypothesis judged live",
		Long: `Run a chaos experiment file: start its fault proxies and its load, check the
steady-state hypothesis before the method, apply and revert the method's
faults on time while checking it at every interval, stop at once when an
abort condition fires, revert everything whatever ends the run (the end,
an abort, SIGINT, SIGTERM), run the rollbacks, and write the journal
(experiment.json) beside the run's results.

Exit codes: 0 the hypothesis held, 3 it deviated, 4 aborted, interrupted or
not enough data to judge, 2 bad input (file:line: field), 1 runtime error.`,
		Example: `  gonogo chaos run experiments/ttft-under-slow-gpu.yaml --out results/gameday
  gonogo chaos run experiments/ttft-under-slow-gpu.yaml --dry-run
  gonogo report results/gameday --html report.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			x, err := experiment.LoadFile(args[0])
			if err != nil {
				return err
			}
			if dryRun {
				experiment.WriteTimeline(o.Out, x)
				return nil
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding gonogo to start the fault guard: %w", err)
			}
			j, err := experiment.Run(cmd.Context(), x, experiment.Options{
				Dir: out, Out: o.Out, Err: o.Err, Progress: o.Interactive && !quiet, Command: o.Args,
				AllowTarget: allowTarget, Filler: exe,
				Guard: func(dir rundir.Dir) error {
					_, err := chaos.SpawnGuard(exe, []string{"chaos", "guard", "--ledger", string(dir)}, dir)
					return err
				},
			})
			if err != nil {
				return err
			}
			if code := j.ExitCode(); code != exitOK {
				return &exitError{code: code, err: fmt.Errorf("experiment %s: hypothesis %s: %s", j.Status, j.Verdict, j.Reason)}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&out, "out", "", "results directory (default results/chaos-<time>)")
	fs.BoolVar(&dryRun, "dry-run", false, "check the experiment and print its timeline; inject nothing, send nothing")
	fs.BoolVar(&allowTarget, "allow-target", false, "let load, faults and actions reach hosts other than loopback and local Docker networks")
	fs.BoolVarP(&quiet, "quiet", "q", false, "no live progress line")
	return cmd
}

func newChaosProxyCmd(o *options) *cobra.Command {
	var listen, upstream, admin, tokenFile string
	var seed int64
	var allowTarget, allowRemote bool
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Serve an HTTP/SSE fault proxy with an admin API to add and remove faults live",
		Long: `Serve a fault proxy in front of an inference service: every request goes
to --upstream, and the faults added through the admin API act on it per
request (selectors by path, method, header, model and percentage): delays,
errors, aborts, SSE stream faults, body rewrites, bandwidth.

The admin API (--admin, loopback by default) needs the bearer token of
--token-file on every call; refused calls are logged:

  GET    /v1/faults             the faults and what they did
  POST   /v1/faults             add one (JSON, see docs/chaos.md)
  DELETE /v1/faults/{id}        remove it
  POST   /v1/faults/{id}/renew  renew its lease

A fault added with a lease is removed by the proxy itself when nobody
renews it: an experiment that died leaves nothing behind.`,
		Example: `  gonogo chaos proxy --listen 127.0.0.1:9000 --upstream http://127.0.0.1:8000 --admin 127.0.0.1:9001 --token-file token
  curl -H "Authorization: Bearer $(cat token)" -d '{"match":{"percent":5},"error":{"status":503}}' 127.0.0.1:9001/v1/faults`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if upstream == "" {
				return usageError("--upstream: the service the proxy forwards to (http://127.0.0.1:8000)")
			}
			if !allowTarget {
				if err := chaos.CheckTarget(upstream); err != nil {
					return usageError("--upstream: %v", errors.Unwrap(err))
				}
			}
			for _, a := range []struct{ flag, v string }{{"--listen", listen}, {"--admin", admin}} {
				if a.v == "" {
					continue
				}
				if err := chaos.CheckListen(a.v, allowRemote); err != nil {
					return usageError("%s: %v", a.flag, errors.Unwrap(err))
				}
			}
			var token string
			if admin != "" {
				if tokenFile == "" {
					return usageError("--admin needs --token-file: the admin API takes no call without its bearer token")
				}
				var err error
				if token, err = httpfault.ReadToken(tokenFile); err != nil {
					return usageError("--token-file: %v", errors.Unwrap(err))
				}
			}
			p, err := httpfault.New(upstream, httpfault.WithSeed(seed))
			if err != nil {
				return usageError("--upstream: %v", errors.Unwrap(err))
			}
			return serveProxy(cmd.Context(), o, p, listen, admin, token)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&listen, "listen", "127.0.0.1:9000", "address the proxy serves on")
	fs.StringVar(&upstream, "upstream", "", "base URL of the service the proxy forwards to")
	fs.StringVar(&admin, "admin", "127.0.0.1:9001", `address of the admin API ("" serves none)`)
	fs.StringVar(&tokenFile, "token-file", "", "file whose first line is the admin API's bearer token")
	fs.Int64Var(&seed, "seed", 1, "seed of the per-request draws (percentages, delays)")
	fs.BoolVar(&allowTarget, "allow-target", false, "let --upstream be a host other than loopback or a local Docker network")
	fs.BoolVar(&allowRemote, "allow-remote", false, "let --listen and --admin be addresses other than loopback")
	return cmd
}

// serveProxy serves p and its admin API until ctx ends.
func serveProxy(ctx context.Context, o *options, p *httpfault.Proxy, listen, admin, token string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usageError("--listen: %v", err)
	}
	type server interface {
		Serve(net.Listener) error
		Shutdown(context.Context) error
	}
	servers := []server{httpfault.NewServer(p)}
	lns := []net.Listener{ln}
	fmt.Fprintf(o.Out, "fault proxy: http://%s → %s\n", ln.Addr(), p.Upstream())
	if admin != "" {
		aln, err := net.Listen("tcp", admin)
		if err != nil {
			ln.Close()
			return usageError("--admin: %v", err)
		}
		servers = append(servers, &http.Server{Handler: httpfault.AdminHandler(p, token, o.Err), ReadHeaderTimeout: 10 * time.Second})
		lns = append(lns, aln)
		fmt.Fprintf(o.Out, "admin API: http://%s/v1/faults (bearer token required)\n", aln.Addr())
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(lns[i]) }()
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func newChaosRevertCmd(o *options) *cobra.Command {
	var ledger string
	cmd := &cobra.Command{
		Use:   "revert --ledger DIR",
		Short: "Revert every fault a chaos run's ledger still shows in force",
		Long: `Revert what a crashed or killed chaos run left in force: every fault its
ledger (DIR/chaos-ledger.ndjson) shows applied and not reverted — a paused
container, lowered limits, a fault on an external proxy, a knob changed by
an action. Each revert is written to the ledger, so running it again
finds nothing to do. Exit 1 when a fault could not be reverted (it stays
in the ledger, to be tried again).`,
		Example: `  gonogo chaos revert --ledger results/gameday`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ledger == "" {
				return usageError("--ledger: the results directory of the chaos run")
			}
			dir := rundir.Dir(ledger)
			if !dir.Exists(rundir.Ledger) {
				return usageError("--ledger %s: no %s there", ledger, rundir.Ledger)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			res, err := chaos.RevertPending(ctx, dir, chaos.ByRevert)
			for _, e := range res.Reverted {
				fmt.Fprintf(o.Out, "reverted %s (%s on %s, applied %s)\n", e.ID, e.Kind, e.Target, e.Time.Format(time.RFC3339))
			}
			for _, f := range res.Failed {
				fmt.Fprintf(o.Err, "could not revert %s (%s on %s): %v\n", f.ID, f.Kind, f.Target, f.Err)
			}
			switch {
			case err != nil:
				return err
			case len(res.Failed) > 0:
				return fmt.Errorf("%d faults could not be reverted; they stay in the ledger", len(res.Failed))
			case len(res.Reverted) == 0:
				fmt.Fprintf(o.Out, "nothing to revert: every fault in %s is reverted\n", dir.Path(rundir.Ledger))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&ledger, "ledger", "", "results directory of the chaos run")
	return cmd
}

// newChaosGuardCmd is the guard process a chaos run starts beside itself.
func newChaosGuardCmd(o *options) *cobra.Command {
	var ledger string
	cmd := &cobra.Command{
		Use:    "guard --ledger DIR",
		Short:  "Watch a chaos run's lease and revert its faults when it lapses (started by chaos run)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ledger == "" {
				return usageError("--ledger: the results directory of the chaos run")
			}
			return chaos.Guard(cmd.Context(), rundir.Dir(ledger), o.Out)
		},
	}
	cmd.Flags().StringVar(&ledger, "ledger", "", "results directory of the chaos run")
	return cmd
}
