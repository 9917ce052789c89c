// Package otlptraces sends, when a run ends, a client span for each of its
// slowest requests as OpenTelemetry traces over OTLP/HTTP: an
// ExportTraceServiceRequest protobuf POSTed to the receiver's /v1/traces
// (an OpenTelemetry Collector, Jaeger, Tempo) with Content-Type:
// application/x-protobuf.
//
// The spans are those of run.json's slowest_requests (--samples), which
// carry the trace context gonogo sent in their traceparent header
// (--traceparent): each span has the request's trace id, its span id is
// the parent id the server saw, so the server's own spans of that request
// hang under it in the same trace. A span starts at the actual send and
// ends at completion; it has kind CLIENT, status ERROR for a failed
// request, and the attributes gonogo.request.id, gonogo.scenario,
// http.response.status_code and gonogo.latency_ms (from the intended send
// time). Requests without a trace id are skipped. The resource is that of
// package otlp's metrics (service.name "gonogo", gonogo.run.id, labels).
//
// The request is encoded by hand with protowire, following the field
// numbers of opentelemetry-proto's trace.proto, as package otlp encodes
// metrics; its retries are otlp's.
package otlptraces

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gonogo-dev/gonogo/extensions/ndjson"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/outputs/otlp"
	"github.com/gonogo-dev/gonogo/reports"
)

// Name is the output's registered name.
const Name = "otlp-traces"

func init() {
	outputs.Register(Name, func(cfg outputs.Config) (outputs.Output, error) { return New(cfg) })
}

// Output sends the slowest requests' spans on the final snapshot. Create
// it with New.
type Output struct{ ep *outputs.Endpoint }

var (
	_ outputs.Output = (*Output)(nil)
	_ fmt.Stringer   = (*Output)(nil)
)

// New checks cfg (an http(s) URL, the full path:
// http://HOST:4318/v1/traces; a readable token file) and returns the
// output; its errors wrap outputs.ErrInput.
func New(cfg outputs.Config) (*Output, error) {
	ep, err := cfg.Endpoint(http.Header{"Content-Type": {otlp.ContentType}}, nil)
	if err != nil {
		return nil, err
	}
	ep.Retryable = otlp.Retryable
	return &Output{ep}, nil
}

// String says what the output is, without credentials.
func (o *Output) String() string { return Name + " " + o.ep.Shown }

// Push sends nothing until the final snapshot; then it reads run.json
// from the results directory and sends the spans of its slowest requests
// that have a trace id, if any.
func (o *Output) Push(ctx context.Context, s *outputs.Snapshot) error {
	if s.Final == nil {
		return nil
	}
	run, err := reports.ReadRunJSON(s.Final.Dir)
	if err != nil {
		return fmt.Errorf("otlp-traces: %w", err)
	}
	b, n := Encode(s, run.Started, run.Slowest)
	if n == 0 {
		return nil
	}
	return o.ep.Post(ctx, o.ep.URL, b)
}

// Close does nothing: the spans go in one request.
func (o *Output) Close() error { return nil }

// Field numbers of opentelemetry-proto (collector/trace/v1, trace/v1,
// common/v1, resource/v1).
const (
	fRequestResourceSpans = 1 // ExportTraceServiceRequest.resource_spans
	fRSResource           = 1 // ResourceSpans.resource
	fRSScopeSpans         = 2 // ResourceSpans.scope_spans
	fResourceAttributes   = 1 // Resource.attributes
	fSSScope              = 1 // ScopeSpans.scope
	fSSSpans              = 2 // ScopeSpans.spans
	fScopeName            = 1 // InstrumentationScope.name
	fSpanTraceID          = 1 // bytes
	fSpanSpanID           = 2 // bytes
	fSpanName             = 5
	fSpanKind             = 6
	fSpanStart            = 7 // fixed64
	fSpanEnd              = 8 // fixed64
	fSpanAttributes       = 9
	fSpanStatus           = 15
	fSpanFlags            = 16 // fixed32
	fStatusMessage        = 2
	fStatusCode           = 3
	fKVKey                = 1
	fKVValue              = 2
	fAnyString            = 1 // AnyValue.string_value
	fAnyInt               = 3 // AnyValue.int_value
	fAnyDouble            = 4 // AnyValue.double_value

	kindClient      = 3 // SPAN_KIND_CLIENT
	statusError     = 2 // STATUS_CODE_ERROR
	flagSampled     = 1 // W3C sampled
	flagHasIsRemote = 0x100
)

