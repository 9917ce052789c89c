package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/extensions/ndjson"
	"github.com/gonogo-dev/gonogo/reports"
)

// seenTrace is a traceparent a test server received.
type seenTrace struct {
	span    string
	sampled bool
}

// traceServer starts a loopback server (HTTP/1.1 and h2c) that records the
// traceparent of every request and answers as the protocol expects. bad
// collects malformed or missing headers and requests not in wantProto; seen maps trace id to what came.
func traceServer(t *testing.T, protocol, wantProto string) (url string, mu *sync.Mutex, seen map[string]seenTrace, bad *[]string, dup *int) {
	mu, seen, bad, dup = &sync.Mutex{}, map[string]seenTrace{}, new([]string), new(int)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Values("Traceparent")
		mu.Lock()
		if r.Proto != wantProto {
			*bad = append(*bad, "proto "+r.Proto)
		} else if len(v) != 1 {
			*bad = append(*bad, "count "+r.Proto)
		} else if id, span, sampled, err := extensions.ParseTraceparent(v[0]); err != nil || v[0][:3] != "00-" {
			*bad = append(*bad, v[0])
		} else {
			k := hex.EncodeToString(id[:])
			if _, ok := seen[k]; ok {
				*dup++
			}
			seen[k] = seenTrace{hex.EncodeToString(span[:]), sampled}
		}
		mu.Unlock()
		switch protocol {
		case "openai":
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte("data: {\"choices\":[{\"text\":\"hi\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n"))
		default:
			w.Write([]byte("ok"))
		}
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, mu, seen, bad, dup
}

