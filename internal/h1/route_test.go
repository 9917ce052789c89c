package h1

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// echo is an upstream that answers with its name and what it received.
func echo(t *testing.T, name string) (*httptest.Server, *Pool) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Upstream", name)
		fmt.Fprintf(w, "%s host=%s xff=%s xfh=%s xfp=%s body=%s", name, r.Host,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto"), b)
	}))
	t.Cleanup(srv.Close)
	return srv, NewPool(strings.TrimPrefix(srv.URL, "http://"), 8)
}

// byHeader routes by the X-To header to one of its pools, and keeps the
// outcomes.
type byHeader struct {
	pools  map[string]*Pool
	mu     sync.Mutex
	got    []Outcome
	tapped []string // the bodies the tap saw, one per outcome
}

func (b *byHeader) Route(r *Request, rt *Route) {
	to := string(r.Header("x-to"))
	p := b.pools[to]
	if p == nil {
		rt.Serve = func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no route to "+to, http.StatusNotFound) }
		return
	}
	rt.Pool, rt.Host, rt.Forwarded = p, "backend-"+to, true
	rt.Header = []byte("X-Route: " + to + "\r\n")
	var body []byte
	rt.Tap = func(p []byte) { body = append(body, p...) }
	rt.Done = func(o Outcome) {
		b.mu.Lock()
		b.got = append(b.got, o)
		b.tapped = append(b.tapped, string(body))
		b.mu.Unlock()
	}
}

func (b *byHeader) outcomes() []Outcome {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Outcome(nil), b.got...)
}

// wait returns the outcomes once there are n, or after 2 s: Done runs
// once the response is out, and the client may read it first.
func (b *byHeader) wait(n int) []Outcome {
	var out []Outcome
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if out = b.outcomes(); len(out) >= n {
			break
		}
	}
	return out
}

func serve(t *testing.T, cfg Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// A Router sends each request of one client connection to the pool it
// names: the upstream sees its own Host, the X-Forwarded fields of
// SetXForwarded and the body; the client sees the route's header; Done
// reports status and bytes.
func TestRouterPools(t *testing.T) {
	_, pa := echo(t, "a")
	_, pb := echo(t, "b")
	r := &byHeader{pools: map[string]*Pool{"a": pa, "b": pb}}
	addr := serve(t, Config{Router: r, Fallback: http.NotFoundHandler(), Pools: []*Pool{pa, pb}, Name: "test", MaxBody: 1 << 20})
	var bodies []string
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i, to := range []string{"a", "b", "a", "nowhere", "b"} {
		body := fmt.Sprintf("req%d", i)
		fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: front:80\r\nX-To: %s\r\nX-Forwarded-For: 10.0.0.1\r\nContent-Length: %d\r\n\r\n%s", to, len(body), body)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if to == "nowhere" {
			if res.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "no route to nowhere") {
				t.Errorf("request %d: %d %q, want the route's own 404", i, res.StatusCode, b)
			}
			continue
		}
		want := fmt.Sprintf("%s host=backend-%s xff=10.0.0.1, 127.0.0.1 xfh=front:80 xfp=http body=%s", to, to, body)
		if res.StatusCode != 200 || string(b) != want {
			t.Errorf("request %d: %d %q, want %q", i, res.StatusCode, b, want)
		}
		bodies = append(bodies, string(b))
		if got := res.Header.Values("X-Route"); len(got) != 1 || got[0] != to || res.Header.Get("X-Upstream") != to {
			t.Errorf("request %d: headers %v", i, res.Header)
		}
	}
	out := r.wait(4)
	if len(out) != 4 {
		t.Fatalf("%d outcomes, want 4", len(out))
	}
	for i, o := range out {
		if o.Status != 200 || o.Err != nil || o.ClientGone || o.Bytes != int64(len(bodies[i])) || o.FirstByte.IsZero() {
			t.Errorf("outcome %d: %+v", i, o)
		}
		if r.tapped[i] != bodies[i] {
			t.Errorf("request %d: the tap saw %q, the client %q", i, r.tapped[i], bodies[i])
		}
	}
}

// Cut ends the exchanges in flight on a pool's connections: the client
// gets a cut response, Done an error, and the pool serves again after.
func TestPoolCut(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			started <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	defer close(release)
	p := NewPool(strings.TrimPrefix(up.URL, "http://"), 8)
	r := &byHeader{pools: map[string]*Pool{"a": p}}
	addr := serve(t, Config{Router: r, Fallback: http.NotFoundHandler(), Pools: []*Pool{p}, Name: "test", MaxBody: 1 << 20})
	errc := make(chan error, 1)
	part := make(chan struct{})
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/slow", nil)
		req.Header.Set("X-To", "a")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			var b [4]byte
			_, err = io.ReadFull(res.Body, b[:])
			close(part)
			if err == nil {
				_, err = io.ReadAll(res.Body)
			}
			res.Body.Close()
		}
		errc <- err
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request never reached the upstream")
	}
	select {
	case <-part: // the client has the head and the first bytes
	case <-time.After(5 * time.Second):
		t.Fatal("the first bytes never reached the client")
	}
	p.Cut()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("the cut response read as complete")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Cut did not end the exchange")
	}
	if out := r.wait(1); len(out) != 1 || out[0].Err == nil || out[0].Status != 200 || out[0].Bytes != 4 {
		t.Errorf("outcomes %+v, want one cut after 4 bytes", out)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/ok", nil)
	req.Header.Set("X-To", "a")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "ok" {
		t.Errorf("after the cut: %q", b)
	}
}

// A chunked (streamed) response reaches the tap without its framing, as
// the client reads it.
func TestTapChunked(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer up.Close()
	p := NewPool(strings.TrimPrefix(up.URL, "http://"), 8)
	r := &byHeader{pools: map[string]*Pool{"a": p}}
	addr := serve(t, Config{Router: r, Fallback: http.NotFoundHandler(), Pools: []*Pool{p}, Name: "test", MaxBody: 1 << 20})
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/stream", nil)
	req.Header.Set("X-To", "a")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if len(res.TransferEncoding) == 0 || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Fatalf("not a chunked stream: %v %q", res.TransferEncoding, b)
	}
	if out := r.wait(1); len(out) != 1 || r.tapped[0] != string(b) || out[0].Bytes != int64(len(b)) {
		t.Errorf("the tap saw %q (%+v), the client %q", r.tapped, out, b)
	}
}