// Encode returns the ExportTraceServiceRequest of the samples that have a
// trace id, with times from start (run.json's started), and how many spans
// it holds.
func Encode(s *outputs.Snapshot, start time.Time, samples []ndjson.Sample) ([]byte, int) {
	var spans []byte
	n := 0
	for i := range samples {
		sp, ok := appendSpan(nil, start, &samples[i])
		if !ok {
			continue
		}
		spans = protowire.AppendTag(spans, fSSSpans, protowire.BytesType)
		spans = protowire.AppendBytes(spans, sp)
		n++
	}
	var res []byte
	for _, kv := range []outputs.Label{{Name: "service.name", Value: "gonogo"}, {Name: "service.instance.id", Value: s.RunID},
		{Name: "gonogo.run.id", Value: s.RunID}} {
		if kv.Value != "" {
			res = appendKV(res, fResourceAttributes, kv.Name, kv.Value)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		res = appendKV(res, fResourceAttributes, "gonogo.label."+k, s.Labels[k])
	}
	scope := protowire.AppendTag(nil, fSSScope, protowire.BytesType)
	scope = protowire.AppendBytes(scope, protowire.AppendString(protowire.AppendTag(nil, fScopeName, protowire.BytesType), otlp.ScopeName))
	scope = append(scope, spans...)
	rs := protowire.AppendTag(nil, fRSResource, protowire.BytesType)
	rs = protowire.AppendBytes(rs, res)
	rs = protowire.AppendTag(rs, fRSScopeSpans, protowire.BytesType)
	rs = protowire.AppendBytes(rs, scope)
	b := protowire.AppendTag(nil, fRequestResourceSpans, protowire.BytesType)
	return protowire.AppendBytes(b, rs), n
}

// appendSpan appends the Span of one sample; false when it has no valid
// trace context.
func appendSpan(b []byte, start time.Time, s *ndjson.Sample) ([]byte, bool) {
	traceID, err1 := hex.DecodeString(s.TraceID)
	spanID, err2 := hex.DecodeString(s.SpanID)
	if err1 != nil || err2 != nil || len(traceID) != 16 || len(spanID) != 8 {
		return b, false
	}
	sent := start.Add(msDur(s.AtMs + s.LagMs))
	done := sent.Add(msDur(s.ServiceMs))
	b = protowire.AppendTag(b, fSpanTraceID, protowire.BytesType)
	b = protowire.AppendBytes(b, traceID)
	b = protowire.AppendTag(b, fSpanSpanID, protowire.BytesType)
	b = protowire.AppendBytes(b, spanID)
	b = protowire.AppendTag(b, fSpanName, protowire.BytesType)
	b = protowire.AppendString(b, "gonogo "+s.Scenario)
	b = protowire.AppendTag(b, fSpanKind, protowire.VarintType)
	b = protowire.AppendVarint(b, kindClient)
	b = protowire.AppendTag(b, fSpanStart, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(sent.UnixNano()))
	b = protowire.AppendTag(b, fSpanEnd, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(done.UnixNano()))
	b = appendKV(b, fSpanAttributes, "gonogo.request.id", strconv.FormatUint(s.ID, 10))
	b = appendKV(b, fSpanAttributes, "gonogo.scenario", s.Scenario)
	b = appendNum(b, "gonogo.latency_ms", s.LatencyMs)
	if s.Status != 0 {
		b = appendInt(b, "http.response.status_code", int64(s.Status))
	}
	if s.Class != "" {
		st := protowire.AppendTag(nil, fStatusMessage, protowire.BytesType)
		st = protowire.AppendString(st, strings.ToValidUTF8(s.Class+": "+s.Err, "\uFFFD"))
		st = protowire.AppendTag(st, fStatusCode, protowire.VarintType)
		st = protowire.AppendVarint(st, statusError)
		b = protowire.AppendTag(b, fSpanStatus, protowire.BytesType)
		b = protowire.AppendBytes(b, st)
	}
	flags := uint32(flagHasIsRemote) // has_is_remote set, is_remote clear: gonogo's own span
	if s.Sampled {
		flags |= flagSampled
	}
	b = protowire.AppendTag(b, fSpanFlags, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, flags), true
}

func msDur(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

func appendKV(b []byte, num protowire.Number, key, value string) []byte {
	av := protowire.AppendTag(nil, fAnyString, protowire.BytesType)
	av = protowire.AppendString(av, strings.ToValidUTF8(value, "\uFFFD"))
	return appendAttr(b, num, key, av)
}

func appendInt(b []byte, key string, v int64) []byte {
	av := protowire.AppendTag(nil, fAnyInt, protowire.VarintType)
	return appendAttr(b, fSpanAttributes, key, protowire.AppendVarint(av, uint64(v)))
}

func appendNum(b []byte, key string, v float64) []byte {
	av := protowire.AppendTag(nil, fAnyDouble, protowire.Fixed64Type)
	return appendAttr(b, fSpanAttributes, key, protowire.AppendFixed64(av, math.Float64bits(v)))
}

func appendAttr(b []byte, num protowire.Number, key string, av []byte) []byte {
	kv := protowire.AppendTag(nil, fKVKey, protowire.BytesType)
	kv = protowire.AppendString(kv, strings.ToValidUTF8(key, "\uFFFD"))
	kv = protowire.AppendTag(kv, fKVValue, protowire.BytesType)
	kv = protowire.AppendBytes(kv, av)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, kv)
}