// --traceparent puts a well-formed, unique W3C traceparent on every
// request, on the hand-written HTTP/1.1 paths and on net/http (h2c), marks
// about --trace-sample of them sampled, and records in samples.ndjson.gz
// the ids the server saw, request by request.
func TestTraceparentLoad(t *testing.T) {
	const (
		rate       = 200
		sampleFrac = 0.3
	)
	for _, tt := range []struct {
		name, protocol, proto string
		extra                 []string
	}{
		{"http wire", "http", "HTTP/1.1", nil},
		{"http net/http h2c", "http", "HTTP/2.0", []string{"--h2c"}},
		{"openai wire", "openai", "HTTP/1.1", []string{"--max-tokens", "1"}},
		{"openai net/http h2c", "openai", "HTTP/2.0", []string{"--max-tokens", "1", "--h2c"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url, mu, seen, bad, dup := traceServer(t, tt.protocol, tt.proto)
			out := filepath.Join(t.TempDir(), "run")
			o := quiet()
			args := append([]string{"load", "--target", url, "--protocol", tt.protocol, "--rate", "200", "--duration", "1s",
				"--out", out, "--history", "", "-q", "--samples", "--no-preflight",
				"--traceparent", "--trace-sample", "0.3"}, tt.extra...)
			if code := run(context.Background(), o, args); code != 0 {
				t.Fatalf("load: exit %d\n%s", code, o.Err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(*bad) > 0 || *dup > 0 {
				t.Fatalf("server got %d malformed traceparents (first %q), %d repeated trace ids", len(*bad), *bad, *dup)
			}
			f, err := os.Open(filepath.Join(out, "samples.ndjson.gz"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n, sampled := 0, 0
			err = ndjson.Read(f, func(s *ndjson.Sample) bool {
				if s.Dropped {
					return true
				}
				n++
				got, ok := seen[s.TraceID]
				switch {
				case !ok:
					t.Errorf("sample %d: trace_id %q never reached the server", s.ID, s.TraceID)
				case got.span != s.SpanID || got.sampled != s.Sampled:
					t.Errorf("sample %d: span %s sampled %v, server saw %s %v", s.ID, s.SpanID, s.Sampled, got.span, got.sampled)
				}
				if s.Sampled {
					sampled++
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != len(seen) || n < rate/2 {
				t.Fatalf("%d samples, server saw %d trace ids; want equal and >= %d", n, len(seen), rate/2)
			}
			t.Logf("%d requests, %d sampled", n, sampled)
			rj, err := reports.ReadRunJSON(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(rj.Slowest) != ndjson.SlowestN {
				t.Fatalf("run.json: %d slowest requests, want %d", len(rj.Slowest), ndjson.SlowestN)
			}
			for i, s := range rj.Slowest {
				if _, ok := seen[s.TraceID]; !ok || (i > 0 && s.LatencyMs > rj.Slowest[i-1].LatencyMs) {
					t.Errorf("slowest_requests[%d]: trace_id %q (seen %v), %v ms after %v ms", i, s.TraceID, ok, s.LatencyMs, rj.Slowest[max(i-1, 0)].LatencyMs)
				}
			}
			// Binomial: 5 standard deviations either side of n·p.
			mean, sd := float64(n)*sampleFrac, math.Sqrt(float64(n)*sampleFrac*(1-sampleFrac))
			if math.Abs(float64(sampled)-mean) > 5*sd {
				t.Errorf("%d of %d sampled, want %.0f ± %.0f", sampled, n, mean, 5*sd)
			}
		})
	}
}

// Without --traceparent no request carries one and samples have no ids.
func TestTraceparentOff(t *testing.T) {
	url, mu, seen, bad, _ := traceServer(t, "http", "HTTP/1.1")
	out := filepath.Join(t.TempDir(), "run")
	o := quiet()
	if code := run(context.Background(), o, []string{"load", "--target", url, "--protocol", "http", "--rate", "20", "--duration", "500ms",
		"--out", out, "--history", "", "-q", "--samples", "--no-preflight"}); code != 0 {
		t.Fatalf("load: exit %d\n%s", code, o.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) > 0 || len(*bad) == 0 {
		t.Errorf("server saw %d traceparents and %d requests without; want none with", len(seen), len(*bad))
	}
}

// --trace-sample out of [0, 1] is exit 2 naming the flag.
func TestTraceSampleFlag(t *testing.T) {
	for _, v := range []string{"-0.1", "1.5", "NaN"} {
		o := quiet()
		code := run(context.Background(), o, []string{"load", "--target", "http://127.0.0.1:1", "--rate", "1", "--duration", "1s",
			"--traceparent", "--trace-sample", v})
		if code != exitUsage || !strings.Contains(o.Err.(*bytes.Buffer).String(), "--trace-sample") {
			t.Errorf("--trace-sample %s: exit %d, stderr %q; want 2 naming the flag", v, code, o.Err)
		}
	}
}

// --out-otlp-traces sends, when the run ends, one client span per slowest
// request, with the trace id and parent id the server saw.
func TestOutOTLPTraces(t *testing.T) {
	url, mu, seen, _, _ := traceServer(t, "http", "HTTP/1.1")
	var bodies [][]byte
	var bmu sync.Mutex
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bmu.Lock()
		bodies = append(bodies, b)
		bmu.Unlock()
	}))
	defer recv.Close()
	out := filepath.Join(t.TempDir(), "run")
	o := quiet()
	if code := run(context.Background(), o, []string{"load", "--target", url, "--protocol", "http", "--rate", "50", "--duration", "500ms",
		"--out", out, "--history", "", "-q", "--samples", "--no-preflight", "--traceparent",
		"--out-otlp-traces", recv.URL + "/v1/traces"}); code != 0 {
		t.Fatalf("load: exit %d\n%s", code, o.Err)
	}
	bmu.Lock()
	defer bmu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(bodies))
	}
	// Every 16-byte field 1 and 8-byte field 2 of a span is a trace id and
	// span id the server saw: find them by their hex in the body.
	body := hex.EncodeToString(bodies[0])
	mu.Lock()
	defer mu.Unlock()
	found := 0
	for id, s := range seen {
		if strings.Contains(body, "0a10"+id) && strings.Contains(body, "1208"+s.span) {
			found++
		}
	}
	if found != ndjson.SlowestN {
		t.Errorf("%d of the server's trace ids are spans of the export, want %d", found, ndjson.SlowestN)
	}
}
