package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gonogo-dev/gonogo"
	promout "github.com/gonogo-dev/gonogo/extensions/prometheus"
	"github.com/gonogo-dev/gonogo/outputs"
)

// sample is one decoded series of a WriteRequest: its labels in wire
// order and its one sample.
type sample struct {
	labels []outputs.Label
	value  float64
	tsMs   int64
}

// meta is one decoded MetricMetadata.
type meta struct {
	typ                uint64
	family, help, unit string
}

// decode reads a WriteRequest the way a receiver does, by the field
// numbers of prompb (types.proto, remote.proto). It is strict: an unknown
// field or a wrong wire type is an error.
func decode(b []byte) ([]sample, []meta, error) {
	var series []sample
	var metas []meta
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			var s sample
			n := 0
			err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				switch {
				case num == 1 && typ == protowire.BytesType:
					var l outputs.Label
					err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
						switch {
						case num == 1 && typ == protowire.BytesType:
							l.Name = string(v)
						case num == 2 && typ == protowire.BytesType:
							l.Value = string(v)
						default:
							return fmt.Errorf("label: field %d type %d", num, typ)
						}
						return nil
					})
					s.labels = append(s.labels, l)
					return err
				case num == 2 && typ == protowire.BytesType:
					n++
					return fields(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
						switch {
						case num == 1 && typ == protowire.Fixed64Type:
							s.value = math.Float64frombits(x)
						case num == 2 && typ == protowire.VarintType:
							s.tsMs = int64(x)
						default:
							return fmt.Errorf("sample: field %d type %d", num, typ)
						}
						return nil
					})
				}
				return fmt.Errorf("timeseries: field %d type %d", num, typ)
			})
			if err == nil && n != 1 {
				err = fmt.Errorf("%d samples in a series, want 1", n)
			}
			series = append(series, s)
			return err
		case num == 3 && typ == protowire.BytesType:
			var m meta
			err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == 1 && typ == protowire.VarintType:
					m.typ = x
				case num == 2 && typ == protowire.BytesType:
					m.family = string(v)
				case num == 4 && typ == protowire.BytesType:
					m.help = string(v)
				case num == 5 && typ == protowire.BytesType:
					m.unit = string(v)
				default:
					return fmt.Errorf("metadata: field %d type %d", num, typ)
				}
				return nil
			})
			metas = append(metas, m)
			return err
		}
		return fmt.Errorf("write request: field %d type %d", num, typ)
	})
	return series, metas, err
}

func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
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
		default:
			return fmt.Errorf("wire type %d", typ)
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

// text renders a decoded series as name{k="v",…} value.
func (s sample) text() string {
	var name string
	var ls []string
	for _, l := range s.labels {
		if l.Name == "__name__" {
			name = l.Value
			continue
		}
		ls = append(ls, fmt.Sprintf("%s=%q", l.Name, l.Value))
	}
	return fmt.Sprintf("%s{%s} %g", name, strings.Join(ls, ","), s.value)
}

func snapshot() *outputs.Snapshot {
	return &outputs.Snapshot{
		Time: time.UnixMilli(1_700_000_123_456), Start: time.UnixMilli(1_700_000_000_000), RunID: "r1",
		Labels: map[string]string{"version": "v2", "scenario": "clash", "job": "mine", "a-b": "x"},
		Series: []outputs.Series{
			{Metric: outputs.Requests, Labels: outputs.Labels("class", "ok", "scenario", "chat"), Value: 7},
			{Metric: outputs.Requests, Labels: outputs.Labels("class", "http_5xx", "scenario", "chat"), Value: 1},
			{Metric: outputs.InFlight, Value: 3},
			{Metric: outputs.Latency, Labels: outputs.Labels("scenario", "chat"), Hist: &outputs.HistogramValue{
				Bounds: []float64{0.1, 0.25, 1}, Counts: []uint64{2, 0, 4, 1}, Count: 7, Sum: 3.5}},
			{Metric: outputs.WindowQuantile, Labels: outputs.Labels("group", "", "metric", "latency", "quantile", "0.99", "window", "30s"), Value: 0.9},
		},
	}
}

