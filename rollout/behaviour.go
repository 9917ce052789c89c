package rollout

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gonogo-dev/gonogo/analyze/behaviour"
	"github.com/gonogo-dev/gonogo/rollout/route"
)

// BehaviourSpec samples the responses each backend gives and judges the
// model's behaviour on them — its confidence, its output distribution
// against stable, empty and failed predictions, output length — with
// gates a step must pass (analyze/behaviour).
type BehaviourSpec struct {
	// Sample is the percentage of responses sampled (default 10).
	Sample float64 `yaml:"sample"`
	// MinSamples is the least samples (each side, for comparisons) a
	// gate needs in the window; fewer hold the step (default 1000).
	MinSamples int64            `yaml:"minSamples"`
	Gates      []behaviour.Gate `yaml:"gates"`

	gates *behaviour.Gates
}

// maxSampledBody bounds a sampled response body; a longer one is not
// sampled (a stream cut short would read as an error).
const maxSampledBody = 1 << 20

func (b *BehaviourSpec) check() *fail {
	if b.Sample == 0 {
		b.Sample = 10
	}
	if f := checkPercent("analysis.behaviour.sample", b.Sample); f != nil || b.Sample <= 0 {
		return failf("analysis.behaviour.sample", "want a percentage above 0 (got %g)", b.Sample)
	}
	if b.MinSamples < 0 {
		return failf("analysis.behaviour.minSamples", "negative")
	}
	if len(b.Gates) == 0 {
		return failf("analysis.behaviour.gates", "at least one gate")
	}
	for i := range b.Gates {
		if field, msg := b.Gates[i].Check(); msg != "" {
			return failf(fmt.Sprintf("analysis.behaviour.gates[%d].%s", i, field), "%s", msg)
		}
	}
	b.gates = &behaviour.Gates{MinSamples: b.MinSamples, Gates: b.Gates}
	return nil
}

// behaviourSample is one sampled response on its way to the tracker.
type behaviourSample struct {
	t       *behaviour.Tracker
	backend string
	proto   behaviour.Protocol
	body    []byte
	over    bool
}

// sampleBehaviour returns the sample of a request to backend at target,
// nil when the request is not sampled.
func (p *Proxy) sampleBehaviour(backend string, target []byte) *behaviourSample {
	if p.beh == nil || rand.IntN(route.Buckets) >= p.behBuckets {
		return nil
	}
	proto := behaviour.ProtocolOpenAI
	if bytes.Contains(target, []byte("/infer")) {
		proto = behaviour.ProtocolKServe
	}
	return &behaviourSample{t: p.beh, backend: backend, proto: proto}
}

// tap keeps the body as it goes to the client.
func (s *behaviourSample) tap(b []byte) {
	if len(s.body)+len(b) > maxSampledBody {
		s.over = true
		return
	}
	s.body = append(s.body, b...)
}

// done hands the response to the tracker: a server error or a failed
// exchange is a failed prediction; a client error is not the model's.
func (s *behaviourSample) done(status int, err error) {
	var f behaviour.Features
	switch {
	case err != nil:
		f = behaviour.Failed(err.Error())
	case status >= 500:
		f = behaviour.Failed(fmt.Sprintf("status %d", status))
	case status >= 400 || s.over:
		return
	default:
		f = behaviour.Extract(s.proto, s.body)
	}
	s.t.Observe(s.backend, &f)
}

// behaviourGauges exports each backend's behaviour over the analysis
// window on /metrics.
func behaviourGauges(c *Controller) []prometheus.Collector {
	t, n := c.beh, c.cfg.Analysis.intervals()
	var out []prometheus.Collector
	for _, b := range c.backends {
		labels := prometheus.Labels{"rollout": c.cfg.Name, "backend": b.name}
		stat := func(f func(behaviour.Stats) float64) func() float64 {
			return func() float64 {
				for _, s := range t.Snapshot(n) {
					if s.Backend == b.name {
						return f(s)
					}
				}
				return 0
			}
		}
		out = append(out,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gonogo_rollout_behaviour_mean_confidence", ConstLabels: labels,
				Help: "Mean prediction confidence of the sampled responses in the analysis window."}, stat(func(s behaviour.Stats) float64 { return s.MeanConfidence })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gonogo_rollout_behaviour_empty_ratio", ConstLabels: labels,
				Help: "Share of the sampled responses in the analysis window with an empty or null prediction."}, stat(func(s behaviour.Stats) float64 { return s.EmptyRate })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gonogo_rollout_behaviour_error_ratio", ConstLabels: labels,
				Help: "Share of the sampled responses in the analysis window that failed or did not parse."}, stat(func(s behaviour.Stats) float64 { return s.ErrorRate })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gonogo_rollout_behaviour_sampled_total", ConstLabels: labels,
				Help: "Responses sampled for the behaviour gates."}, stat(func(s behaviour.Stats) float64 { return float64(s.TotalResponses) })))
	}
	return out
}

// judgeBehaviour evaluates the behaviour gates on the last n intervals,
// canary against its control.
func (j *judge) judgeBehaviour(t *behaviour.Tracker, n int, canary, control string) (res []behaviour.GateResult, fails, holds []string) {
	co, ca := t.Window(control, n), t.Window(canary, n)
	res = j.cfg.Analysis.Behaviour.gates.Evaluate(&co, &ca)
	for _, r := range res {
		switch r.Status {
		case behaviour.Fail:
			msg := fmt.Sprintf("behaviour gate %q failed: %s = %.4g on %d samples", r.Gate.Name, r.Gate.Metric, r.Value, r.Samples)
			if r.Early {
				msg += " (early, before minSamples: its exact interval at 3e-5 lies beyond the bound)"
			}
			fails = append(fails, msg)
		case behaviour.Hold:
			holds = append(holds, fmt.Sprintf("behaviour gate %q: too few samples (%d)", r.Gate.Name, r.Samples))
		}
	}
	return res, fails, holds
}
