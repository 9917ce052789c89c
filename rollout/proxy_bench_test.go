package rollout

import (
	"bytes"
	"context"
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
	cfg, err := ParseConfig("bench.yaml", []byte(`name: bench
backends:
  - {name: stable, url: "`+upstreamURL+`", role: stable, weight: 50}
  - {name: canary, url: "`+upstreamURL+`", role: canary, weight: 50}
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := c.proxyServer() // as Serve serves it
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
	fc := newFixedClient(b, benchProxy(b, fixedUpstream(b)))
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
// values come (a fraction of an allocation per request).
func TestProxyFastPathAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("counts allocations")
	}
	fc := newFixedClient(t, benchProxy(t, fixedUpstream(t)))
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
		t.Errorf("%.3f allocations per request, want none but the histograms' growth", per)
	}
}

// fixedClient sends one fixed POST at a time over one connection and
// reads the fixed answer, without allocating.
type fixedClient struct {
	c   net.Conn
	req []byte
	buf []byte
	n   int // the answer's length, head included
}

func newFixedClient(tb testing.TB, addr string) *fixedClient {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	fc := &fixedClient{c: c, buf: make([]byte, 4096),
		req: []byte("POST /v1/infer HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"x\":1}")}
	// One exchange first: the answer's length, headers included, is the
	// same every time.
	if _, err := c.Write(fc.req); err != nil {
		tb.Fatal(err)
	}
	for !bytes.HasSuffix(fc.buf[:fc.n], []byte("\r\n\r\nok")) {
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

// fixedUpstream answers every request of a connection with "ok", reading
// requests as heads and a Content-Length body, without allocating per
// request.
func fixedUpstream(b testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
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
