package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/container"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/runner"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// loadJob is everything a load run needs, however it was asked for.
type loadJob struct {
	File     *scenarios.File
	Protocol string
	Target   string
	Client   extensions.Options // per-scenario request blocks fill what is zero
	Out      string             // results directory; "" picks one
	// Command is the command line as typed, program name first.
	Command     []string
	MetricsAddr string
	// Outputs receive live metrics every OutInterval and the run's events
	// at its end (--out-remote-write, --out-otlp, --grafana-url).
	Outputs     []outputs.Output
	OutInterval time.Duration
	Samples     bool
	Quiet       bool
	Labels      map[string]string
	// History is the run history database the run is recorded in; ""
	// records nothing.
	History string
	// Gates are judged during and after the run, against Baseline.
	Gates    *analyze.Gates
	Baseline *analyze.RunData
	// Preflight says how the target is checked before the run.
	Preflight runner.Preflight
	// Shadow, when set, mirrors every request to secondary and candidate
	// versions and stores every answer (gonogo shadow).
	Shadow *runner.Shadow
	// Percentiles are those the summary shows (--percentiles); SLOs are
	// counted for goodput besides the gates' (--slo).
	Percentiles []float64
	SLOs        []analyze.SLO
}

// runLoad runs a load job with the runner and maps its outcome to an
// error carrying the exit code: nil for a go, 3 for a no-go (a threshold
// or a critical gate failed), 4 for an inconclusive run (interrupted,
// aborted, too little data).
func runLoad(ctx context.Context, o *options, job *loadJob) error {
	r, err := runner.New(runner.Config{
		File: job.File, Protocol: job.Protocol, Target: job.Target, Client: job.Client,
		Dir: job.Out, Command: job.Command, Labels: job.Labels, Samples: job.Samples,
		MetricsAddr: job.MetricsAddr, Outputs: job.Outputs, OutputInterval: job.OutInterval, Gates: job.Gates, Baseline: job.Baseline, History: job.History,
		Preflight: job.Preflight, Shadow: job.Shadow, Percentiles: job.Percentiles, SLOs: job.SLOs,
		Out: o.Out, Err: o.Err, Progress: o.Interactive && !job.Quiet,
	})
	if err != nil {
		return err
	}
	defer r.Close()
	res, err := r.Execute(ctx)
	if err != nil {
		return err
	}
	return outcome(res)
}

// outcome is the exit of a finished run: nil for a go, else an exitError
// with the decision's code and reason.
func outcome(res *runner.Result) error {
	d := res.Decision()
	if d == analyze.Go {
		return nil
	}
	return &exitError{code: d.ExitCode(), err: errors.New(res.Reason())}
}

// runningImage is a system under test started from a local image.
type runningImage struct {
	url  string
	stop func()
}

// startImage starts image as the system under test and prints where.
func startImage(ctx context.Context, o *options, image string, port int) (*runningImage, error) {
	fmt.Fprintf(o.Err, "starting %s …\n", image)
	sut, err := container.Start(ctx, image, port)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Err, "%s is up at %s\n", image, sut.URL)
	return &runningImage{url: sut.URL, stop: func() {
		if err := sut.Stop(); err != nil {
			fmt.Fprintf(o.Err, "warning: removing %s: %v\n", image, err)
		}
	}}, nil
}
