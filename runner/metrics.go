package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
	promout "github.com/gonogo-dev/gonogo/extensions/prometheus"
)

// MetricsWindow is the window of the windowed percentiles on /metrics.
const MetricsWindow = 30 * time.Second

// windowMetrics and windowQuantiles are what /metrics serves per window.
var (
	windowMetrics   = []string{analyze.MetricLatency, analyze.MetricTTFT, analyze.MetricTPOT, analyze.MetricChunkGap, analyze.MetricLatencyFailed}
	windowQuantiles = []float64{50, 90, 99}
)

// maxMarkerBytes bounds a marker's body.
const maxMarkerBytes = 16 << 10

// serveMetrics serves, on Config.MetricsAddr, /metrics (the generator's
// live Prometheus metrics and windowed percentiles of every group) and
// POST /events (a person's marker, into the journal). It starts once the
// engine and the recorder exist, so an early scrape sees a whole run.
func (r *Run) serveMetrics() (stop func(), err error) {
	if r.cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", r.cfg.MetricsAddr)
	if err != nil {
		return nil, inputf("--metrics-addr %s: %v", r.cfg.MetricsAddr, err)
	}
	prom := promout.New(func() float64 { return float64(r.InFlight()) })
	prom.AddWindows(MetricsWindow, r.windowQuantiles)
	r.sinks = append(r.sinks, prom)
	mux := http.NewServeMux()
	mux.Handle("/metrics", prom.Handler())
	mux.HandleFunc("POST /events", r.postMarker)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(r.errw, "live metrics on http://%s/metrics; add a marker with: curl -d 'message' http://%s/events\n", ln.Addr(), ln.Addr())
	return func() { srv.Close() }, nil
}

// windowCache keeps the windowed percentiles of the last interval: a
// window changes only when an interval closes, however often /metrics is
// scraped.
type windowCache struct {
	mu  sync.Mutex
	end time.Time // the end of the window's last interval
	out []promout.WindowQuantile
}

// windowQuantiles reads the windowed percentiles of every group.
func (r *Run) windowQuantiles() []promout.WindowQuantile {
	slices := r.rec.Slices(MetricsWindow)
	if len(slices) == 0 {
		return nil
	}
	c := &r.windows
	c.mu.Lock()
	defer c.mu.Unlock()
	if end := slices[len(slices)-1].End; !end.Equal(c.end) {
		c.end, c.out = end, quantilesOf(analyze.WindowOf(slices, r.rec.SLOs()))
	}
	return c.out
}

// quantilesOf digests a window into the percentiles /metrics serves.
func quantilesOf(w *analyze.RunData) []promout.WindowQuantile {
	groups := []string{analyze.Overall}
	for name := range w.Summary.Scenarios {
		groups = append(groups, analyze.ScenarioGroup(name))
	}
	for kv := range w.Summary.Tags {
		k, v, _ := strings.Cut(kv, "=")
		groups = append(groups, analyze.TagGroup(k, v))
	}
	var out []promout.WindowQuantile
	for _, g := range groups {
		for _, m := range windowMetrics {
			h := w.Histogram(g, m)
			if h == nil || h.TotalCount() == 0 {
				continue
			}
			for _, q := range windowQuantiles {
				out = append(out, promout.WindowQuantile{Group: g, Metric: m, QuantilePct: q, Value: float64(h.ValueAtPercentile(q)) / 1e6})
			}
		}
	}
	return out
}

// postMarker takes a marker: a JSON event ({"message": …, "attrs": {…}})
// or plain text. Only loopback clients may write to the journal.
func (r *Run) postMarker(w http.ResponseWriter, req *http.Request) {
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err != nil || !ap.Addr().IsLoopback() {
		http.Error(w, "markers are taken from loopback clients only", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxMarkerBytes+1))
	if err != nil || len(body) > maxMarkerBytes {
		http.Error(w, "marker body unreadable or over 16 KiB", http.StatusBadRequest)
		return
	}
	var e gonogo.Event
	if strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, "bad marker JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	if e.Message == "" {
		http.Error(w, "a marker needs a message", http.StatusBadRequest)
		return
	}
	e.Kind, e.Source, e.Time, e.End = gonogo.EventMarker, SourceMarker, time.Now(), nil
	if err := r.journal.Emit(e); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
