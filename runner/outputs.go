package runner

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	promout "github.com/gonogo-dev/gonogo/extensions/prometheus"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/outputs/annotations"
	"github.com/gonogo-dev/gonogo/reports"
	"github.com/gonogo-dev/gonogo/rundir"
	"github.com/gonogo-dev/gonogo/scenarios"
)

// EventStage and EventVerdict are the kinds of the timeline events a run
// adds to its journal's for its outputs (annotations.json, Grafana): a
// stage of a ramping scenario (a span), and the verdict or the thresholds'
// outcome at the end. They are not written to the journal.
const (
	EventStage   = "stage"
	EventVerdict = "verdict"
)

// runQuantilePcts are the percentiles of gonogo_run_quantile: run.json's.
var runQuantilePcts = []float64{50, 90, 95, 99, 99.9}

// runOutputs is what a run keeps for its outputs.
type runOutputs struct {
	collector *outputs.Collector
	driver    *outputs.Driver
	id        string
	names     []string
}

// startOutputs adds the outputs' collector to the sinks and starts
// pushing at Config.OutputInterval; call it once the recorder exists.
func (r *Run) startOutputs() {
	r.outs.id = reports.RunID(string(r.dir), r.zero)
	for _, p := range r.plans {
		r.outs.names = append(r.outs.names, p.Scenario.Name)
	}
	slices.Sort(r.outs.names)
	if len(r.cfg.Outputs) == 0 {
		return
	}
	r.outs.collector = outputs.NewCollector()
	r.sinks = append(r.sinks, r.outs.collector)
	r.outs.driver = outputs.Start(r.cfg.Outputs, r.cfg.OutputInterval, r.snapshot)
	for _, o := range r.cfg.Outputs {
		fmt.Fprintf(r.errw, "output: %s every %s\n", outputs.Describe(o), r.outputInterval())
	}
}

func (r *Run) outputInterval() time.Duration {
	if r.cfg.OutputInterval > 0 {
		return r.cfg.OutputInterval
	}
	return outputs.DefaultInterval
}

// stopOutputs stops the outputs of a run that ended without results; it
// does nothing after finishOutputs.
func (r *Run) stopOutputs() {
	if r.outs.driver != nil {
		r.outs.driver.Finish(nil, time.Second)
	}
}

// snapshot reads the run for its outputs: the collector's series, the
// requests in flight, and the windowed and the run's percentiles of every
// group /metrics serves.
func (r *Run) snapshot(now time.Time) *outputs.Snapshot {
	s := &outputs.Snapshot{Time: now, Start: r.zero, RunID: r.outs.id, Scenarios: r.outs.names, Labels: r.cfg.Labels}
	s.Series = r.outs.collector.Series()
	s.Series = append(s.Series, outputs.Series{Metric: outputs.InFlight, Value: float64(r.InFlight())})
	s.Series = append(s.Series, outputs.QuantileSeries(outputs.WindowQuantile, MetricsWindow, r.windowQuantiles())...)
	s.Series = append(s.Series, outputs.QuantileSeries(outputs.RunQuantile, 0, r.runQuantiles())...)
	return s
}

// runQuantiles are the percentiles of the run so far, overall and by
// scenario, of the metrics /metrics windows: run.json's values once the
// run has ended.
func (r *Run) runQuantiles() []promout.WindowQuantile {
	groups := []string{analyze.Overall}
	for _, n := range r.outs.names {
		groups = append(groups, analyze.ScenarioGroup(n))
	}
	var out []promout.WindowQuantile
	for _, g := range groups {
		for _, m := range windowMetrics {
			h := r.rec.Histogram(g, m)
			if h == nil {
				continue
			}
			for i, v := range h.ValueAtPercentilesSlice(runQuantilePcts) {
				out = append(out, promout.WindowQuantile{Group: g, Metric: m, QuantilePct: runQuantilePcts[i], Value: float64(v) / 1e6})
			}
		}
	}
	return out
}

