package otlp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/gonogo-dev/gonogo/outputs"
)

// schemaFile is the official OTLP metrics schema (testdata/README.md).
const schemaFile = "testdata/otlp-metrics-v1.11.1.binpb"

var (
	schemaOnce sync.Once
	schema     *otlpSchema
	schemaErr  error
)

// otlpSchema holds the descriptors of the metrics service's messages.
type otlpSchema struct {
	request, response protoreflect.MessageDescriptor
}

// officialSchema loads the request and response descriptors of OTLP's
// metrics service from testdata.
func officialSchema(t testing.TB) *otlpSchema {
	t.Helper()
	schemaOnce.Do(func() {
		b, err := os.ReadFile(schemaFile)
		if err != nil {
			schemaErr = err
			return
		}
		var set descriptorpb.FileDescriptorSet
		if schemaErr = proto.Unmarshal(b, &set); schemaErr != nil {
			return
		}
		files, err := protodesc.NewFiles(&set)
		if err != nil {
			schemaErr = err
			return
		}
		find := func(name string) protoreflect.MessageDescriptor {
			d, err := files.FindDescriptorByName(protoreflect.FullName(name))
			if err != nil {
				schemaErr = err
				return nil
			}
			return d.(protoreflect.MessageDescriptor)
		}
		schema = &otlpSchema{
			request:  find("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest"),
			response: find("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse"),
		}
	})
	if schemaErr != nil {
		t.Fatalf("the official OTLP schema: %v", schemaErr)
	}
	return schema
}

// decodeOfficial decodes an ExportMetricsServiceRequest with the official
// schema, refuses unknown fields anywhere in it, and returns it as
// protojson's JSON (proto field names), decoded into Go values.
func decodeOfficial(t testing.TB, body []byte) map[string]any {
	t.Helper()
	msg := dynamicpb.NewMessage(officialSchema(t).request)
	if err := (proto.UnmarshalOptions{}).Unmarshal(body, msg); err != nil {
		t.Fatalf("the official schema refuses the request: %v", err)
	}
	if err := noUnknown(msg); err != nil {
		t.Fatal(err)
	}
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// noUnknown reports a field the schema does not know, anywhere in m.
func noUnknown(m protoreflect.Message) error {
	if len(m.GetUnknown()) > 0 {
		return fmt.Errorf("%s holds fields the official schema does not know", m.Descriptor().FullName())
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil:
		case fd.IsList():
			for i := 0; i < v.List().Len() && err == nil; i++ {
				err = noUnknown(v.List().Get(i).Message())
			}
		case fd.IsMap():
		default:
			err = noUnknown(v.Message())
		}
		return err == nil
	})
	return err
}

// path walks decoded JSON: keys of objects, indexes of arrays.
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// attrs reads a list of KeyValue with string values.
func attrs(v any) map[string]string {
	out := map[string]string{}
	list, _ := v.([]any)
	for _, kv := range list {
		out[path(kv, "key").(string)] = fmt.Sprint(path(kv, "value", "string_value"))
	}
	return out
}

// metricsByName indexes the metrics of the request's one scope.
func metricsByName(t *testing.T, req map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	list, _ := path(req, "resource_metrics", 0, "scope_metrics", 0, "metrics").([]any)
	for _, m := range list {
		mm := m.(map[string]any)
		name := mm["name"].(string)
		if _, dup := out[name]; dup {
			t.Errorf("metric %s sent twice", name)
		}
		out[name] = mm
	}
	return out
}

func snapshot() *outputs.Snapshot {
	return &outputs.Snapshot{
		Time: time.Unix(1_700_000_010, 5), Start: time.Unix(1_700_000_000, 0), RunID: "run-7",
		Scenarios: []string{"chat", "embed"}, Labels: map[string]string{"version": "v2", "service.name": "mine"},
		Series: []outputs.Series{
			{Metric: outputs.Requests, Labels: outputs.Labels("class", "ok", "scenario", "chat"), Value: 7},
			{Metric: outputs.Requests, Labels: outputs.Labels("class", "http_5xx", "scenario", "chat"), Value: 2},
			{Metric: outputs.InFlight, Value: 3},
			{Metric: outputs.Latency, Labels: outputs.Labels("scenario", "chat"), Hist: &outputs.HistogramValue{
				Bounds: []float64{0.1, 0.25, 1}, Counts: []uint64{2, 0, 4, 1}, Count: 7, Sum: 3.5}},
			{Metric: outputs.RunQuantile, Labels: outputs.Labels("group", "", "metric", "latency", "quantile", "0.99"), Value: 0.875},
		},
	}
}

