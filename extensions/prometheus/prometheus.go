// Package promout exposes live metrics of the load generator in the
// Prometheus text format (version 0.0.4), so a run can be watched in
// Prometheus/Grafana while it goes. It is a gonogo.Sink: hand it every
// result and drop, and serve Handler on a metrics address.
//
// Metrics (label scenario on all but gonogo_inflight):
//
//	gonogo_requests_total{scenario,class}   counter; class is "ok" or an error class
//	gonogo_dropped_total{scenario}          counter of arrivals never sent
//	gonogo_latency_seconds{scenario}        histogram, intended send → done
//	gonogo_ttft_seconds{scenario}           histogram, streamed requests only
//	gonogo_scheduling_lag_seconds{scenario} histogram, actual − intended send
//	gonogo_inflight                         gauge, read from a function
//
// The registry is the package's own (nothing global is touched), and
// recording is lock-free after a scenario's first result: atomic counters
// and fixed-bucket histograms, safe at any request rate.
//
// The exposition is written by this package rather than by
// prometheus/client_golang: the module's go.sum does not yet hold that
// library's dependencies, and the text format for counters, gauges and
// histograms is small and stable.
package promout

import (
	"bufio"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// ContentType is the media type of the exposition.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// ClassOK is the class label of successful requests.
const ClassOK = "ok"

// Bucket upper bounds, in seconds.
var (
	// LatencyBuckets bound gonogo_latency_seconds and gonogo_ttft_seconds.
	LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 25, 60, 120}
	// LagBuckets bound gonogo_scheduling_lag_seconds.
	LagBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}
)

// classes is the order of the class counters; index 0 is success.
var classes = append([]gonogo.ErrorClass{gonogo.ErrNone}, gonogo.ErrorClasses...)

// Output collects metrics and serves them. Create it with New.
type Output struct {
	inflight func() float64

	mu        sync.RWMutex
	scenarios map[string]*scenario
}

var _ gonogo.Sink = (*Output)(nil)

// New returns an Output. inflight, when not nil, is read at every scrape for
// gonogo_inflight (it must be safe for concurrent use).
func New(inflight func() float64) *Output {
	return &Output{inflight: inflight, scenarios: map[string]*scenario{}}
}

type scenario struct {
	requests []atomic.Uint64 // by class index
	dropped  atomic.Uint64
	latency  *histogram
	ttft     *histogram
	lag      *histogram
}

func (o *Output) scenario(name string) *scenario {
	o.mu.RLock()
	s := o.scenarios[name]
	o.mu.RUnlock()
	if s != nil {
		return s
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if s = o.scenarios[name]; s == nil {
		s = &scenario{
			requests: make([]atomic.Uint64, len(classes)),
			latency:  newHistogram(LatencyBuckets),
			ttft:     newHistogram(LatencyBuckets),
			lag:      newHistogram(LagBuckets),
		}
		o.scenarios[name] = s
	}
	return s
}

func classIndex(c gonogo.ErrorClass) int {
	for i, k := range classes {
		if k == c {
			return i
		}
	}
	return slices.Index(classes, gonogo.ErrOther)
}

// Record counts a finished request and observes its latency, TTFT (when
// measured) and scheduling lag.
func (o *Output) Record(res *gonogo.Result) {
	name := ""
	if res.Request != nil {
		name = res.Request.Scenario
	}
	s := o.scenario(name)
	s.requests[classIndex(res.Class)].Add(1)
	if res.Request != nil && !res.Request.Intended.IsZero() {
		s.latency.observe(res.Latency())
		if !res.Sent.IsZero() {
			s.lag.observe(max(res.SchedulingLag(), 0))
		}
	} else if !res.Sent.IsZero() {
		s.latency.observe(res.ServiceTime())
	}
	if res.TTFT > 0 {
		s.ttft.observe(res.TTFT)
	}
}

// Drop counts an arrival that was never sent.
func (o *Output) Drop(req *gonogo.Request) {
	name := ""
	if req != nil {
		name = req.Scenario
	}
	o.scenario(name).dropped.Add(1)
}

// Handler serves the metrics in the Prometheus text format.
func (o *Output) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		bw := bufio.NewWriter(w)
		o.write(bw)
		bw.Flush()
	})
}

