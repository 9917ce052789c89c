// Package remotewrite pushes a run's live metrics with the Prometheus
// remote-write protocol, version 1.0: a WriteRequest protobuf, snappy
// block-compressed, POSTed with Content-Encoding: snappy, Content-Type:
// application/x-protobuf and X-Prometheus-Remote-Write-Version: 0.1.0. It
// is what users of k6's experimental-prometheus-rw output know: any
// receiver that takes remote-write (Prometheus with
// --web.enable-remote-write-receiver, Mimir, Cortex, Thanos Receive,
// VictoriaMetrics, Grafana Cloud) stores the run while it goes.
//
// The series are those of the generator's live /metrics
// (outputs.Collector's, with the windowed and the run's percentiles):
// counters as one sample each, histograms as classic _bucket{le}, _sum and
// _count series. Every series carries job="gonogo", run_id and the run's
// labels (--label version=v2). The WriteRequest is encoded by hand with
// protowire (field numbers of prompb/types.proto and remote.proto), so
// that gonogo needs no Prometheus server module.
//
// Retries: network errors, 429 and 5xx are retried (outputs.Sender: at
// most 3 tries, backoff from 250 ms, within the push interval); other
// answers drop the push, which the run counts and reports at the end.
package remotewrite

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gonogo-dev/gonogo/outputs"
)

// Name is the output's registered name.
const Name = "remote-write"

// Headers of a remote-write 1.0 request.
const (
	ContentType = "application/x-protobuf"
	Encoding    = "snappy"
	Version     = "0.1.0"
)

func init() {
	outputs.Register(Name, func(cfg outputs.Config) (outputs.Output, error) { return New(cfg) })
}

// Output pushes snapshots to a remote-write receiver. Create it with New.
type Output struct{ ep *outputs.Endpoint }

var (
	_ outputs.Output = (*Output)(nil)
	_ fmt.Stringer   = (*Output)(nil)
)

// New checks cfg (an http(s) URL, a readable token file) and returns the
// output; its errors wrap outputs.ErrInput.
func New(cfg outputs.Config) (*Output, error) {
	ep, err := cfg.Endpoint(http.Header{
		"Content-Type":                      {ContentType},
		"Content-Encoding":                  {Encoding},
		"X-Prometheus-Remote-Write-Version": {Version},
	}, nil)
	if err != nil {
		return nil, err
	}
	return &Output{ep}, nil
}

// String says what the output is, without credentials.
func (o *Output) String() string { return Name + " " + o.ep.Shown }

// Push encodes s and sends it.
func (o *Output) Push(ctx context.Context, s *outputs.Snapshot) error {
	body := snappy.Encode(nil, Encode(s))
	return o.ep.Post(ctx, o.ep.URL, body)
}

// Close does nothing: each push is a request of its own.
func (o *Output) Close() error { return nil }

// Metric types of MetricMetadata (prompb).
const (
	typeCounter   = 1
	typeGauge     = 2
	typeHistogram = 3
)

// Field numbers of prompb.
const (
	fWriteTimeseries = 1 // WriteRequest.timeseries
	fWriteMetadata   = 3 // WriteRequest.metadata
	fSeriesLabels    = 1 // TimeSeries.labels
	fSeriesSamples   = 2 // TimeSeries.samples
	fLabelName       = 1
	fLabelValue      = 2
	fSampleValue     = 1 // double
	fSampleTimestamp = 2 // int64, milliseconds
	fMetaType        = 1
	fMetaFamily      = 2
	fMetaHelp        = 4
	fMetaUnit        = 5
)

