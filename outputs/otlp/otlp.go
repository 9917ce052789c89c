// Package otlp pushes a run's live metrics as OpenTelemetry metrics over
// OTLP/HTTP: an ExportMetricsServiceRequest protobuf POSTed to the
// receiver's /v1/metrics (an OpenTelemetry Collector, Grafana Alloy, a
// vendor's OTLP endpoint, Prometheus's --web.enable-otlp-receiver) with
// Content-Type: application/x-protobuf.
//
// One ResourceMetrics carries the run: its resource has service.name
// "gonogo", service.instance.id and gonogo.run.id (the run id),
// gonogo.scenario (the scenario names, comma-separated) and the run's
// labels (--label version=v2); its one scope is "gonogo". The metrics are
// outputs.Collector's and the percentiles, with cumulative temporality
// from the run's time zero: requests, drops and output tokens as monotonic
// Sums, in-flight and the percentiles as Gauges, latency, TTFT, chunk gap,
// TPOT and scheduling lag as explicit-bucket Histograms in seconds with
// the bounds of /metrics. Prometheus's OTLP translation of these names and
// units gives the names of remote-write and /metrics back
// (gonogo.latency in s → gonogo_latency_seconds).
//
// The request is encoded by hand with protowire, following the field
// numbers of opentelemetry-proto's metrics.proto; the tests decode it with
// the official schema (descriptors taken from go.opentelemetry.io/proto/otlp,
// see testdata). Retries follow the OTLP/HTTP spec: 429, 502, 503 and 504
// (and network errors) are retried, honouring Retry-After, within the push
// interval; a partial success that rejected points counts as a failed push.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gonogo-dev/gonogo/outputs"
)

// Name is the output's registered name.
const Name = "otlp"

// ContentType is the content type of OTLP/HTTP protobuf.
const ContentType = "application/x-protobuf"

// ScopeName is the instrumentation scope of every metric.
const ScopeName = "gonogo"

func init() {
	outputs.Register(Name, func(cfg outputs.Config) (outputs.Output, error) { return New(cfg) })
}

// Output pushes snapshots to an OTLP/HTTP receiver. Create it with New.
type Output struct{ ep *outputs.Endpoint }

var (
	_ outputs.Output = (*Output)(nil)
	_ fmt.Stringer   = (*Output)(nil)
)

// New checks cfg (an http(s) URL, the full path: http://HOST:4318/v1/metrics;
// a readable token file) and returns the output; its errors wrap
// outputs.ErrInput.
func New(cfg outputs.Config) (*Output, error) {
	ep, err := cfg.Endpoint(http.Header{"Content-Type": {ContentType}}, nil)
	if err != nil {
		return nil, err
	}
	ep.Retryable, ep.Check = Retryable, checkResponse
	return &Output{ep}, nil
}

// String says what the output is, without credentials.
func (o *Output) String() string { return Name + " " + o.ep.Shown }

// Push encodes s and sends it.
func (o *Output) Push(ctx context.Context, s *outputs.Snapshot) error {
	return o.ep.Post(ctx, o.ep.URL, Encode(s))
}

// Close does nothing: each push is a request of its own.
func (o *Output) Close() error { return nil }

// Retryable says which statuses OTLP/HTTP retries: 429, 502, 503, 504.
func Retryable(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// ErrPartial is a push the receiver took only in part.
var ErrPartial = errors.New("otlp: partial success")

// checkResponse turns a partial success that rejected data points into an
// error; an answer that is not protobuf is taken as a success.
func checkResponse(resp *http.Response, body []byte) error {
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), ContentType) || len(body) == 0 {
		return nil
	}
	rejected, msg, err := DecodeResponse(body)
	if err != nil {
		return fmt.Errorf("otlp: unreadable answer: %w", err)
	}
	if rejected > 0 {
		return fmt.Errorf("%w: %d data points rejected: %s", ErrPartial, rejected, msg)
	}
	return nil
}

// DecodeResponse reads an ExportMetricsServiceResponse: the data points
// its partial_success rejected and its message.
func DecodeResponse(b []byte) (rejected int64, msg string, err error) {
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType { // partial_success
			return nil
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
			switch {
			case num == 1 && typ == protowire.VarintType: // rejected_data_points
				rejected = int64(x)
			case num == 2 && typ == protowire.BytesType: // error_message
				msg = string(v)
			}
			return nil
		})
	})
	return rejected, msg, err
}

