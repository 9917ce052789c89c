package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/rollout"
	"github.com/gonogo-dev/gonogo/rollout/haproxy"
	"github.com/gonogo-dev/gonogo/store"
)

var _ rollout.Router = (*haproxy.Router)(nil)

func newRolloutCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Move traffic to a new version step by step, judged live, rolled back on its own",
		Long: `A rollout controller: a routing proxy in front of a stable and a canary
version (or an external HAProxy it drives), canary steps or blue-green,
every step judged by gates on the live traffic it routes, automatic
rollback, state kept in an SQLite store so that a restart resumes.
See docs/rollout.md.`,
	}
	cmd.AddCommand(newRolloutServeCmd(o))
	for _, op := range []string{"status", "promote", "pause", "resume", "abort", "undo", "set-weight"} {
		cmd.AddCommand(newRolloutOpCmd(o, op))
	}
	return cmd
}

// defaultStore is the rollout store beside the run history.
func defaultStore() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "gonogo", "rollouts.db")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "state", "gonogo", "rollouts.db")
	}
	return "rollouts.db"
}

func newRolloutServeCmd(o *options) *cobra.Command {
	var cfgPath, storePath, out, tokenFile, router, socket, backend string
	var allowRemote, exitOnEnd bool
	cmd := &cobra.Command{
		Use:   "serve --config ROLLOUT.yaml",
		Short: "Serve the routing proxy and the admin API, and drive the rollout",
		Long: `Serve the rollout's proxy (listen, default 127.0.0.1:8080) and admin API
(admin.listen, default 127.0.0.1:8081; bearer token from admin.tokenFile or
--token-file), take the strategy's steps, judge each on the live window and
roll back on a failure. A rollout of the same name in the store resumes at
its step with its weights and its sticky salt.

Exit codes (with --exit-on-end, or when interrupted): 0 promoted, 3 rolled
back or aborted, 4 interrupted before the end, 2 bad input, 1 runtime error.`,
		Example: `  gonogo rollout serve --config rollout.yaml --exit-on-end
  gonogo rollout serve --config rollout.yaml --router haproxy --haproxy-socket unix:/run/haproxy/admin.sock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usageError("--config is required")
			}
			cfg, err := rollout.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			if tokenFile == "" {
				tokenFile = cfg.Admin.TokenFile
				if tokenFile != "" && !filepath.IsAbs(tokenFile) {
					tokenFile = filepath.Join(filepath.Dir(cfgPath), tokenFile)
				}
			}
			if tokenFile == "" {
				return usageError("the admin API needs a bearer token: admin.tokenFile in %s, or --token-file", cfgPath)
			}
			token, err := rollout.ReadToken(tokenFile)
			if err != nil {
				return err
			}
			var rt rollout.Router
			switch router {
			case "", "proxy":
			case "haproxy":
				if socket == "" {
					return usageError("--router haproxy needs --haproxy-socket")
				}
				h := haproxy.New(socket, backend)
				if err := h.Check(cmd.Context()); err != nil {
					return err
				}
				rt = h
			default:
				return usageError("--router: want proxy or haproxy (got %q)", router)
			}
			db, err := store.Open(storePath)
			if err != nil {
				return err
			}
			defer db.Close()
			if out == "" {
				out = filepath.Join("results", "rollout-"+cfg.Name+"-"+time.Now().Format("20060102-150405"))
			}
			fmt.Fprintf(o.Out, "rollout %s: %s strategy, %d backends, analysis every %s over %s; store %s; results %s\n",
				cfg.Name, strategyName(cfg), len(cfg.Backends), cfg.Analysis.Interval.D(), cfg.Analysis.Window.D(), storePath, out)
			st, err := rollout.Serve(cmd.Context(), rollout.ServeOptions{
				Config: cfg, Store: db, Token: token, AllowRemote: allowRemote, Router: rt,
				Dir: out, Command: o.Args, ExitOnEnd: exitOnEnd, Log: o.Err,
				Ready: func(p, a string) { fmt.Fprintf(o.Out, "proxy on http://%s, admin API on http://%s\n", p, a) },
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "rollout %s: %s at step %d: %s\nresults: %s (gonogo report %s --html report.html)\n", cfg.Name, st.Phase, st.Step, st.Message, out, out)
			if code := rollout.ExitCode(st.Phase); code != exitOK {
				return &exitError{code: code, err: fmt.Errorf("rollout %s %s", cfg.Name, st.Phase)}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfgPath, "config", "", "the rollout file (docs/rollout.md)")
	fs.StringVar(&storePath, "store", defaultStore(), "the rollout store (SQLite)")
	fs.StringVar(&out, "out", "", "results directory: the transitions (events.ndjson), the routed traffic (latency.hlog, timeline, run.json) (default results/rollout-<name>-<time>)")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the admin API's bearer token (default admin.tokenFile)")
	fs.StringVar(&router, "router", "proxy", "what moves traffic: proxy (the embedded one) or haproxy (driven through its runtime API, beside the proxy)")
	fs.StringVar(&socket, "haproxy-socket", "", "HAProxy runtime API: unix:/path/admin.sock or 127.0.0.1:9999")
	fs.StringVar(&backend, "haproxy-backend", "inference", "the HAProxy backend whose servers are the rollout's backends")
	fs.BoolVar(&allowRemote, "allow-remote", false, "let the proxy and the admin API listen beyond loopback")
	fs.BoolVar(&exitOnEnd, "exit-on-end", false, "exit once the rollout is promoted or rolled back")
	return cmd
}

func strategyName(cfg *rollout.Config) string {
	if cfg.Strategy.BlueGreen != nil {
		return "blue-green"
	}
	return fmt.Sprintf("canary (%d steps)", len(cfg.Strategy.Canary.Steps))
}

func newRolloutOpCmd(o *options, op string) *cobra.Command {
	var admin, tokenFile, reason string
	var full bool
	use, args := op, cobra.NoArgs
	if op == "set-weight" {
		use, args = "set-weight PERCENT", cobra.ExactArgs(1)
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: opShort[op],
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tokenFile == "" {
				return usageError("--token-file is required")
			}
			token, err := rollout.ReadToken(tokenFile)
			if err != nil {
				return err
			}
			c := &rollout.Client{URL: admin, Token: token}
			var st *rollout.Status
			if op == "status" {
				st, err = c.Status(cmd.Context())
			} else {
				command := rollout.Command{Op: op, Full: full, Reason: reason, Actor: "cli"}
				if op == "set-weight" {
					w, perr := strconv.ParseFloat(args[0], 64)
					if perr != nil {
						return usageError("set-weight: %q is not a percentage", args[0])
					}
					command.Weight = w
				}
				st, err = c.Do(cmd.Context(), command)
			}
			if err != nil {
				if ae, ok := err.(*rollout.APIError); ok && ae.Status/100 == 4 {
					return &exitError{code: exitUsage, err: err}
				}
				return err
			}
			enc := json.NewEncoder(o.Out)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&admin, "admin", "http://"+rollout.DefaultAdminListen, "the rollout's admin API")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the admin API's bearer token")
	if op != "status" {
		fs.StringVar(&reason, "reason", "", "why, for the audit log")
	}
	if op == "promote" {
		fs.BoolVar(&full, "full", false, "promote to the end at once, skipping the remaining steps")
	}
	return cmd
}

var opShort = map[string]string{
	"status":     "Print the rollout's phase, step, weights, counts and last judgement",
	"promote":    "Skip the current step (--full: all of them)",
	"pause":      "Hold the rollout at its step (analysis still rolls back on failure)",
	"resume":     "Continue a paused rollout",
	"abort":      "Send all traffic back to stable now",
	"undo":       "Send all traffic back to stable after a promotion",
	"set-weight": "Set the canary's weight by hand (pauses the rollout)",
}