func TestEncodeOfficialSchema(t *testing.T) {
	req := decodeOfficial(t, Encode(snapshot()))
	res := attrs(path(req, "resource_metrics", 0, "resource", "attributes"))
	for k, want := range map[string]string{
		"service.name": "gonogo", "service.instance.id": "run-7", "gonogo.run.id": "run-7",
		"gonogo.scenario": "chat,embed", "version": "v2", "gonogo.label.service.name": "mine",
	} {
		if res[k] != want {
			t.Errorf("resource %s = %q, want %q (all: %v)", k, res[k], want, res)
		}
	}
	if got := path(req, "resource_metrics", 0, "scope_metrics", 0, "scope", "name"); got != ScopeName {
		t.Errorf("scope %v, want %s", got, ScopeName)
	}
	ms := metricsByName(t, req)
	if len(ms) != 4 {
		t.Errorf("%d metrics, want 4", len(ms))
	}
	start, now := "1700000000000000000", "1700000010000000005"

	reqs := ms["gonogo.requests"]
	if reqs["unit"] != "{request}" || path(reqs, "sum", "aggregation_temporality") != "AGGREGATION_TEMPORALITY_CUMULATIVE" || path(reqs, "sum", "is_monotonic") != true {
		t.Errorf("gonogo.requests: %v, want a cumulative monotonic sum of {request}", reqs)
	}
	for i, want := range []struct {
		class string
		n     string
	}{{"ok", "7"}, {"http_5xx", "2"}} {
		dp := path(reqs, "sum", "data_points", i)
		a := attrs(path(dp, "attributes"))
		if a["class"] != want.class || a["scenario"] != "chat" || path(dp, "as_int") != want.n ||
			path(dp, "start_time_unix_nano") != start || path(dp, "time_unix_nano") != now {
			t.Errorf("requests point %d: %v, want class %s = %s from the run's start", i, dp, want.class, want.n)
		}
	}
	if dp := path(ms["gonogo.inflight"], "gauge", "data_points", 0); path(dp, "as_int") != nil || path(dp, "as_double") != 3.0 {
		t.Errorf("inflight point %v, want a gauge of 3", dp)
	}
	lat := ms["gonogo.latency"]
	dp := path(lat, "histogram", "data_points", 0)
	if lat["unit"] != "s" || path(lat, "histogram", "aggregation_temporality") != "AGGREGATION_TEMPORALITY_CUMULATIVE" {
		t.Errorf("gonogo.latency: %v, want a cumulative histogram in s", lat)
	}
	if fmt.Sprint(path(dp, "bucket_counts")) != "[2 0 4 1]" || fmt.Sprint(path(dp, "explicit_bounds")) != "[0.1 0.25 1]" ||
		path(dp, "count") != "7" || path(dp, "sum") != 3.5 || path(dp, "start_time_unix_nano") != start || attrs(path(dp, "attributes"))["scenario"] != "chat" {
		t.Errorf("latency point %v", dp)
	}
	q := path(ms["gonogo.run_quantile"], "gauge", "data_points", 0)
	if a := attrs(path(q, "attributes")); path(q, "as_double") != 0.875 || a["quantile"] != "0.99" || len(a) != 2 {
		t.Errorf("run quantile point %v, want 0.875 with metric and quantile (an empty group left out)", q)
	}
}

// TestEncodeMetricNames checks that every metric is sent under its OTel
// name and that Prometheus's translation of name and unit gives its
// Prometheus name back.
func TestEncodeMetricNames(t *testing.T) {
	for _, m := range []*outputs.Metric{outputs.Requests, outputs.Dropped, outputs.OutputTokens, outputs.InFlight, outputs.Latency,
		outputs.LatencyFailed, outputs.TTFT, outputs.ChunkGap, outputs.TPOT, outputs.SchedulingLag, outputs.WindowQuantile, outputs.RunQuantile} {
		name := strings.ReplaceAll(m.OTelName, ".", "_")
		if m.Unit == "s" {
			name += "_seconds"
		}
		if m.Kind == outputs.Counter {
			name += "_total"
		}
		if name != m.Name {
			t.Errorf("%s in %q translates to %s, want %s", m.OTelName, m.Unit, name, m.Name)
		}
	}
}