func (o *Output) write(w *bufio.Writer) {
	o.mu.RLock()
	names := make([]string, 0, len(o.scenarios))
	for n := range o.scenarios {
		names = append(names, n)
	}
	scen := make([]*scenario, 0, len(names))
	slices.Sort(names)
	for _, n := range names {
		scen = append(scen, o.scenarios[n])
	}
	o.mu.RUnlock()

	header(w, "gonogo_requests_total", "counter", "Requests finished, by scenario and error class (ok = success).")
	for i, s := range scen {
		for ci, c := range classes {
			cl := string(c)
			if c == gonogo.ErrNone {
				cl = ClassOK
			}
			w.WriteString(`gonogo_requests_total{scenario="` + escape(names[i]) + `",class="` + cl + `"} `)
			w.WriteString(strconv.FormatUint(s.requests[ci].Load(), 10) + "\n")
		}
	}
	header(w, "gonogo_dropped_total", "counter", "Arrivals never sent because every VU was busy.")
	for i, s := range scen {
		w.WriteString(`gonogo_dropped_total{scenario="` + escape(names[i]) + `"} ` + strconv.FormatUint(s.dropped.Load(), 10) + "\n")
	}
	hists := []struct {
		name, help string
		get        func(*scenario) *histogram
	}{
		{"gonogo_latency_seconds", "Request latency from the intended send time to completion.", func(s *scenario) *histogram { return s.latency }},
		{"gonogo_ttft_seconds", "Time to first non-empty content chunk of streamed requests.", func(s *scenario) *histogram { return s.ttft }},
		{"gonogo_scheduling_lag_seconds", "Actual minus intended send time.", func(s *scenario) *histogram { return s.lag }},
	}
	for _, h := range hists {
		header(w, h.name, "histogram", h.help)
		for i, s := range scen {
			h.get(s).write(w, h.name, `scenario="`+escape(names[i])+`"`)
		}
	}
	header(w, "gonogo_inflight", "gauge", "Requests in flight now.")
	v := 0.0
	if o.inflight != nil {
		v = o.inflight()
	}
	w.WriteString("gonogo_inflight " + formatFloat(v) + "\n")
}

func header(w *bufio.Writer, name, typ, help string) {
	w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

// histogram is a fixed-bucket, lock-free histogram of durations.
type histogram struct {
	bounds  []float64       // upper bounds, seconds
	counts  []atomic.Uint64 // per bucket (not cumulative); last is +Inf
	sumNano atomic.Int64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *histogram) observe(d time.Duration) {
	sec := d.Seconds()
	i, _ := slices.BinarySearch(h.bounds, sec) // first bound >= sec: le is inclusive
	h.counts[i].Add(1)
	h.sumNano.Add(int64(d))
}

func (h *histogram) write(w *bufio.Writer, name, labels string) {
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		w.WriteString(name + "_bucket{" + labels + `,le="` + formatFloat(b) + `"} ` + strconv.FormatUint(cum, 10) + "\n")
	}
	cum += h.counts[len(h.bounds)].Load()
	// _count is the bucket total, so +Inf == _count within one scrape.
	w.WriteString(name + "_bucket{" + labels + `,le="+Inf"} ` + strconv.FormatUint(cum, 10) + "\n")
	w.WriteString(name + "_sum{" + labels + "} " + formatFloat(float64(h.sumNano.Load())/1e9) + "\n")
	w.WriteString(name + "_count{" + labels + "} " + strconv.FormatUint(cum, 10) + "\n")
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// escape escapes a label value.
func escape(s string) string { return escaper.Replace(s) }
