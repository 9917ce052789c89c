package outputs

import (
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonogo-dev/gonogo"
	promout "github.com/gonogo-dev/gonogo/extensions/prometheus"
)

// The metrics outputs send: those of the live /metrics endpoint
// (extensions/prometheus), with the LLM streaming metrics and the output
// tokens besides, and the run's cumulative percentiles.
var (
	Requests = &Metric{Name: "gonogo_requests_total", OTelName: "gonogo.requests", Unit: "{request}", Kind: Counter,
		Help: "Requests finished, by scenario and error class (ok = success)."}
	Dropped = &Metric{Name: "gonogo_dropped_total", OTelName: "gonogo.dropped", Unit: "{request}", Kind: Counter,
		Help: "Arrivals never sent because every VU was busy."}
	OutputTokens = &Metric{Name: "gonogo_output_tokens_total", OTelName: "gonogo.output_tokens", Unit: "{token}", Kind: Counter,
		Help: "Output tokens of successful requests, as the server reported them."}
	InFlight = &Metric{Name: "gonogo_inflight", OTelName: "gonogo.inflight", Unit: "{request}", Kind: Gauge,
		Help: "Requests in flight now."}
	Latency = &Metric{Name: "gonogo_latency_seconds", OTelName: "gonogo.latency", Unit: "s", Kind: Histogram,
		Help: "Latency of successful requests, from the intended send time to completion."}
	LatencyFailed = &Metric{Name: "gonogo_latency_failed_seconds", OTelName: "gonogo.latency_failed", Unit: "s", Kind: Histogram,
		Help: "Latency of failed requests, from the intended send time to the failure."}
	TTFT = &Metric{Name: "gonogo_ttft_seconds", OTelName: "gonogo.ttft", Unit: "s", Kind: Histogram,
		Help: "Time to the first non-empty content chunk of streamed requests."}
	ChunkGap = &Metric{Name: "gonogo_chunk_gap_seconds", OTelName: "gonogo.chunk_gap", Unit: "s", Kind: Histogram,
		Help: "Every gap between streamed content chunks (vLLM's ITL)."}
	TPOT = &Metric{Name: "gonogo_tpot_seconds", OTelName: "gonogo.tpot", Unit: "s", Kind: Histogram,
		Help: "Time per output token after the first, per request."}
	SchedulingLag = &Metric{Name: "gonogo_scheduling_lag_seconds", OTelName: "gonogo.scheduling_lag", Unit: "s", Kind: Histogram,
		Help: "Actual minus intended send time."}
	WindowQuantile = &Metric{Name: "gonogo_window_quantile", OTelName: "gonogo.window_quantile", Kind: Gauge,
		Help: "Percentile over the last window of the run: seconds for time metrics, tokens for output_tokens."}
	RunQuantile = &Metric{Name: "gonogo_run_quantile", OTelName: "gonogo.run_quantile", Kind: Gauge,
		Help: "Percentile over the run so far (run.json's at the end): seconds for time metrics, tokens for output_tokens."}
)

// ClassOK is the class label of successful requests.
const ClassOK = promout.ClassOK

// classes is the order of the class counters: success, then
// gonogo.ErrorClasses; a class not listed counts as gonogo.ErrOther.
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

// The histograms of a scenario, in the order snapshots list them.
const (
	hLatency = iota
	hFailed
	hTTFT
	hGap
	hTPOT
	hLag
	numHists
)

var histMetrics = [numHists]*Metric{Latency, LatencyFailed, TTFT, ChunkGap, TPOT, SchedulingLag}

// hist is a fixed-bucket histogram of durations, updated with atomics.
type hist struct {
	boundsNs  []int64   // inclusive upper bounds
	bounds    []float64 // the same, in seconds
	counts    []atomic.Uint64
	sumMicros atomic.Int64
}

func newHist(boundsS []float64) *hist {
	h := &hist{bounds: boundsS, boundsNs: make([]int64, len(boundsS)), counts: make([]atomic.Uint64, len(boundsS)+1)}
	for i, b := range boundsS {
		h.boundsNs[i] = int64(b * 1e9)
	}
	return h
}

func (h *hist) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(h.boundsNs) && int64(d) > h.boundsNs[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumMicros.Add(int64(d / time.Microsecond))
}

// value reads h; Count is the sum of the bucket counts read, so that the
// two agree however the reads interleave with observations.
func (h *hist) value() *HistogramValue {
	v := &HistogramValue{Bounds: h.bounds, Counts: make([]uint64, len(h.counts))}
	for i := range h.counts {
		v.Counts[i] = h.counts[i].Load()
		v.Count += v.Counts[i]
	}
	v.Sum = float64(h.sumMicros.Load()) / 1e6
	return v
}

// scenario holds the counts of one scenario.
type scenario struct {
	classes []atomic.Int64 // by class index
	dropped atomic.Int64
	tokens  atomic.Int64
	hists   [numHists]*hist
}