// eachField calls f for every field of the message b: bytes fields with
// their content, varint and fixed fields with their value.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var (
			v []byte
			x uint64
		)
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b)
			x = uint64(x32)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// Field numbers of opentelemetry-proto (collector/metrics/v1,
// metrics/v1, common/v1, resource/v1).
const (
	fRequestResourceMetrics = 1 // ExportMetricsServiceRequest.resource_metrics
	fRMResource             = 1 // ResourceMetrics.resource
	fRMScopeMetrics         = 2 // ResourceMetrics.scope_metrics
	fResourceAttributes     = 1 // Resource.attributes
	fSMScope                = 1 // ScopeMetrics.scope
	fSMMetrics              = 2 // ScopeMetrics.metrics
	fScopeName              = 1 // InstrumentationScope.name
	fMetricName             = 1
	fMetricDescription      = 2
	fMetricUnit             = 3
	fMetricGauge            = 5
	fMetricSum              = 7
	fMetricHistogram        = 9
	fDataPoints             = 1 // Gauge, Sum, Histogram .data_points
	fTemporality            = 2 // Sum, Histogram .aggregation_temporality
	fSumMonotonic           = 3
	fNDPStart               = 2 // NumberDataPoint.start_time_unix_nano (fixed64)
	fNDPTime                = 3 // NumberDataPoint.time_unix_nano (fixed64)
	fNDPDouble              = 4 // NumberDataPoint.as_double
	fNDPInt                 = 6 // NumberDataPoint.as_int (sfixed64)
	fNDPAttributes          = 7
	fHDPStart               = 2 // HistogramDataPoint.start_time_unix_nano
	fHDPTime                = 3
	fHDPCount               = 4 // fixed64
	fHDPSum                 = 5 // double
	fHDPBucketCounts        = 6 // packed fixed64
	fHDPBounds              = 7 // packed double
	fHDPAttributes          = 9
	fKVKey                  = 1
	fKVValue                = 2
	fAnyString              = 1 // AnyValue.string_value

	temporalityCumulative = 2 // AGGREGATION_TEMPORALITY_CUMULATIVE
)

// Encode returns the ExportMetricsServiceRequest of s.
func Encode(s *outputs.Snapshot) []byte {
	var res []byte
	for _, kv := range resourceAttributes(s) {
		res = appendKV(res, fResourceAttributes, kv.Name, kv.Value)
	}
	var scope []byte
	scope = protowire.AppendTag(scope, fSMScope, protowire.BytesType)
	scope = protowire.AppendBytes(scope, protowire.AppendString(protowire.AppendTag(nil, fScopeName, protowire.BytesType), ScopeName))
	start, now := uint64(s.Start.UnixNano()), uint64(s.Time.UnixNano())
	var metric, data, dp []byte
	for i := 0; i < len(s.Series); {
		m := s.Series[i].Metric
		j := i
		for j < len(s.Series) && s.Series[j].Metric == m {
			j++
		}
		data = data[:0]
		for _, sr := range s.Series[i:j] {
			dp = appendPoint(dp[:0], m, sr, start, now)
			data = protowire.AppendTag(data, fDataPoints, protowire.BytesType)
			data = protowire.AppendBytes(data, dp)
		}
		switch m.Kind {
		case outputs.Counter:
			data = protowire.AppendTag(data, fTemporality, protowire.VarintType)
			data = protowire.AppendVarint(data, temporalityCumulative)
			data = protowire.AppendTag(data, fSumMonotonic, protowire.VarintType)
			data = protowire.AppendVarint(data, 1)
		case outputs.Histogram:
			data = protowire.AppendTag(data, fTemporality, protowire.VarintType)
			data = protowire.AppendVarint(data, temporalityCumulative)
		}
		metric = protowire.AppendTag(metric[:0], fMetricName, protowire.BytesType)
		metric = protowire.AppendString(metric, m.OTelName)
		metric = protowire.AppendTag(metric, fMetricDescription, protowire.BytesType)
		metric = protowire.AppendString(metric, m.Help)
		if m.Unit != "" {
			metric = protowire.AppendTag(metric, fMetricUnit, protowire.BytesType)
			metric = protowire.AppendString(metric, m.Unit)
		}
		metric = protowire.AppendTag(metric, dataField(m.Kind), protowire.BytesType)
		metric = protowire.AppendBytes(metric, data)
		scope = protowire.AppendTag(scope, fSMMetrics, protowire.BytesType)
		scope = protowire.AppendBytes(scope, metric)
		i = j
	}
	var rm []byte
	rm = protowire.AppendTag(rm, fRMResource, protowire.BytesType)
	rm = protowire.AppendBytes(rm, res)
	rm = protowire.AppendTag(rm, fRMScopeMetrics, protowire.BytesType)
	rm = protowire.AppendBytes(rm, scope)
	out := protowire.AppendTag(nil, fRequestResourceMetrics, protowire.BytesType)
	return protowire.AppendBytes(out, rm)
}

