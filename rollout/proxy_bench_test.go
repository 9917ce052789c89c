package rollout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/store"
)

// BenchmarkProxy measures the proxy's cost per request: a small POST
// routed to one of two loopback upstreams that answer a short body.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	proxyURL := "http://" + benchProxy(b, up.URL)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(proxyURL+"/v1/infer", "application/json", strings.NewReader(`{"x":1}`))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// benchProxy starts a controller's proxy in front of two backends at
// upstreamURL, split 50/50 and both eligible, as Serve serves it; it
// returns the proxy's address.
func benchProxy(b testing.TB, upstreamURL string) string {
	b.Helper()
	return serveProxy(b, proxyController(b, upstreamURL, upstreamURL, ""))
}

// proxyController is a controller of a stable backend at stableURL and a
// canary at canaryURL, split 50/50 and both eligible; backendOpts are
// more fields of both backends (", maxConns: 8").
func proxyController(b testing.TB, stableURL, canaryURL, backendOpts string) *Controller {
	b.Helper()
	cfg, err := ParseConfig("bench.yaml", []byte(`name: bench
backends:
  - {name: stable, url: "`+stableURL+`", role: stable, weight: 50`+backendOpts+`}
  - {name: canary, url: "`+canaryURL+`", role: canary, weight: 50`+backendOpts+`}
strategy: {canary: {steps: [{pause: {}}]}}
`))
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	c, err := New(context.Background(), Options{Config: cfg, Store: db})
	if err != nil {
		b.Fatal(err)
	}
	c.backends[0].eligible.Store(true)
	return c
}

// serveProxy serves c's proxy on loopback, as Serve serves it, and
// returns its address.
func serveProxy(b testing.TB, c *Controller) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := c.proxyServer()
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// BenchmarkProxyFastPath measures what the proxy itself spends per
// request on its fast path — routing, forwarding, recording — and its
// allocations: a client and an upstream that cost next to nothing (fixed
// bytes over one keep-alive connection each), one request at a time, so
// that the proxy's system calls and wake-ups are most of the time. Its
// ns/op is a round trip's latency, which a busy machine stretches;
// cpu-ns/op, the process's CPU time (user and system) per request, is
// what the proxy costs.
func BenchmarkProxyFastPath(b *testing.B) {
	benchFastPath(b, newFixedClient(b, benchProxy(b, fixedUpstream(b, okAnswer)), "/v1/infer", okAnswer))
}

// BenchmarkProxyFastPathSSE is BenchmarkProxyFastPath with a streamed
// completion for an answer (sseAnswer: 16 content events, usage,
// [DONE]): "unmetered" asks a path the proxy does not read streams of,
// as it relayed every stream before it measured tokens; "metered" asks
// /v1/completions, whose stream the proxy reads for TTFT, chunk gaps and
// tokens.
func BenchmarkProxyFastPathSSE(b *testing.B) {
	for _, c := range []struct{ name, target string }{{"unmetered", "/v1/generate"}, {"metered", "/v1/completions"}} {
		b.Run(c.name, func(b *testing.B) {
			benchFastPath(b, newFixedClient(b, benchProxy(b, fixedUpstream(b, sseAnswer)), c.target, sseAnswer))
		})
	}
}

// benchFastPath sends b.N requests with fc and reports the process's CPU
// time per request.
func benchFastPath(b *testing.B, fc *fixedClient) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
	for range b.N {
		if err := fc.roundTrip(); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, ok := processCPU(); cpuOK && ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// TestProxyFastPathAllocs: a request routed, forwarded and recorded on
// the fast path allocates nothing once the connections exist — but for
// the live window's sparse histograms, which grow now and then as new
// values come (a fraction of an allocation per request) — and neither
// does a streamed completion whose tokens it measures.
func TestProxyFastPathAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("counts allocations")
	}
	for _, c := range []struct {
		target string
		answer []byte
	}{{"/v1/infer", okAnswer}, {"/v1/completions", sseAnswer}} {
		fc := newFixedClient(t, benchProxy(t, fixedUpstream(t, c.answer)), c.target, c.answer)
		for range 200 {
			if err := fc.roundTrip(); err != nil {
				t.Fatal(err)
			}
		}
		const n = 2000
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			if err := fc.roundTrip(); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if per := float64(after.Mallocs-before.Mallocs) / n; per > 0.5 {
			t.Errorf("%s: %.3f allocations per request, want none but the histograms' growth", c.target, per)
		}
	}
}

// Answers of fixedUpstream: a short body, and a streamed completion.
var (
	okAnswer  = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	sseAnswer = func() []byte {
		var body []byte
		for i := range 16 {
			body = fmt.Appendf(body, "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\" word%d\",\"finish_reason\":null}]}\n\n", i)
		}
		body = append(body, "data: {\"id\":\"cmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":16}}\n\ndata: [DONE]\n\n"...)
		return fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}()
)

// fixedClient sends one fixed POST at a time over one connection and
// reads the fixed answer, without allocating.
type fixedClient struct {
	c   net.Conn
	req []byte
	buf []byte
	n   int // the answer's length, head included
}

// newFixedClient is a fixedClient of the proxy at addr, sending to
// target, whose upstream answers answer.
func newFixedClient(tb testing.TB, addr, target string, answer []byte) *fixedClient {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	fc := &fixedClient{c: c, buf: make([]byte, 2*len(answer)+1024),
		req: []byte("POST " + target + " HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"x\":1}")}
	// One exchange first: the answer's length, headers included, is the
	// same every time.
	if _, err := c.Write(fc.req); err != nil {
		tb.Fatal(err)
	}
	_, body, _ := bytes.Cut(answer, []byte("\r\n\r\n"))
	for !bytes.HasSuffix(fc.buf[:fc.n], append([]byte("\r\n\r\n"), body...)) {
		m, err := c.Read(fc.buf[fc.n:])
		if err != nil {
			tb.Fatalf("first answer %q: %v", fc.buf[:fc.n], err)
		}
		fc.n += m
	}
	return fc
}

func (fc *fixedClient) roundTrip() error {
	if _, err := fc.c.Write(fc.req); err != nil {
		return err
	}
	_, err := io.ReadFull(fc.c, fc.buf[:fc.n])
	return err
}

// fixedUpstream answers every request of a connection with resp, a whole
// response, reading requests as heads and a Content-Length body, without
// allocating per request.
func fixedUpstream(b testing.TB, resp []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 16<<10)
				pending := buf[:0]
				for {
					m, err := c.Read(buf[len(pending):])
					if err != nil {
						return
					}
					pending = buf[:len(pending)+m]
					for {
						i := bytes.Index(pending, []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						end := i + 4 + contentLength(pending[:i])
						if end > len(pending) {
							break
						}
						if _, err := c.Write(resp); err != nil {
							return
						}
						pending = buf[:copy(buf, pending[end:])]
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// contentLength is the Content-Length of a request head (0 without one).
func contentLength(head []byte) int {
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		if name, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
			n := 0
			for _, c := range bytes.TrimSpace(v) {
				n = n*10 + int(c-'0')
			}
			return n
		}
	}
	return 0
}