// finishOutputs writes annotations.json and gives the outputs the run's
// last snapshot, with its timeline, then says what each output sent. It
// never fails the run: what goes wrong is a warning.
func (r *Run) finishOutputs(res *Result, end time.Time, status, why string) {
	events := r.timeline(res, end, status, why)
	if err := annotations.Write(r.dir, annotations.FromEvents(r.outs.id, events)); err != nil {
		fmt.Fprintf(r.errw, "warning: %s: %v\n", rundir.Annotations, err)
	}
	if r.outs.driver == nil {
		return
	}
	final := r.snapshot(time.Now())
	final.Final = &outputs.Final{Dir: string(r.dir), Events: events}
	outputs.WriteStats(r.errw, r.outs.driver.Finish(final, outputs.DefaultFinishTimeout))
}

// timeline is the run's story for its outputs, in time order: the run as
// a span (its status, scenarios and target), the stages of its ramping
// scenarios, the journal's events, and the verdict (or the thresholds'
// outcome) at the end.
func (r *Run) timeline(res *Result, end time.Time, status, why string) []gonogo.Event {
	runMsg := fmt.Sprintf("gonogo run %s (%s): %s against %s", r.outs.id, status, strings.Join(r.outs.names, ", "), RedactURL(r.cfg.Target))
	if why != "" && status != reports.StatusComplete {
		runMsg += ": " + why
	}
	start := r.zero
	events := []gonogo.Event{{Time: start, End: &end, Kind: gonogo.EventRun, Source: SourceRun, Message: runMsg}}
	events = append(events, r.stages(end)...)
	if f, err := os.Open(r.dir.Path(rundir.Events)); err == nil {
		journal, err := analyze.ReadEvents(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(r.errw, "warning: %s: %v (annotations without the journal)\n", rundir.Events, err)
		}
		events = append(events, journal...)
	}
	if res != nil && res.Run != nil {
		e := gonogo.Event{Time: end, Kind: EventVerdict, Source: SourceRun}
		switch d := res.Decision(); {
		case res.Verdict != nil:
			e.Message = fmt.Sprintf("verdict %s (score %.0f)", d, res.Verdict.Score)
			if len(res.Verdict.Reasons) > 0 {
				e.Message += ": " + res.Verdict.Reasons[0]
			}
		case d == analyze.Go:
			e.Message = "go: every threshold passed"
		default:
			e.Message = string(d) + ": " + res.Reason()
		}
		events = append(events, e)
	}
	slices.SortStableFunc(events, func(a, b gonogo.Event) int { return a.Time.Compare(b.Time) })
	return events
}

// stages are the stages of the run's ramping scenarios that started
// before end, as spans (cut at end).
func (r *Run) stages(end time.Time) []gonogo.Event {
	var out []gonogo.Event
	for _, p := range r.plans {
		s := p.Scenario
		if len(s.Stages) == 0 {
			continue
		}
		t := r.zero.Add(s.StartTime)
		for i, st := range s.Stages {
			if !t.Before(end) {
				break
			}
			stop := t.Add(st.Duration)
			if stop.After(end) {
				stop = end
			}
			out = append(out, gonogo.Event{Time: t, End: &stop, Kind: EventStage, Source: SourceRun,
				Message: fmt.Sprintf("scenario %s: stage %d/%d: %s over %s", s.Name, i+1, len(s.Stages), stageTarget(s, st.Target), st.Duration)})
			t = t.Add(st.Duration)
		}
	}
	return out
}

// stageTarget says what a stage ramps to: VUs, or arrivals per time unit.
func stageTarget(s *scenarios.Scenario, target float64) string {
	if s.Executor == scenarios.RampingVUs {
		return fmt.Sprintf("to %g VUs", target)
	}
	unit := s.TimeUnit
	if unit <= 0 {
		unit = time.Second
	}
	if unit == time.Second {
		return fmt.Sprintf("to %g/s", target)
	}
	return fmt.Sprintf("to %g per %s", target, unit)
}
