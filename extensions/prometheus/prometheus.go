// Package promout exposes live metrics of the load generator for Prometheus,
// so a run can be watched in Prometheus/Grafana while it goes. It is a
// gonogo.Sink: hand it every result and drop, and serve Handler on a metrics
// address.
//
// Metrics (label scenario on all but gonogo_inflight):
//
//	gonogo_requests_total{scenario,class}   counter; class is "ok" or an error class
//	gonogo_dropped_total{scenario}          counter of arrivals never sent
//	gonogo_latency_seconds{scenario}        histogram, intended send → done, successes
//	gonogo_latency_failed_seconds{scenario} histogram, the same for failed requests
//	gonogo_ttft_seconds{scenario}           histogram, streamed requests only
//	gonogo_scheduling_lag_seconds{scenario} histogram, actual − intended send
//	gonogo_inflight                         gauge, read from a function
//
// The metrics are github.com/prometheus/client_golang collectors in the
// Output's own registry (nothing global is touched), served by
// promhttp.HandlerFor. Once a scenario has been seen, all its children
// (every class counter, the drop counter and the histograms) are cached, so
// Record and Drop do no label lookups and no allocations: they are safe on
// the hot path at any request rate and from any number of goroutines.
package promout

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gonogo-dev/gonogo"
)

// ClassOK is the class label of successful requests.
const ClassOK = "ok"

// Bucket upper bounds, in seconds.
var (
	// LatencyBuckets bound gonogo_latency_seconds and gonogo_ttft_seconds.
	LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 25, 60, 120}
	// LagBuckets bound gonogo_scheduling_lag_seconds.
	LagBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}
)

// classes is the order of the class counters; index 0 is success. A class
// not listed is counted as gonogo.ErrOther.
var classes = append([]gonogo.ErrorClass{gonogo.ErrNone}, gonogo.ErrorClasses...)

var otherIndex = slices.Index(classes, gonogo.ErrOther)

func classIndex(c gonogo.ErrorClass) int {
	for i, k := range classes {
		if k == c {
			return i
		}
	}
	return otherIndex
}

func classLabel(c gonogo.ErrorClass) string {
	if c == gonogo.ErrNone {
		return ClassOK
	}
	return string(c)
}

// Output collects metrics and serves them. Create it with New.
type Output struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec   // {scenario, class}
	dropped       *prometheus.CounterVec   // {scenario}
	latency       *prometheus.HistogramVec // {scenario}
	latencyFailed *prometheus.HistogramVec // {scenario}
	ttft          *prometheus.HistogramVec // {scenario}
	lag           *prometheus.HistogramVec // {scenario}
	handler       http.Handler

	scenarios sync.Map // scenario name → *scenario
}

var _ gonogo.Sink = (*Output)(nil)

// scenario holds the children of one scenario, looked up once.
type scenario struct {
	requests []prometheus.Counter // by class index
	dropped  prometheus.Counter
	latency  prometheus.Observer
	failed   prometheus.Observer // latency of failed requests
	ttft     prometheus.Observer
	lag      prometheus.Observer
}

// New returns an Output. inflight, when not nil, is read at every scrape for
// gonogo_inflight (it must be safe for concurrent use).
func New(inflight func() float64) *Output {
	scen := []string{"scenario"}
	o := &Output{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gonogo_requests_total",
			Help: "Requests finished, by scenario and error class (ok = success).",
		}, []string{"scenario", "class"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gonogo_dropped_total",
			Help: "Arrivals never sent because every VU was busy.",
		}, scen),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gonogo_latency_seconds",
			Help:    "Latency of successful requests, from the intended send time to completion.",
			Buckets: LatencyBuckets,
		}, scen),
		latencyFailed: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gonogo_latency_failed_seconds",
			Help:    "Latency of failed requests, from the intended send time to the failure.",
			Buckets: LatencyBuckets,
		}, scen),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gonogo_ttft_seconds",
			Help:    "Time to first non-empty content chunk of streamed requests.",
			Buckets: LatencyBuckets,
		}, scen),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gonogo_scheduling_lag_seconds",
			Help:    "Actual minus intended send time.",
			Buckets: LagBuckets,
		}, scen),
	}
	if inflight == nil {
		inflight = func() float64 { return 0 }
	}
	o.reg.MustRegister(o.requests, o.dropped, o.latency, o.latencyFailed, o.ttft, o.lag,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gonogo_inflight",
			Help: "Requests in flight now.",
		}, inflight))
	o.handler = promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{})
	return o
}

