package rollout

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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
	cfg, err := ParseConfig("bench.yaml", []byte(`name: bench
backends:
  - {name: stable, url: "`+up.URL+`", role: stable, weight: 50}
  - {name: canary, url: "`+up.URL+`", role: canary, weight: 50}
strategy: {canary: {steps: [{pause: {}}]}}
`))
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
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
	defer srv.Close()
	proxyURL := "http://" + ln.Addr().String()
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