func dataField(k outputs.Kind) protowire.Number {
	switch k {
	case outputs.Counter:
		return fMetricSum
	case outputs.Histogram:
		return fMetricHistogram
	}
	return fMetricGauge
}

// appendPoint appends the data point of one series: a HistogramDataPoint
// for a histogram, else a NumberDataPoint (as_int for counters, as_double
// for gauges). Cumulative points start at the run's time zero.
func appendPoint(b []byte, m *outputs.Metric, sr outputs.Series, start, now uint64) []byte {
	if m.Kind == outputs.Histogram {
		h := sr.Hist
		for _, l := range sr.Labels {
			if l.Value != "" {
				b = appendKV(b, fHDPAttributes, l.Name, l.Value)
			}
		}
		b = protowire.AppendTag(b, fHDPStart, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, start)
		b = protowire.AppendTag(b, fHDPTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, now)
		b = protowire.AppendTag(b, fHDPCount, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, h.Count)
		b = protowire.AppendTag(b, fHDPSum, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(h.Sum))
		b = protowire.AppendTag(b, fHDPBucketCounts, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(8*len(h.Counts)))
		for _, c := range h.Counts {
			b = protowire.AppendFixed64(b, c)
		}
		b = protowire.AppendTag(b, fHDPBounds, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(8*len(h.Bounds)))
		for _, f := range h.Bounds {
			b = protowire.AppendFixed64(b, math.Float64bits(f))
		}
		return b
	}
	for _, l := range sr.Labels {
		if l.Value != "" {
			b = appendKV(b, fNDPAttributes, l.Name, l.Value)
		}
	}
	if m.Kind == outputs.Counter {
		b = protowire.AppendTag(b, fNDPStart, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, start)
	}
	b = protowire.AppendTag(b, fNDPTime, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, now)
	if m.Kind == outputs.Counter {
		b = protowire.AppendTag(b, fNDPInt, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, uint64(int64(sr.Value)))
	}
	b = protowire.AppendTag(b, fNDPDouble, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(sr.Value))
}

// appendKV appends a KeyValue with a string value as field num; invalid
// UTF-8 is replaced, as proto3 decoders refuse it.
func appendKV(b []byte, num protowire.Number, key, value string) []byte {
	var av, kv []byte
	av = protowire.AppendTag(av, fAnyString, protowire.BytesType)
	av = protowire.AppendString(av, strings.ToValidUTF8(value, "\uFFFD"))
	kv = protowire.AppendTag(kv, fKVKey, protowire.BytesType)
	kv = protowire.AppendString(kv, strings.ToValidUTF8(key, "\uFFFD"))
	kv = protowire.AppendTag(kv, fKVValue, protowire.BytesType)
	kv = protowire.AppendBytes(kv, av)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, kv)
}

// resourceAttributes are the resource's attributes: service.name,
// service.instance.id, gonogo.run.id, gonogo.scenario and the run's labels
// (a label named like one of those is sent as gonogo.label.NAME).
func resourceAttributes(s *outputs.Snapshot) []outputs.Label {
	out := []outputs.Label{
		{Name: "service.name", Value: "gonogo"},
		{Name: "service.instance.id", Value: s.RunID},
		{Name: "gonogo.run.id", Value: s.RunID},
		{Name: "gonogo.scenario", Value: strings.Join(s.Scenarios, ",")},
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		name := k
		if slices.ContainsFunc(out, func(l outputs.Label) bool { return l.Name == name }) {
			name = "gonogo.label." + k
		}
		out = append(out, outputs.Label{Name: name, Value: s.Labels[k]})
	}
	return slices.DeleteFunc(out, func(l outputs.Label) bool { return l.Value == "" })
}
