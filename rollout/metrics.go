package rollout

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
)

// metrics are the rollout's Prometheus metrics, on the admin listener's
// /metrics.
type metrics struct {
	reg         *prometheus.Registry
	weight      *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	judgements  *prometheus.CounterVec
	decision    *prometheus.GaugeVec

	// ok and took are each backend's successful-request counter and
	// duration histogram, looked up once: Record runs per request.
	ok   map[string]prometheus.Counter
	took map[string]prometheus.Observer
}

var decisions = []string{string(analyze.Go), string(analyze.NoGo), string(analyze.Inconclusive), DecisionHold, DecisionIdle}

func newMetrics(c *Controller) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gonogo_rollout_weight_percent",
			Help: "Share of traffic each backend is configured to get."}, []string{"rollout", "backend"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gonogo_rollout_transitions_total",
			Help: "Stored transitions by kind (start, flip, step, promote, rollback, abort, undo, pause, resume, hold, drain)."}, []string{"rollout", "kind"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gonogo_rollout_requests_total",
			Help: "Requests routed, by backend and error class (empty: success)."}, []string{"rollout", "backend", "class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gonogo_rollout_request_duration_seconds",
			Help: "Time from arrival to the end of the response, by backend.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"rollout", "backend"}),
		judgements: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gonogo_rollout_judgements_total",
			Help: "Judgements of the live window by decision."}, []string{"rollout", "decision"}),
		decision: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gonogo_rollout_last_decision",
			Help: "1 for the decision of the last judgement, 0 for the others."}, []string{"rollout", "decision"}),
	}
	m.reg.MustRegister(m.weight, m.transitions, m.requests, m.duration, m.judgements, m.decision)
	name := c.cfg.Name
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gonogo_rollout_step",
		Help: "Index of the current step.", ConstLabels: prometheus.Labels{"rollout": name}},
		func() float64 { return float64(c.State().Step) }))
	for _, b := range c.backends {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gonogo_rollout_in_flight",
			Help: "Requests in flight per backend.", ConstLabels: prometheus.Labels{"rollout": name, "backend": b.name}},
			func() float64 { return float64(b.inflight.Load()) }))
	}
	if c.beh != nil {
		m.reg.MustRegister(behaviourGauges(c)...)
	}
	m.weight = m.weight.MustCurryWith(prometheus.Labels{"rollout": name})
	m.transitions = m.transitions.MustCurryWith(prometheus.Labels{"rollout": name})
	m.requests = m.requests.MustCurryWith(prometheus.Labels{"rollout": name})
	m.duration = m.duration.MustCurryWith(prometheus.Labels{"rollout": name}).(*prometheus.HistogramVec)
	m.judgements = m.judgements.MustCurryWith(prometheus.Labels{"rollout": name})
	m.decision = m.decision.MustCurryWith(prometheus.Labels{"rollout": name})
	m.ok, m.took = map[string]prometheus.Counter{}, map[string]prometheus.Observer{}
	for _, b := range c.backends {
		m.ok[b.name] = m.requests.WithLabelValues(b.name, "")
		m.took[b.name] = m.duration.WithLabelValues(b.name)
	}
	return m
}

func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

func (m *metrics) weights(w map[string]int) {
	for name, b := range w {
		m.weight.WithLabelValues(name).Set(pct(b))
	}
}

func (m *metrics) transition(kind string) { m.transitions.WithLabelValues(kind).Inc() }

func (m *metrics) judged(j Judgement) {
	m.judgements.WithLabelValues(j.Decision).Inc()
	for _, d := range decisions {
		v := 0.0
		if d == j.Decision {
			v = 1
		}
		m.decision.WithLabelValues(d).Set(v)
	}
}

// recorderSink records a routed request in the live windows and the
// metrics.
type recorderSink struct {
	rec *analyze.Recorder
	m   *metrics
}

func (s recorderSink) Record(res *gonogo.Result) {
	s.rec.Record(res)
	b := res.Request.Tags["backend"]
	if res.Class == gonogo.ErrNone {
		s.m.ok[b].Inc()
	} else {
		s.m.requests.WithLabelValues(b, string(res.Class)).Inc()
	}
	s.m.took[b].Observe(res.Latency().Seconds())
}

func (s recorderSink) Drop(req *gonogo.Request) { s.rec.Drop(req) }