// Collector is a gonogo.Sink that counts what outputs send, per scenario:
// requests by class, drops, output tokens, and histograms of latency
// (successful requests), latency of failed requests, TTFT, chunk gaps,
// TPOT and scheduling lag, with the bucket bounds of /metrics
// (promout.LatencyBuckets, promout.LagBuckets). It follows the recorder's
// rules (analyze.Recorder), so its counts are run.json's; bucket counts and
// sums are exact (sums to the microsecond). Record and Drop take no lock
// and do not allocate once a scenario has been seen.
type Collector struct {
	scenarios sync.Map // name → *scenario
}

var _ gonogo.Sink = (*Collector)(nil)

// NewCollector returns an empty Collector.
func NewCollector() *Collector { return &Collector{} }

func (c *Collector) scenario(name string) *scenario {
	if s, ok := c.scenarios.Load(name); ok {
		return s.(*scenario)
	}
	s := &scenario{classes: make([]atomic.Int64, len(classes))}
	for i := range s.hists {
		b := promout.LatencyBuckets
		if i == hLag {
			b = promout.LagBuckets
		}
		s.hists[i] = newHist(b)
	}
	v, _ := c.scenarios.LoadOrStore(name, s)
	return v.(*scenario)
}

// Record counts a finished request: a failure by its class with its
// latency apart; a success with its latency, TTFT, TPOT, chunk gaps and
// output tokens; every request's scheduling lag.
func (c *Collector) Record(res *gonogo.Result) {
	var intended time.Time
	name := ""
	if res.Request != nil {
		name, intended = res.Request.Scenario, res.Request.Intended
	}
	s := c.scenario(name)
	s.classes[classIndex(res.Class)].Add(1)
	s.hists[hLag].observe(res.Sent.Sub(intended))
	if res.Failed() {
		s.hists[hFailed].observe(res.Done.Sub(intended))
		return
	}
	s.hists[hLatency].observe(res.Done.Sub(intended))
	if res.TTFT > 0 {
		s.hists[hTTFT].observe(res.TTFT)
		if tp := res.TPOT(); tp > 0 {
			s.hists[hTPOT].observe(tp)
		}
	}
	for _, g := range res.ChunkGaps {
		s.hists[hGap].observe(g)
	}
	if res.OutputTokens > 0 {
		s.tokens.Add(int64(res.OutputTokens))
	}
}

// Drop counts an arrival that was never sent.
func (c *Collector) Drop(req *gonogo.Request) {
	name := ""
	if req != nil {
		name = req.Scenario
	}
	c.scenario(name).dropped.Add(1)
}

// Series reads the collected series: per scenario (sorted by name) the
// request counters of every class (zeros included, so that rates are
// defined from the start), drops, output tokens, and every histogram that
// has an observation.
func (c *Collector) Series() []Series {
	var names []string
	c.scenarios.Range(func(k, _ any) bool {
		names = append(names, k.(string))
		return true
	})
	slices.Sort(names)
	scens := make([]*scenario, len(names))
	for i, n := range names {
		v, _ := c.scenarios.Load(n)
		scens[i] = v.(*scenario)
	}
	var out []Series
	for i, s := range scens {
		for ci, cl := range classes {
			label := string(cl)
			if cl == gonogo.ErrNone {
				label = ClassOK
			}
			out = append(out, Series{Metric: Requests, Labels: []Label{{"class", label}, {"scenario", names[i]}},
				Value: float64(s.classes[ci].Load())})
		}
	}
	for i, s := range scens {
		out = append(out, Series{Metric: Dropped, Labels: []Label{{"scenario", names[i]}}, Value: float64(s.dropped.Load())})
	}
	for i, s := range scens {
		out = append(out, Series{Metric: OutputTokens, Labels: []Label{{"scenario", names[i]}}, Value: float64(s.tokens.Load())})
	}
	for h := range numHists {
		for i, s := range scens {
			v := s.hists[h].value()
			if v.Count == 0 {
				continue
			}
			out = append(out, Series{Metric: histMetrics[h], Labels: []Label{{"scenario", names[i]}}, Hist: v})
		}
	}
	return out
}

// QuantileSeries turns percentiles into series of m (WindowQuantile or
// RunQuantile) with the labels of /metrics' gonogo_window_quantile: group
// ("" for the whole run, "scenario:NAME", "tag:KEY=VALUE"), metric,
// quantile (0..1) and, when window is not zero, window.
func QuantileSeries(m *Metric, window time.Duration, qs []promout.WindowQuantile) []Series {
	out := make([]Series, 0, len(qs))
	for _, q := range qs {
		labels := []Label{{"group", q.Group}, {"metric", q.Metric}, {"quantile", strconv.FormatFloat(math.Round(q.QuantilePct*1e4)/1e6, 'g', -1, 64)}}
		if window > 0 {
			labels = append(labels, Label{"window", window.String()})
		}
		out = append(out, Series{Metric: m, Labels: labels, Value: q.Value})
	}
	return out
}