// Encode returns the WriteRequest of s, uncompressed: one sample per
// series at s.Time (milliseconds), labels sorted by name with __name__,
// the series' own labels, job, run_id and the run's labels (a run label
// named like one of gonogo's labels is sent as label_NAME); and one
// MetricMetadata per metric family.
func Encode(s *outputs.Snapshot) []byte {
	ts := s.Time.UnixMilli()
	extra := runLabels(s)
	var b, msg, lbl []byte
	var families []*outputs.Metric
	add := func(name string, own []outputs.Label, v float64) {
		msg = msg[:0]
		for _, l := range seriesLabels(name, own, extra) {
			lbl = protowire.AppendTag(lbl[:0], fLabelName, protowire.BytesType)
			lbl = protowire.AppendString(lbl, l.Name)
			lbl = protowire.AppendTag(lbl, fLabelValue, protowire.BytesType)
			lbl = protowire.AppendString(lbl, l.Value)
			msg = protowire.AppendTag(msg, fSeriesLabels, protowire.BytesType)
			msg = protowire.AppendBytes(msg, lbl)
		}
		lbl = protowire.AppendTag(lbl[:0], fSampleValue, protowire.Fixed64Type)
		lbl = protowire.AppendFixed64(lbl, math.Float64bits(v))
		lbl = protowire.AppendTag(lbl, fSampleTimestamp, protowire.VarintType)
		lbl = protowire.AppendVarint(lbl, uint64(ts))
		msg = protowire.AppendTag(msg, fSeriesSamples, protowire.BytesType)
		msg = protowire.AppendBytes(msg, lbl)
		b = protowire.AppendTag(b, fWriteTimeseries, protowire.BytesType)
		b = protowire.AppendBytes(b, msg)
	}
	for _, sr := range s.Series {
		m := sr.Metric
		if !slices.Contains(families, m) {
			families = append(families, m)
		}
		if m.Kind != outputs.Histogram {
			add(m.Name, sr.Labels, sr.Value)
			continue
		}
		h := sr.Hist
		var cum uint64
		for i, bound := range h.Bounds {
			cum += h.Counts[i]
			add(m.Name+"_bucket", withLabel(sr.Labels, "le", FormatFloat(bound)), float64(cum))
		}
		add(m.Name+"_bucket", withLabel(sr.Labels, "le", "+Inf"), float64(h.Count))
		add(m.Name+"_sum", sr.Labels, h.Sum)
		add(m.Name+"_count", sr.Labels, float64(h.Count))
	}
	for _, m := range families {
		msg = protowire.AppendTag(msg[:0], fMetaType, protowire.VarintType)
		msg = protowire.AppendVarint(msg, metaType(m.Kind))
		msg = protowire.AppendTag(msg, fMetaFamily, protowire.BytesType)
		msg = protowire.AppendString(msg, m.Name)
		msg = protowire.AppendTag(msg, fMetaHelp, protowire.BytesType)
		msg = protowire.AppendString(msg, m.Help)
		if u := promUnit(m.Unit); u != "" {
			msg = protowire.AppendTag(msg, fMetaUnit, protowire.BytesType)
			msg = protowire.AppendString(msg, u)
		}
		b = protowire.AppendTag(b, fWriteMetadata, protowire.BytesType)
		b = protowire.AppendBytes(b, msg)
	}
	return b
}

func metaType(k outputs.Kind) uint64 {
	switch k {
	case outputs.Counter:
		return typeCounter
	case outputs.Histogram:
		return typeHistogram
	}
	return typeGauge
}

// promUnit is the Prometheus unit of a UCUM unit: "seconds" for "s",
// nothing for annotations in braces.
func promUnit(ucum string) string {
	if ucum == "s" {
		return "seconds"
	}
	return ""
}

// FormatFloat formats a bucket bound as Prometheus's client libraries do
// for le.
func FormatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func withLabel(ls []outputs.Label, name, value string) []outputs.Label {
	return append(slices.Clip(ls), outputs.Label{Name: name, Value: value})
}

// runLabels are the labels every series of s carries: job, run_id and the
// run's own labels, their names made valid (LabelName) and those gonogo's
// series use renamed label_NAME.
func runLabels(s *outputs.Snapshot) []outputs.Label {
	out := []outputs.Label{{Name: "job", Value: "gonogo"}, {Name: "run_id", Value: s.RunID}}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		name := LabelName(k)
		if slices.Contains(reserved, name) {
			name = "label_" + name
		}
		out = append(out, outputs.Label{Name: name, Value: s.Labels[k]})
	}
	return out
}

// reserved are the label names of gonogo's own series: a run label named
// like one of them is sent as label_NAME on every series.
var reserved = []string{"__name__", "job", "run_id", "scenario", "class", "le", "group", "metric", "quantile", "window"}

// seriesLabels merges a series' labels: __name__, its own, then the run's
// (renamed label_NAME on a clash), sorted by name, empty values left out
// and invalid UTF-8 replaced.
func seriesLabels(name string, own, extra []outputs.Label) []outputs.Label {
	ls := make([]outputs.Label, 0, 1+len(own)+len(extra))
	ls = append(ls, outputs.Label{Name: "__name__", Value: name})
	has := func(n string) bool {
		return slices.ContainsFunc(ls, func(l outputs.Label) bool { return l.Name == n })
	}
	for _, l := range own {
		if l.Value != "" && !has(l.Name) {
			ls = append(ls, outputs.Label{Name: l.Name, Value: strings.ToValidUTF8(l.Value, "\uFFFD")})
		}
	}
	for _, l := range extra {
		n := l.Name
		for has(n) {
			n = "label_" + n
		}
		if l.Value != "" {
			ls = append(ls, outputs.Label{Name: n, Value: strings.ToValidUTF8(l.Value, "\uFFFD")})
		}
	}
	slices.SortFunc(ls, func(a, b outputs.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

// LabelName makes s a valid Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*,
// every other character replaced by '_', and a leading "__" (reserved)
// prefixed with "label".
func LabelName(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	out := string(b)
	if strings.HasPrefix(out, "__") {
		out = "label" + out
	}
	return out
}
