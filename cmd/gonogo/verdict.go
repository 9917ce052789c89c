package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/runner"
)

type verdictFlags struct {
	gates         string
	baseline      string
	baselineLabel []string
	shadow        string
	history       string
	asJSON        bool
	serve         string
	serveFor      time.Duration
}

func newVerdictCmd(o *options) *cobra.Command {
	var f verdictFlags
	cmd := &cobra.Command{
		Use:   "verdict --gates FILE [--baseline DIR|last-go] DIR",
		Short: "Judge a run against gates (and a baseline): go, no-go or inconclusive",
		Long: `Evaluate the gates of a gates file (docs/gates.md) against the run in DIR:
absolute gates (k6 threshold syntax), goodput gates (share of requests
meeting every SLO; needs --samples), relative gates against a baseline run
(Mann–Whitney U test with Cliff's delta for latency distributions, a
two-proportion test for error rates, ratios for throughput) and divergence
gates over a shadow run's divergence.json (DIR's, or --shadow DIR's).

Writes DIR/verdict.json, records the run and its verdict in the run history,
prints the verdict with its reasons and exits 0 (go), 3 (no-go) or
4 (inconclusive). --baseline last-go takes the latest run with a go verdict
from the history, for the same scenario.

With --serve ADDR it then serves DIR/verdict.json (re-read on every request)
for Argo Rollouts' web metric provider (GET /verdict, always 200, jsonPath
{$.verdict}) and Flagger webhooks (any method on /gate: 200 when go, 412
otherwise); see docs/integrations.md.`,
		Example: `  gonogo verdict --gates gates.yaml --baseline results/nightly-prev results/nightly
  gonogo verdict --gates gates.yaml --baseline last-go results/nightly
  gonogo verdict --gates gates.yaml --baseline results/v1 --shadow results/shadow results/v2
  gonogo verdict --gates gates.yaml results/canary --serve 127.0.0.1:9090`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerdict(cmd.Context(), o, f, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.gates, "gates", "", "gates file (YAML, docs/gates.md)")
	fs.StringVar(&f.baseline, "baseline", "", "baseline run directory, or last-go for the latest go run in the history")
	fs.StringArrayVar(&f.baselineLabel, "baseline-label", nil, "with --baseline last-go: only runs with this label KEY=VALUE, e.g. service=chat (repeatable)")
	fs.StringVar(&f.shadow, "shadow", "", "shadow run directory whose divergence.json the divergence gates read (default: DIR's own)")
	fs.StringVar(&f.history, "history", defaultHistory, `run history database ("" to not record)`)
	fs.BoolVar(&f.asJSON, "json", false, "print verdict.json instead of text")
	fs.StringVar(&f.serve, "serve", "", "after judging, serve the verdict over HTTP on ADDR (host:port)")
	fs.DurationVar(&f.serveFor, "serve-for", 24*time.Hour, "stop serving after this long")
	return cmd
}

func runVerdict(ctx context.Context, o *options, f verdictFlags, dir string) error {
	if f.gates == "" {
		return usageError("--gates: required: the gates file (docs/gates.md)")
	}
	gates, err := analyze.LoadGates(f.gates)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	baseLabels, err := parseLabels("--baseline-label", f.baselineLabel)
	if err != nil {
		return err
	}
	var ln net.Listener
	if f.serve != "" { // before judging: a busy port must not hide the verdict's exit code
		if ln, err = net.Listen("tcp", f.serve); err != nil {
			return usageError("--serve %s: %v", f.serve, err)
		}
		defer ln.Close()
	}
	// A baseline directory loads beside the run: decoding two long runs'
	// interval logs is most of a verdict's time.
	type loaded struct {
		run  *reports.Run
		data *analyze.RunData
		err  error
	}
	baseDir := make(chan loaded, 1)
	if f.baseline != "" && f.baseline != "last-go" {
		go func() {
			r, d, err := loadRunDir(f.baseline)
			baseDir <- loaded{r, d, err}
		}()
	}
	run, cand, err := loadRunDir(dir)
	if err != nil {
		return err
	}
	if f.shadow != "" {
		if cand.Divergence, err = reports.ReadDivergence(f.shadow); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--shadow: %w", err)}
		}
	}
	var base *analyze.RunData
	switch f.baseline {
	case "":
	case "last-go":
		if base, err = lastGoBaseline(o, f.history, lastGoFilter(gates.Scenario, run, baseLabels)); err != nil {
			return err
		}
	default:
		l := <-baseDir
		if l.err != nil {
			return l.err
		}
		warnBaseline(o, run, l.run)
		base = l.data
	}
	v, err := analyze.Judge(gates, cand, base)
	if err != nil {
		return err
	}
	if err := runner.WriteVerdict(rundir.Dir(dir), v); err != nil {
		return err
	}
	if f.history != "" {
		if err := runner.RecordVerdict(f.history, run, cand, v); err != nil {
			fmt.Fprintf(o.Err, "warning: run history %s: %v\n", f.history, err)
		}
	}
	if f.asJSON {
		err = analyze.WriteVerdict(o.Out, v)
	} else {
		err = reports.WriteVerdictText(o.Out, v)
		fmt.Fprintf(o.Out, "verdict: %s\n", filepath.Join(dir, rundir.Verdict))
	}
	if err != nil {
		return err
	}
	if ln != nil {
		if err := serveVerdict(ctx, o, ln, f.serveFor, dir); err != nil {
			return err
		}
	}
	if code := v.Verdict.ExitCode(); code != exitOK {
		return &exitError{code: code, err: fmt.Errorf("verdict: %s", v.Verdict)}
	}
	return nil
}

// serveVerdict serves dir's verdict.json on ln until ctx ends or d passes.
func serveVerdict(ctx context.Context, o *options, ln net.Listener, d time.Duration, dir string) error {
	read := func(w http.ResponseWriter) (*analyze.Verdict, []byte, bool) {
		b, err := os.ReadFile(filepath.Join(dir, rundir.Verdict))
		var v analyze.Verdict
		if err == nil {
			err = json.Unmarshal(b, &v)
		}
		if err != nil {
			http.Error(w, "no verdict: "+err.Error(), http.StatusServiceUnavailable)
			return nil, nil, false
		}
		return &v, b, true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /verdict", func(w http.ResponseWriter, _ *http.Request) {
		if _, b, ok := read(w); ok {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		}
	})
	mux.HandleFunc("/gate", func(w http.ResponseWriter, _ *http.Request) {
		v, b, ok := read(w)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if v.Verdict != analyze.Go {
			w.WriteHeader(http.StatusPreconditionFailed)
		}
		_, _ = w.Write(b)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(o.Err, "serving the verdict on http://%s/verdict (Argo Rollouts) and /gate (Flagger) for %s; interrupt to stop\n", ln.Addr(), d)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