func TestEncode(t *testing.T) {
	series, metas, err := decode(Encode(snapshot()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range series {
		if s.tsMs != 1_700_000_123_456 {
			t.Errorf("%s: timestamp %d, want the snapshot's in ms", s.text(), s.tsMs)
		}
		if !slices.IsSortedFunc(s.labels, func(a, b outputs.Label) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("%s: labels not sorted by name", s.text())
		}
		got = append(got, s.text())
	}
	run := `job="gonogo",label_job="mine",`
	want := []string{
		`gonogo_requests_total{a_b="x",class="ok",` + run + `label_scenario="clash",run_id="r1",scenario="chat",version="v2"} 7`,
		`gonogo_requests_total{a_b="x",class="http_5xx",` + run + `label_scenario="clash",run_id="r1",scenario="chat",version="v2"} 1`,
		`gonogo_inflight{a_b="x",` + run + `label_scenario="clash",run_id="r1",version="v2"} 3`,
		`gonogo_latency_seconds_bucket{a_b="x",` + run + `label_scenario="clash",le="0.1",run_id="r1",scenario="chat",version="v2"} 2`,
		`gonogo_latency_seconds_bucket{a_b="x",` + run + `label_scenario="clash",le="0.25",run_id="r1",scenario="chat",version="v2"} 2`,
		`gonogo_latency_seconds_bucket{a_b="x",` + run + `label_scenario="clash",le="1",run_id="r1",scenario="chat",version="v2"} 6`,
		`gonogo_latency_seconds_bucket{a_b="x",` + run + `label_scenario="clash",le="+Inf",run_id="r1",scenario="chat",version="v2"} 7`,
		`gonogo_latency_seconds_sum{a_b="x",` + run + `label_scenario="clash",run_id="r1",scenario="chat",version="v2"} 3.5`,
		`gonogo_latency_seconds_count{a_b="x",` + run + `label_scenario="clash",run_id="r1",scenario="chat",version="v2"} 7`,
		// group="" is absent, as Prometheus stores it.
		`gonogo_window_quantile{a_b="x",` + run + `label_scenario="clash",metric="latency",quantile="0.99",run_id="r1",version="v2",window="30s"} 0.9`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantMeta := []meta{
		{typeCounter, "gonogo_requests_total", outputs.Requests.Help, ""},
		{typeGauge, "gonogo_inflight", outputs.InFlight.Help, ""},
		{typeHistogram, "gonogo_latency_seconds", outputs.Latency.Help, "seconds"},
		{typeGauge, "gonogo_window_quantile", outputs.WindowQuantile.Help, ""},
	}
	if !slices.Equal(metas, wantMeta) {
		t.Errorf("metadata %+v\nwant %+v", metas, wantMeta)
	}
}

func TestLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"version": "version", "a-b.c": "a_b_c", "9lives": "_lives", "__x": "label__x", "": "_", "é": "label__", "ok_9": "ok_9",
	} {
		if got := LabelName(in); got != want {
			t.Errorf("LabelName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPush checks the request: method, the remote-write headers, the
// bearer token, and a snappy block that decodes to the WriteRequest.
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
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/write" {
			http.Error(w, "wrong method or path", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := New(outputs.Config{URL: srv.URL + "/api/v1/write", TokenFile: tokFile})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(o.String(), "s3cret") {
		t.Errorf("String() shows the token: %s", o)
	}
	s := snapshot()
	if err := o.Push(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, want := range map[string]string{
		"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0", "Authorization": "Bearer s3cret-token",
	} {
		if got := header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatalf("the body is not a snappy block: %v", err)
	}
	if string(raw) != string(Encode(s)) {
		t.Error("the body does not decode to the WriteRequest")
	}
}

func TestNewBadInput(t *testing.T) {
	for _, cfg := range []outputs.Config{
		{URL: "localhost:9090", URLFlag: "--out-remote-write"},
		{URL: "http://127.0.0.1:9090/api/v1/write", TokenFile: "/nonexistent/token", TokenFlag: "--out-remote-write-token-file"},
	} {
		_, err := New(cfg)
		flag := cfg.URLFlag + cfg.TokenFlag
		if !errors.Is(err, outputs.ErrInput) || !strings.Contains(err.Error(), flag) {
			t.Errorf("New(%+v) = %v, want ErrInput naming %s", cfg, err, flag)
		}
	}
}

// FuzzEncode checks that any snapshot encodes to a WriteRequest that
// decodes strictly, one series per counter and len(bounds)+3 per
// histogram, with every label sorted, unique and non-empty.
func FuzzEncode(f *testing.F) {
	f.Add("chat", "ok", "version", "v2", 1.5, uint64(3), 0.25)
	f.Add("", "", "__name__", "x", math.NaN(), uint64(0), math.Inf(1))
	f.Add("a\x00b", "é", "scenario", "", -1.0, uint64(1)<<63, -0.0)
	f.Fuzz(func(t *testing.T, scen, class, lk, lv string, v float64, n uint64, bound float64) {
		s := &outputs.Snapshot{Time: time.UnixMilli(5), RunID: "r", Labels: map[string]string{lk: lv},
			Series: []outputs.Series{
				{Metric: outputs.Requests, Labels: outputs.Labels("class", class, "scenario", scen), Value: v},
				{Metric: outputs.TTFT, Labels: outputs.Labels("scenario", scen), Hist: &outputs.HistogramValue{
					Bounds: []float64{bound}, Counts: []uint64{n, 1}, Count: n + 1, Sum: v}},
			}}
		series, metas, err := decode(Encode(s))
		if err != nil {
			t.Fatal(err)
		}
		if len(series) != 1+4 || len(metas) != 2 {
			t.Fatalf("%d series and %d metadata, want 5 and 2", len(series), len(metas))
		}
		for _, sr := range series {
			for i, l := range sr.labels {
				if l.Value == "" || i > 0 && sr.labels[i-1].Name >= l.Name {
					t.Fatalf("%s: labels empty, unsorted or repeated", sr.text())
				}
			}
		}
		if got := series[0].value; got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			t.Errorf("counter value %v, want %v", got, v)
		}
	})
}

// BenchmarkEncode encodes and compresses the snapshot of a run of three
// scenarios with every histogram and the percentiles, as each push does.
func BenchmarkEncode(b *testing.B) {
	c := outputs.NewCollector()
	t0 := time.Unix(1_700_000_000, 0)
	for i, sc := range []string{"chat", "completions", "embed"} {
		for j := range 100 {
			res := &gonogo.Result{Request: &gonogo.Request{Scenario: sc, Intended: t0}, Sent: t0, Done: t0.Add(time.Duration(i*j+1) * time.Millisecond),
				TTFT: time.Millisecond, OutputTokens: 8, ChunkGaps: []time.Duration{time.Millisecond}}
			c.Record(res)
		}
	}
	s := &outputs.Snapshot{Time: t0, RunID: "r", Labels: map[string]string{"version": "v2"}, Series: c.Series()}
	var qs []promout.WindowQuantile
	for _, g := range []string{"", "scenario:chat", "scenario:completions", "scenario:embed"} {
		for _, m := range []string{"latency", "ttft", "tpot", "chunk_gap", "latency_failed"} {
			for _, q := range []float64{50, 90, 95, 99, 99.9} {
				qs = append(qs, promout.WindowQuantile{Group: g, Metric: m, QuantilePct: q, Value: 0.1})
			}
		}
	}
	s.Series = append(s.Series, outputs.QuantileSeries(outputs.RunQuantile, 0, qs)...)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(snappy.Encode(nil, Encode(s)))
	}
	b.ReportMetric(float64(n), "bytes/push")
}
