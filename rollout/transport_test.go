package rollout

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The transport reuses a connection after a whole body, not after one
// abandoned half-way, and sends again on a new connection when a kept one
// was closed by the backend.
func TestH1TransportReuse(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/long" {
			w.(http.Flusher).Flush()
			for range 100 {
				if _, err := io.WriteString(w, strings.Repeat("x", 1024)); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			return
		}
		_, _ = w.Write(body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := newH1Transport(0, 8, http.DefaultTransport)
	send := func(path, body string) (string, *http.Response) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return body, resp
	}
	for i := range 20 {
		want, resp := send("/", strings.Repeat("a", i))
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != want {
			t.Fatalf("request %d: %q, want %q", i, got, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 sequential requests opened %d connections, want 1", n)
	}
	// A body closed before its end costs its connection.
	_, resp := send("/long", "")
	_, _ = io.ReadFull(resp.Body, make([]byte, 10))
	resp.Body.Close()
	_, resp = send("/", "after")
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "after" || conns.Load() != 2 {
		t.Fatalf("after an abandoned body: %q on %d connections, want \"after\" on 2", got, conns.Load())
	}
	// The backend closes its idle connections: the next request goes out
	// again on a new one.
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	_, resp = send("/", "retried")
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "retried" {
		t.Fatalf("after the backend closed the kept connection: %q", got)
	}
}
