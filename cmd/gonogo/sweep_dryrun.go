package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
	"github.com/gonogo-dev/gonogo/runner"
)

// writeSweepDryRun prints what `gonogo sweep` would do, sending nothing:
// the first stage's workload and first n requests (writeDryRun), then the
// plan — the stages with their rates or the auto procedure, their length
// and warm-ups, how each stage is judged, the server metrics read, the
// advice asked for and where the results and the history go.
func writeSweepDryRun(w io.Writer, cfg runner.SweepConfig, copts extensions.Options, historyPath string, n int) error {
	kind, rate, vus := analyze.StageRate, 0.0, 0
	if cfg.Auto {
		kind, vus = analyze.StageSynchronous, 1
	} else {
		rate = cfg.Rates[0]
	}
	file, err := runner.StageFile(cfg, kind, rate, vus)
	if err != nil {
		return err
	}
	if err := writeDryRun(w, file, cfg.Protocol, runner.RedactURL(cfg.Target), copts, n); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nsweep plan (the requests above are stage 1's):\n")
	total := time.Duration(0)
	if cfg.Auto {
		warm := runner.ClosedWarmup(cfg.Stage)
		fmt.Fprintf(w, "  stage 1: synchronous, 1 request in flight, for %s after a %s warm-up\n", cfg.Stage, warm)
		fmt.Fprintf(w, "  stage 2: throughput, %d requests in flight, for %s after a %s warm-up\n", cfg.MaxConcurrency, cfg.Stage, warm)
		fmt.Fprintf(w, "  stages 3–%d: %d rates from the synchronous to the saturating rate (stages 1 and 2), %s spacing, %s each\n",
			cfg.AutoRates+2, cfg.AutoRates, runner.AutoSpacing, cfg.Stage)
		total = time.Duration(cfg.AutoRates+2)*cfg.Stage + 2*warm
	} else {
		for i, r := range cfg.Rates {
			fmt.Fprintf(w, "  stage %d: %s/s for %s\n", i+1, numfmt.Sig(r), cfg.Stage)
		}
		total = time.Duration(len(cfg.Rates)) * cfg.Stage
	}
	fmt.Fprintf(w, "  about %s in all\n", total)
	slo := "the default SLO"
	if cfg.GatesPath != "" {
		slo = "the gates file " + cfg.GatesPath
	}
	fmt.Fprintf(w, "  each stage judged by %s: %s\n", slo, strings.Join(analyze.SweepSLORules(cfg.GatesPath), "; "))
	fmt.Fprintf(w, "  knee: %s\n", analyze.KneeDefinition)
	if cfg.ServerMetrics != "" {
		fmt.Fprintf(w, "  server metrics: %s every %s\n", runner.RedactURL(cfg.ServerMetrics), cfg.ScrapeEvery)
	} else {
		fmt.Fprintf(w, "  server metrics: none read\n")
	}
	if cfg.TargetRatePerSec > 0 {
		fmt.Fprintf(w, "  advice: replicas for %s/s with %s headroom (%s)\n", numfmt.Sig(cfg.TargetRatePerSec), numfmt.Percent(cfg.Headroom), analyze.AdviceFormula)
	}
	fmt.Fprintf(w, "  results: %s (not created)\n", cfg.Dir)
	if historyPath != "" {
		fmt.Fprintf(w, "  history: a complete sweep is recorded in %s\n", historyPath)
	}
	return nil
}
