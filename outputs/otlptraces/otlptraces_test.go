package otlptraces

import (
	"context"
	"encoding/hex"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gonogo-dev/gonogo/extensions/ndjson"
	"github.com/gonogo-dev/gonogo/outputs"
	"github.com/gonogo-dev/gonogo/reports"
)

// span is what the tests read back from a Span.
type span struct {
	traceID, spanID, name string
	kind                  uint64
	start, end            uint64
	flags                 uint32
	statusCode            uint64
	attrs                 map[string]string // string values; ints and doubles formatted
}

// field walks the fields of one message, calling f for each.
func fields(t *testing.T, b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
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
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		f(num, typ, v, x)
	}
}

// decode reads an ExportTraceServiceRequest's spans and resource
// attributes.
func decode(t *testing.T, b []byte) (resource map[string]string, spans []span) {
	resource = map[string]string{}
	attr := func(dst map[string]string, kv []byte) {
		var k, val string
		fields(t, kv, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
			switch num {
			case 1:
				k = string(v)
			case 2:
				fields(t, v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) {
					switch num {
					case 1:
						val = string(v)
					case 3:
						val = "int:" + hex.EncodeToString(protowire.AppendVarint(nil, x))
					case 4:
						val = "double"
						if math.Float64frombits(x) > 0 {
							val = "double>0"
						}
					}
				})
			}
		})
		dst[k] = val
	}
	fields(t, b, func(num protowire.Number, _ protowire.Type, rs []byte, _ uint64) {
		if num != 1 {
			t.Fatalf("request field %d", num)
		}
		fields(t, rs, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
			switch num {
			case 1:
				fields(t, v, func(_ protowire.Number, _ protowire.Type, kv []byte, _ uint64) { attr(resource, kv) })
			case 2:
				fields(t, v, func(num protowire.Number, _ protowire.Type, sp []byte, _ uint64) {
					if num != 2 {
						return
					}
					s := span{attrs: map[string]string{}}
					fields(t, sp, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) {
						switch num {
						case 1:
							s.traceID = hex.EncodeToString(v)
						case 2:
							s.spanID = hex.EncodeToString(v)
						case 5:
							s.name = string(v)
						case 6:
							s.kind = x
						case 7:
							s.start = x
						case 8:
							s.end = x
						case 9:
							attr(s.attrs, v)
						case 15:
							fields(t, v, func(num protowire.Number, _ protowire.Type, _ []byte, x uint64) {
								if num == 3 {
									s.statusCode = x
								}
							})
						case 16:
							s.flags = uint32(x)
						}
					})
					spans = append(spans, s)
				})
			}
		})
	})
	return resource, spans
}

func TestEncode(t *testing.T) {
	start := time.Unix(1700000000, 0)
	samples := []ndjson.Sample{
		{ID: 9, Scenario: "chat", AtMs: 1000, LagMs: 2, LatencyMs: 502, ServiceMs: 500, Status: 503, Class: "http_5xx", Err: "HTTP 503",
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Sampled: true},
		{ID: 10, Scenario: "chat", LatencyMs: 400}, // no trace id: skipped
		{ID: 11, Scenario: "chat", AtMs: 5, ServiceMs: 300, LatencyMs: 300, Status: 200,
			TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"},
	}
	b, n := Encode(&outputs.Snapshot{RunID: "run-1", Labels: map[string]string{"version": "v2"}}, start, samples)
	res, spans := decode(t, b)
	if n != 2 || len(spans) != 2 {
		t.Fatalf("%d spans (decoded %d), want 2", n, len(spans))
	}
	if res["service.name"] != "gonogo" || res["gonogo.run.id"] != "run-1" || res["gonogo.label.version"] != "v2" {
		t.Errorf("resource %v", res)
	}
	s := spans[0]
	wantStart := uint64(start.Add(1002 * time.Millisecond).UnixNano())
	if s.traceID != samples[0].TraceID || s.spanID != samples[0].SpanID || s.kind != kindClient || s.name != "gonogo chat" ||
		s.start != wantStart || s.end != wantStart+uint64(500*time.Millisecond) || s.flags != flagHasIsRemote|flagSampled ||
		s.statusCode != statusError || s.attrs["gonogo.request.id"] != "9" || s.attrs["gonogo.latency_ms"] != "double>0" ||
		s.attrs["http.response.status_code"] == "" {
		t.Errorf("span 0 = %+v", s)
	}
	if s := spans[1]; s.traceID != samples[2].TraceID || s.flags != flagHasIsRemote || s.statusCode != 0 {
		t.Errorf("span 1 = %+v", s)
	}
}

// On the final snapshot the output reads run.json and POSTs the spans;
// before it, and with no traced request, it sends nothing.
func TestPushFinal(t *testing.T) {
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/x-protobuf" || r.URL.Path != "/v1/traces" {
			t.Errorf("%s %s with %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, b)
	}))
	defer srv.Close()
	o, err := New(outputs.Config{URL: srv.URL + "/v1/traces", URLFlag: "--out-otlp-traces"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := &reports.Run{ID: "r", Started: time.Unix(1700000000, 0), Slowest: []ndjson.Sample{
		{ID: 1, Scenario: "s", LatencyMs: 10, ServiceMs: 10, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"}}}
	if err := reports.WriteRunJSON(dir, run); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := o.Push(ctx, &outputs.Snapshot{RunID: "r"}); err != nil || len(bodies) != 0 {
		t.Fatalf("live push: %v, %d requests", err, len(bodies))
	}
	if err := o.Push(ctx, &outputs.Snapshot{RunID: "r", Final: &outputs.Final{Dir: dir}}); err != nil || len(bodies) != 1 {
		t.Fatalf("final push: %v, %d requests", err, len(bodies))
	}
	if _, spans := decode(t, bodies[0]); len(spans) != 1 || spans[0].traceID != run.Slowest[0].TraceID {
		t.Errorf("spans %+v", spans)
	}
	run.Slowest[0].TraceID = ""
	if err := reports.WriteRunJSON(dir, run); err != nil {
		t.Fatal(err)
	}
	if err := o.Push(ctx, &outputs.Snapshot{RunID: "r", Final: &outputs.Final{Dir: dir}}); err != nil || len(bodies) != 1 {
		t.Errorf("untraced final push: %v, %d requests; want none sent", err, len(bodies))
	}
	if err := os.Remove(filepath.Join(dir, "run.json")); err != nil {
		t.Fatal(err)
	}
	if err := o.Push(ctx, &outputs.Snapshot{RunID: "r", Final: &outputs.Final{Dir: dir}}); err == nil {
		t.Error("missing run.json: no error")
	}
}