// scenario returns the cached children of name, creating them on first use.
// Creating them up front exposes every class counter (at 0) as soon as the
// scenario is seen, so rates over them are defined from the start.
func (o *Output) scenario(name string) *scenario {
	if s, ok := o.scenarios.Load(name); ok {
		return s.(*scenario)
	}
	s := &scenario{
		requests: make([]prometheus.Counter, len(classes)),
		dropped:  o.dropped.WithLabelValues(name),
		latency:  o.latency.WithLabelValues(name),
		failed:   o.latencyFailed.WithLabelValues(name),
		ttft:     o.ttft.WithLabelValues(name),
		lag:      o.lag.WithLabelValues(name),
	}
	for i, c := range classes {
		s.requests[i] = o.requests.WithLabelValues(name, classLabel(c))
	}
	// A racing creator built the same children (a vec returns one child per
	// label set), so whichever is stored first is as good as the other.
	v, _ := o.scenarios.LoadOrStore(name, s)
	return v.(*scenario)
}

// Record counts a finished request and observes its latency, TTFT (when
// measured) and scheduling lag.
func (o *Output) Record(res *gonogo.Result) {
	name := ""
	if res.Request != nil {
		name = res.Request.Scenario
	}
	s := o.scenario(name)
	s.requests[classIndex(res.Class)].Inc()
	// Latency is of successes, as in run.json; failures apart.
	latency := s.latency
	if res.Failed() {
		latency = s.failed
	}
	if res.Request != nil && !res.Request.Intended.IsZero() {
		latency.Observe(res.Latency().Seconds())
		if !res.Sent.IsZero() {
			s.lag.Observe(max(res.SchedulingLag(), 0).Seconds())
		}
	} else if !res.Sent.IsZero() {
		latency.Observe(res.ServiceTime().Seconds())
	}
	if res.TTFT > 0 {
		s.ttft.Observe(res.TTFT.Seconds())
	}
}

// Drop counts an arrival that was never sent.
func (o *Output) Drop(req *gonogo.Request) {
	name := ""
	if req != nil {
		name = req.Scenario
	}
	o.scenario(name).dropped.Inc()
}

// Handler serves the metrics (promhttp.HandlerFor on the Output's registry:
// the Prometheus text format unless the scraper negotiates another).
func (o *Output) Handler() http.Handler { return o.handler }

// WindowQuantile is one windowed percentile of one group's metric, as
// AddWindows serves it.
type WindowQuantile struct {
	// Group is the group key: "" for the whole run, "scenario:NAME",
	// "tag:KEY=VALUE".
	Group string
	// Metric is the metric name (latency, ttft, …).
	Metric string
	// QuantilePct is the percentile, 0..100.
	QuantilePct float64
	// Value is the percentile's value in the metric's unit: seconds for
	// time metrics, tokens for output_tokens.
	Value float64
}

// windowCollector serves windowed percentiles read at every scrape.
type windowCollector struct {
	desc   *prometheus.Desc
	window string
	read   func() []WindowQuantile
}

func (c *windowCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *windowCollector) Collect(ch chan<- prometheus.Metric) {
	for _, q := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, q.Value,
			q.Group, q.Metric, strconv.FormatFloat(q.QuantilePct/100, 'g', -1, 64), c.window)
	}
}

// AddWindows serves gonogo_window_quantile{group,metric,quantile,window}:
// percentiles over the last window of the run, of every group (overall,
// scenario, tag) and metric that read returns; read is called at every
// scrape and must be safe for concurrent use.
func (o *Output) AddWindows(window time.Duration, read func() []WindowQuantile) {
	o.reg.MustRegister(&windowCollector{
		desc: prometheus.NewDesc("gonogo_window_quantile",
			"Percentile over the last window of the run: seconds for time metrics, tokens for output_tokens.",
			[]string{"group", "metric", "quantile", "window"}, nil),
		window: window.String(),
		read:   read,
	})
}