func TestPush(t *testing.T) {
	var (
		mu     sync.Mutex
		header http.Header
		body   []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		header, body = r.Header.Clone(), b
		mu.Unlock()
		if r.URL.Path != "/v1/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		_, _ = w.Write(nil) // an empty ExportMetricsServiceResponse: full success
	}))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(tok, []byte("otlp-s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := New(outputs.Config{URL: srv.URL + "/v1/metrics", TokenFile: tok})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Push(context.Background(), snapshot()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if header.Get("Content-Type") != ContentType || header.Get("Authorization") != "Bearer otlp-s3cret" {
		t.Errorf("headers %v", header)
	}
	decodeOfficial(t, body)
}

// response encodes an ExportMetricsServiceResponse with the official
// schema.
func response(t *testing.T, rejected int64, msg string) []byte {
	d := officialSchema(t).response
	m := dynamicpb.NewMessage(d)
	ps := m.Mutable(d.Fields().ByName("partial_success")).Message()
	ps.Set(ps.Descriptor().Fields().ByName("rejected_data_points"), protoreflect.ValueOfInt64(rejected))
	ps.Set(ps.Descriptor().Fields().ByName("error_message"), protoreflect.ValueOfString(msg))
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPartialSuccess(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     []byte
		ctype    string
		wantErr  error
		contains string
	}{
		{"rejected points", response(t, 3, "bad units"), ContentType, ErrPartial, "3 data points rejected: bad units"},
		{"a warning only", response(t, 0, "slow down"), ContentType, nil, ""},
		{"JSON answer is not read", []byte(`{"partialSuccess":{"rejectedDataPoints":"3"}}`), "application/json", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				_, _ = w.Write(tc.body)
			}))
			defer srv.Close()
			o, err := New(outputs.Config{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			err = o.Push(context.Background(), snapshot())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr != nil && !strings.Contains(err.Error(), tc.contains)) {
				t.Errorf("err = %v, want %v containing %q", err, tc.wantErr, tc.contains)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	for code, want := range map[int]bool{429: true, 502: true, 503: true, 504: true, 500: false, 400: false, 401: false, 413: false} {
		if Retryable(code) != want {
			t.Errorf("Retryable(%d) = %v, want %v", code, !want, want)
		}
	}
}

// FuzzDecodeResponse checks the response reader on any input: no panic,
// and on a response the official schema encodes, the same numbers.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(int64(3), "bad", []byte{})
	f.Add(int64(-1), "", []byte{0x0a, 0xff})
	f.Add(int64(math.MaxInt64), "x", []byte{0x08, 0x80})
	f.Fuzz(func(t *testing.T, rejected int64, msg string, junk []byte) {
		_, _, _ = DecodeResponse(junk)
		b := response(t, rejected, strings.ToValidUTF8(msg, ""))
		got, gotMsg, err := DecodeResponse(b)
		if err != nil || got != rejected || gotMsg != strings.ToValidUTF8(msg, "") {
			t.Errorf("DecodeResponse = %d, %q, %v; want %d, %q", got, gotMsg, err, rejected, msg)
		}
		// Unknown fields around the partial success are skipped.
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendBytes(b, junk)
		if got, _, err := DecodeResponse(b); err != nil || got != rejected {
			t.Errorf("with an unknown field: %d, %v", got, err)
		}
	})
}

// FuzzEncode checks that any snapshot encodes to a request the official
// schema decodes without unknown fields: labels that are not UTF-8
// included (proto3 decoders refuse such strings, so they are repaired).
func FuzzEncode(f *testing.F) {
	f.Add("chat", "ok", "version", "v2", 1.5, uint64(3), 0.25)
	f.Add("", "", "service.name", "", math.NaN(), uint64(0), math.Inf(-1))
	f.Fuzz(func(t *testing.T, scen, class, lk, lv string, v float64, n uint64, bound float64) {
		s := &outputs.Snapshot{Time: time.Unix(0, 7), RunID: "r", Scenarios: []string{scen}, Labels: map[string]string{lk: lv},
			Series: []outputs.Series{
				{Metric: outputs.Requests, Labels: outputs.Labels("class", class, "scenario", scen), Value: v},
				{Metric: outputs.TTFT, Labels: outputs.Labels("scenario", scen), Hist: &outputs.HistogramValue{
					Bounds: []float64{bound}, Counts: []uint64{n, 1}, Count: n + 1, Sum: v}},
				{Metric: outputs.WindowQuantile, Labels: outputs.Labels("group", scen), Value: v},
			}}
		msg := dynamicpb.NewMessage(officialSchema(t).request)
		if err := (proto.UnmarshalOptions{}).Unmarshal(Encode(s), msg); err != nil {
			t.Fatal(err) // strings that are not UTF-8, for one, would be refused
		}
		if err := noUnknown(msg); err != nil {
			t.Fatal(err)
		}
	})
}
