package httpfault

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
)

// rawUpstream is a test upstream that answers byte by byte: serve gets
// each connection and its reader.
type rawUpstream struct {
	addr  string
	conns atomic.Int64
}

func startRawUpstream(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{addr: "http://" + ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return u
}

// answerEach reads requests off the connection and answers each with the
// response resp returns for it (raw bytes).
func answerEach(resp func(r *http.Request, body []byte) string) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(r.Body)
			if _, err := io.WriteString(c, resp(r, body)); err != nil {
				return
			}
		}
	}
}

// dialProxy opens a raw connection to the proxy at addr.
func dialProxy(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readResponse reads one response off br and its whole body.
func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading a body: %v", err)
	}
	return res, string(b)
}

// TestServerForwardsHeads: what the upstream sees of a request and the
// client of a response: hop-by-hop fields dropped both ways (those the
// Connection field names too), TE: trailers kept, everything else as
// sent, Host and an escaped path included.
func TestServerForwardsHeads(t *testing.T) {
	var got atomic.Value
	up := startRawUpstream(t, answerEach(func(r *http.Request, _ []byte) string {
		got.Store(r)
		return "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok"
	}))
	_, addr := startProxy(t, up.addr)
	c, br := dialProxy(t, addr)
	io.WriteString(c, "GET /a%2Fb/c?q=1&r=%20 HTTP/1.1\r\nHost: svc.local:8080\r\nX-A: one\r\nX-A: two\r\nConnection: keep-alive\r\n"+
		"Keep-Alive: 300\r\nProxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nX-Forwarded-For: 10.0.0.1\r\nForwarded: for=x\r\n"+
		"TE: trailers, deflate\r\nTrailer: X-T\r\nUser-Agent: t\r\n\r\n")
	res, body := readResponse(t, br, "GET")
	r := got.Load().(*http.Request)
	if r.RequestURI != "/a%2Fb/c?q=1&r=%20" || r.Host != "svc.local:8080" || r.Header.Get("User-Agent") != "t" {
		t.Errorf("upstream got %s %s host %s", r.Method, r.RequestURI, r.Host)
	}
	if v := r.Header.Values("X-A"); len(v) != 2 || v[0] != "one" || v[1] != "two" {
		t.Errorf("X-A = %q", v)
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "X-Forwarded-For", "Forwarded", "Trailer"} {
		if v, ok := r.Header[k]; ok {
			t.Errorf("upstream got hop-by-hop %s: %q", k, v)
		}
	}
	if r.Header.Get("Te") != "trailers" {
		t.Errorf("TE = %q, want trailers", r.Header.Get("Te"))
	}
	if body != "ok" || res.Header.Get("X-Kept") != "yes" {
		t.Errorf("client got %q, header %v", body, res.Header)
	}
	for _, k := range []string{"X-Secret", "Keep-Alive", "Proxy-Authenticate", "Connection"} {
		if v, ok := res.Header[k]; ok {
			t.Errorf("client got hop-by-hop %s: %q", k, v)
		}
	}
}

// sumHandler answers a request with what its body was: length, SHA-256
// and the framing the upstream saw.
func sumHandler(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s := sha256.Sum256(b)
	fmt.Fprintf(w, "%d %s cl=%d te=%v", len(b), hex.EncodeToString(s[:8]), r.ContentLength, r.TransferEncoding)
}

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return strconv.Itoa(len(b)) + " " + hex.EncodeToString(s[:8])
}

// TestServerRequestBodies: bodies of every framing and size arrive whole,
// one after another on one client connection; chunked ones go up with a
// Content-Length (read first, see bufferBody) unless over MaxBodyBytes,
// when net/http takes the connection and streams them.
func TestServerRequestBodies(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(sumHandler))
	defer up.Close()
	_, addr := startProxy(t, up.URL)
	c, br := dialProxy(t, addr)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	mk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i*7%26)
		}
		return b
	}
	chunked := func(b []byte, size int) string {
		var s strings.Builder
		for len(b) > 0 {
			k := min(size, len(b))
			fmt.Fprintf(&s, "%x;ext=1\r\n%s\r\n", k, b[:k])
			b = b[k:]
		}
		s.WriteString("0\r\nX-Trailer: t\r\n\r\n")
		return s.String()
	}
	for _, tc := range []struct {
		name    string
		body    []byte
		chunked bool
		wantCL  int64
	}{
		{"empty", nil, false, 0},
		{"small", mk(100), false, 100},
		{"larger than the reader", mk(300 << 10), false, 300 << 10},
		{"chunked", mk(20000), true, 20000},
		{"chunked, one byte", mk(1), true, 1},
		{"over MaxBodyBytes", mk(MaxBodyBytes + 10), false, MaxBodyBytes + 10},
		{"chunked over MaxBodyBytes", mk(MaxBodyBytes + 10), true, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head := "POST /sum HTTP/1.1\r\nHost: x\r\n"
			if tc.chunked {
				io.WriteString(c, head+"Transfer-Encoding: chunked\r\n\r\n"+chunked(tc.body, 7000))
			} else {
				fmt.Fprintf(c, "%sContent-Length: %d\r\n\r\n%s", head, len(tc.body), tc.body)
			}
			res, body := readResponse(t, br, "POST")
			want := sumOf(tc.body) + " cl=" + strconv.FormatInt(tc.wantCL, 10)
			if res.StatusCode != 200 || !strings.HasPrefix(body, want) {
				t.Errorf("%d %q, want %q", res.StatusCode, body, want)
			}
		})
	}
}

// TestServerResponseFraming: responses of every framing reach the client
// whole, the client's connection reused after each.
func TestServerResponseFraming(t *testing.T) {
	big := strings.Repeat("b", 100<<10)
	longHead := "X-Long: " + strings.Repeat("h", 6000) + "\r\nX-Long2: " + strings.Repeat("i", 6000) + "\r\n"
	up := startRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, r.Body)
			var resp string
			closeAfter := false
			switch r.URL.Path {
			case "/length":
				resp = "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big
			case "/chunked":
				resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;name=v\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n"
			case "/close":
				resp, closeAfter = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", true
			case "/head":
				resp = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
			case "/204":
				resp = "HTTP/1.1 204 No Content\r\n\r\n"
			case "/304":
				resp = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"
			case "/early":
				resp = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate"
			case "/longhead":
				resp = "HTTP/1.1 200 OK\r\n" + longHead + "Content-Length: 2\r\n\r\nok"
			case "/bare-lf":
				resp = "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"
			}
			if _, err := io.WriteString(c, resp); err != nil || closeAfter {
				return
			}
		}
	})
	_, addr := startProxy(t, up.addr)
	var reused, hints atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i, tc := range []struct {
		method, path string
		status       int
		body         string
		check        func(t *testing.T, res *http.Response)
	}{
		{"GET", "/length", 200, big, nil},
		{"GET", "/chunked", 200, "hello world", func(t *testing.T, res *http.Response) {
			if res.Trailer.Get("X-Sum") != "11" {
				t.Errorf("trailer %v", res.Trailer)
			}
		}},
		{"GET", "/close", 200, "until the end", nil},
		{"HEAD", "/head", 200, "", func(t *testing.T, res *http.Response) {
			if res.ContentLength != 1234 {
				t.Errorf("HEAD Content-Length %d, want 1234", res.ContentLength)
			}
		}},
		{"GET", "/204", 204, "", nil},
		{"GET", "/304", 304, "", nil},
		{"GET", "/early", 200, "late", func(t *testing.T, _ *http.Response) {
			if hints.Load() != 1 {
				t.Errorf("the 103 did not reach the client")
			}
		}},
		{"GET", "/longhead", 200, "ok", func(t *testing.T, res *http.Response) {
			if len(res.Header.Get("X-Long2")) != 6000 {
				t.Errorf("long header lost")
			}
		}},
		{"GET", "/bare-lf", 200, "ok", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			trace := &httptrace.ClientTrace{
				GotConn: func(ci httptrace.GotConnInfo) {
					if ci.Reused {
						reused.Add(1)
					}
				},
				Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
					if code == 103 {
						hints.Add(1)
					}
					return nil
				},
			}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), tc.method, addr+tc.path, nil)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != tc.status || string(b) != tc.body {
				t.Fatalf("%d %q (%v), want %d and %d bytes", res.StatusCode, b[:min(len(b), 64)], err, tc.status, len(tc.body))
			}
			if tc.check != nil {
				tc.check(t, res)
			}
			if reused.Load() != int64(i) {
				t.Errorf("request %d: the client connection was not reused", i+1)
			}
		})
	}
}

// TestServerPipelining: requests sent back to back before any answer are
// answered in order.
func TestServerPipelining(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, r.URL.Path)
	}))
	defer up.Close()
	_, addr := startProxy(t, up.URL)
	c, br := dialProxy(t, addr)
	var b strings.Builder
	for i := range 5 {
		fmt.Fprintf(&b, "POST /p%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", i)
	}
	io.WriteString(c, b.String())
	for i := range 5 {
		if _, body := readResponse(t, br, "POST"); body != fmt.Sprintf("/p%d", i) {
			t.Fatalf("response %d: %q", i, body)
		}
	}
}

// TestServerSlowClient: a head and body that trickle in byte by byte are
// served; a response read slowly in small pieces arrives whole.
func TestServerSlowClient(t *testing.T) {
	big := strings.Repeat("z", 256<<10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != "slow body" {
			http.Error(w, "body "+string(b), 400)
			return
		}
		io.WriteString(w, big)
	}))
	defer up.Close()
	_, addr := startProxy(t, up.URL)
	c, br := dialProxy(t, addr)
	req := "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nslow body"
	for i := range len(req) {
		if _, err := c.Write([]byte{req[i]}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 1000)
	for {
		n, err := res.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
		if len(got)%(50<<10) < 1000 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if res.StatusCode != 200 || string(got) != big {
		t.Errorf("%d, %d bytes of %d", res.StatusCode, len(got), len(big))
	}
}

// TestServerSSEFlushed: an SSE stream reaches the client event by event,
// as the upstream sends them.
func TestServerSSEFlushed(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(150 * time.Millisecond)
			}
		}))
		defer up.Close()
		_, addr := startProxyMode(t, mode, up.URL)
		start := time.Now()
		res, err := http.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for i := range 3 {
			for sc.Scan() && sc.Text() == "" {
			}
			at := time.Since(start)
			if sc.Text() != fmt.Sprintf("data: %d", i) {
				t.Fatalf("event %d: %q", i, sc.Text())
			}
			if lo, hi := time.Duration(i)*150*time.Millisecond, time.Duration(i)*150*time.Millisecond+100*time.Millisecond; at < lo || at > hi {
				t.Errorf("event %d arrived after %v, want within %v..%v", i, at, lo, hi)
			}
		}
	})
}

// TestServerClientGoesAway: a client that leaves mid-stream, or before
// the response's head, or during a fault's delay, cuts its upstream
// request short: the upstream sees its request's context end.
func TestServerClientGoesAway(t *testing.T) {
	type call struct{ ended chan time.Duration }
	calls := make(chan call, 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl := call{ended: make(chan time.Duration, 1)}
		calls <- cl
		start := time.Now()
		defer func() { cl.ended <- time.Since(start) }()
		if r.URL.Path == "/stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; r.Context().Err() == nil && i < 500; i++ {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(10 * time.Millisecond)
			}
			return
		}
		select { // a slow answer
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer up.Close()
	p, addr := startProxy(t, up.URL)
	mustAdd(t, p, Fault{ID: "slow", Match: Match{Path: "/delayed"}, Delay: &chaos.Delay{Mean: Duration(time.Second)}})
	t.Run("mid-stream", func(t *testing.T) {
		c, br := dialProxy(t, addr)
		io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(res.Body)
		for n := 0; n < 3 && sc.Scan(); {
			if sc.Text() != "" {
				n++
			}
		}
		cl := <-calls
		c.Close()
		select {
		case d := <-cl.ended:
			t.Logf("the upstream stream ended %v after it began", d)
		case <-time.After(2 * time.Second):
			t.Fatal("the upstream stream went on after the client left")
		}
	})
	t.Run("before the head", func(t *testing.T) {
		c, _ := dialProxy(t, addr)
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
		cl := <-calls
		time.Sleep(20 * time.Millisecond)
		c.Close()
		select {
		case d := <-cl.ended:
			if d > 700*time.Millisecond { // twice the fast path's watch (100 ms) and a margin
				t.Errorf("the upstream request ended %v after it began", d)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("the upstream request went on after the client left")
		}
	})
	t.Run("during a delay", func(t *testing.T) {
		c, _ := dialProxy(t, addr)
		io.WriteString(c, "GET /delayed HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(100 * time.Millisecond)
		c.Close()
		select {
		case <-calls:
			t.Error("a request whose client left during its delay went upstream")
		case <-time.After(1300 * time.Millisecond):
		}
	})
}

// TestServerKeepAliveAcrossFaults: on keep-alive client connections,
// faults are drawn per request; requests the reverse proxy acts out
// (stream and body faults) leave the connection to the fast path, and
// aborted connections leave the upstream connections usable.
func TestServerKeepAliveAcrossFaults(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("k", 5000))
	}))
	var upConns atomic.Int64
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			upConns.Add(1)
		}
	}
	up.Start()
	defer up.Close()
	p, addr := startProxy(t, up.URL, WithSeed(5))
	mustAdd(t, p, Fault{ID: "cut", Match: Match{Path: "/a", Percent: pct(30)}, Abort: &Abort{When: AfterBytes, Bytes: 100}})
	mustAdd(t, p, Fault{ID: "patch", Match: Match{Path: "/b", Percent: pct(50)}, Body: &Body{Replace: ptr("patched")}})
	mustAdd(t, p, Fault{ID: "slow", Match: Match{Path: "/b", Percent: pct(20)}, Delay: &chaos.Delay{Mean: Duration(time.Millisecond)}})
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	var cut, ok, patched, reusedAfterPatch int
	prevPatched := false
	for i := range 400 {
		path := "/a"
		if i%2 == 1 {
			path = "/b"
		}
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { reused = ci.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", addr+path, nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if prevPatched && reused {
			reusedAfterPatch++
		}
		prevPatched = false
		switch {
		case err != nil && len(b) == 100:
			cut++
		case err != nil:
			t.Fatalf("request %d: %v after %d bytes", i, err, len(b))
		case string(b) == "patched":
			patched++
			prevPatched = true
		case len(b) == 5000:
			ok++
		default:
			t.Fatalf("request %d: %d bytes", i, len(b))
		}
	}
	_, cutAffected := p.Counts("cut")
	_, patchAffected := p.Counts("patch")
	if int64(cut) != cutAffected || int64(patched) != patchAffected || cut < 40 || cut > 80 || patched < 75 || patched > 125 {
		t.Errorf("%d cut (proxy: %d), %d patched (proxy: %d), %d whole, of 400", cut, cutAffected, patched, patchAffected, ok)
	}
	if reusedAfterPatch < patched*9/10 {
		t.Errorf("after %d patched responses the connection was reused %d times", patched, reusedAfterPatch)
	}
	// The fast path keeps one upstream connection per client connection;
	// the reverse proxy keeps its own pool.
	if n := upConns.Load(); n > 4 {
		t.Errorf("%d upstream connections for one client connection at a time", n)
	}
	t.Logf("%d cut, %d patched, %d whole; %d upstream connections", cut, patched, ok, upConns.Load())
}

func ptr[T any](v T) *T { return &v }

// TestServerHandsOff: requests the fast path leaves to net/http are
// served, and so are the requests after them on the same connection.
func TestServerHandsOff(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "echo" {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			brw.Flush()
			line, _ := brw.ReadString('\n')
			brw.WriteString("echo " + line)
			brw.Flush()
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d %s", r.Method, r.URL.Path, len(b), r.Header.Get("X-Big")[:min(3, len(r.Header.Get("X-Big")))])
	}))
	defer up.Close()
	_, addr := startProxy(t, up.URL)
	for _, tc := range []struct{ name, req, want string }{
		{"HTTP/1.0", "GET /old HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", "GET /old 0 "},
		{"absolute form", "GET " + addr + "/abs HTTP/1.1\r\nHost: x\r\n\r\n", "GET /abs 0 "},
		{"expect", "POST /exp HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody", "POST /exp 4 "},
		{"big head", "GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("B", 20000) + "\r\n\r\n", "GET /big 0 BBB"},
		{"connection option", "GET /opt HTTP/1.1\r\nHost: x\r\nConnection: X-Opt\r\nX-Opt: 1\r\n\r\n", "GET /opt 0 "},
		{"bare LF", "GET /lf HTTP/1.1\nHost: x\n\n", "GET /lf 0 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dialProxy(t, addr)
			io.WriteString(c, tc.req)
			res, body := readResponse(t, br, "GET")
			for i := 0; res.StatusCode == 100 && i < 3; i++ { // net/http's and the upstream's
				res, body = readResponse(t, br, "GET")
			}
			if body != tc.want {
				t.Errorf("%d %q, want %q", res.StatusCode, body, tc.want)
			}
			io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, body := readResponse(t, br, "GET"); body != "GET /next 0 " {
				t.Errorf("the next request: %q", body)
			}
		})
	}
	t.Run("upgrade", func(t *testing.T) {
		c, br := dialProxy(t, addr)
		io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != 101 {
			t.Fatalf("%v %v", res, err)
		}
		io.WriteString(c, "hello\n")
		if line, _ := br.ReadString('\n'); line != "echo hello\n" {
			t.Errorf("through the upgraded connection: %q", line)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		c, br := dialProxy(t, addr)
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n")
		if res, _ := readResponse(t, br, "GET"); res.StatusCode != 400 {
			t.Errorf("status %d, want net/http's 400", res.StatusCode)
		}
	})
}

// TestServerStaleUpstream: an upstream that closes its connections after
// each response without saying so costs no request an error.
func TestServerStaleUpstream(t *testing.T) {
	up := startRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	_, addr := startProxy(t, up.addr)
	c, br := dialProxy(t, addr)
	for i, method := range []string{"GET", "POST", "POST", "GET", "POST"} {
		fmt.Fprintf(c, "%s /%d HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", method, i)
		if res, body := readResponse(t, br, method); res.StatusCode != 200 || body != "ok" {
			t.Errorf("%s %d: %d %q", method, i, res.StatusCode, body)
		}
		if i == 2 {
			continue // the next request right away: a close not seen yet is retried when it may be
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := up.conns.Load(); n < 5 || n > 6 { // one opened ahead of the first request, maybe
		t.Errorf("%d upstream connections for 5 requests", n)
	}
}

// TestServerShutdown: Shutdown closes idle connections at once, lets the
// request in flight finish (telling its client the connection closes),
// and makes Serve return http.ErrServerClosed.
func TestServerShutdown(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		io.WriteString(w, "done")
	}))
	defer up.Close()
	p, err := New(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(p)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := "http://" + ln.Addr().String()
	idle, idleBR := dialProxy(t, addr)
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readResponse(t, idleBR, "GET")
	busy, busyBR := dialProxy(t, addr)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Errorf("Serve returned %v", err)
	}
	res, body := readResponse(t, busyBR, "GET")
	if body != "done" || !res.Close {
		t.Errorf("the request in flight got %q, close %v", body, res.Close)
	}
	if _, err := idleBR.ReadByte(); err == nil {
		t.Error("the idle connection is still open")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts")
	}
}

// TestServerTimeouts: idle connections and heads that never end are
// closed.
func TestServerTimeouts(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer up.Close()
	p, err := New(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(p)
	s.IdleTimeout, s.ReadHeaderTimeout = 300*time.Millisecond, 200*time.Millisecond
	go s.Serve(ln)
	defer s.Close()
	addr := "http://" + ln.Addr().String()
	for _, tc := range []struct{ name, send string }{
		{"idle", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"unfinished head", "GET / HTTP/1.1\r\nHo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dialProxy(t, addr)
			io.WriteString(c, tc.send)
			if strings.HasSuffix(tc.send, "\r\n\r\n") {
				readResponse(t, br, "GET")
			}
			start := time.Now()
			_, err := br.ReadByte()
			if took := time.Since(start); err == nil || took > time.Second {
				t.Errorf("closed after %v (%v)", took, err)
			}
		})
	}
}

// TestServerWithoutFastPath: with a transport of its own (or an https
// upstream) the proxy's Server serves everything through net/http.
func TestServerWithoutFastPath(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "via transport") }))
	defer up.Close()
	var used atomic.Int64
	rt := roundTripper(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})
	p, addr := startProxy(t, up.URL, WithTransport(rt))
	if p.pool != nil {
		t.Fatal("the fast path is on with a transport of the caller's")
	}
	res, err := http.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "via transport" || used.Load() != 1 {
		t.Errorf("%q, transport used %d times", b, used.Load())
	}
	for _, u := range []string{"https://127.0.0.1:1", "http://127.0.0.1:1/base", "http://127.0.0.1:1/?q=1"} {
		if p, _ := New(u); p.pool != nil {
			t.Errorf("%s: the fast path is on", u)
		}
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// fixedUpstream answers every request on a connection with "ok" without
// allocating per request (it assumes bodiless requests).
func fixedUpstream(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				var pending []byte
				for {
					n, err := c.Read(buf[len(pending):])
					if err != nil {
						return
					}
					pending = buf[:len(pending)+n]
					for {
						i := bytes.Index(pending, []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						if _, err := c.Write(resp); err != nil {
							return
						}
						pending = pending[:copy(buf, pending[i+4:])]
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// fixedClient sends a fixed GET over one connection and reads the fixed
// answer of fixedUpstream, without allocating.
type fixedClient struct {
	c   net.Conn
	req []byte
	buf []byte
	n   int // bytes of the answer through the proxy
}

func newFixedClient(tb testing.TB, addr string) *fixedClient {
	c, err := net.Dial("tcp", strings.TrimPrefix(addr, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	fc := &fixedClient{c: c, req: []byte("GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: fixed\r\n\r\n"), buf: make([]byte, 4096)}
	fc.c.Write(fc.req)
	// The answer is whole once its body ("ok", or an error fault's
	// "busy") is there.
	for {
		m, err := c.Read(fc.buf[fc.n:])
		fc.n += m
		if err != nil {
			tb.Fatalf("first answer %q: %v", fc.buf[:fc.n], err)
		}
		if b := fc.buf[:fc.n]; bytes.HasSuffix(b, []byte("\r\n\r\nok")) || bytes.HasSuffix(b, []byte("\r\n\r\nbusy")) || bytes.HasSuffix(b, []byte("\r\n0\r\n\r\n")) {
			return fc
		}
	}
}

func (fc *fixedClient) do() error {
	if _, err := fc.c.Write(fc.req); err != nil {
		return err
	}
	_, err := io.ReadFull(fc.c, fc.buf[:fc.n])
	return err
}

// TestServerNoFaultAllocs: with no fault in force, the fast path
// allocates nothing per request.
func TestServerNoFaultAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("counts allocations")
	}
	_, addr := startProxy(t, fixedUpstream(t))
	fc := newFixedClient(t, addr)
	const n = 2000
	for range 100 {
		if err := fc.do(); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		if err := fc.do(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := float64(after.Mallocs-before.Mallocs) / n; per > 0.05 {
		t.Errorf("%.3f allocations per request, want none", per)
	}
}

// BenchmarkServe: one request at a time over one keep-alive connection,
// through the proxy's Server and through net/http with the proxy as
// handler, to an upstream that answers at once: with no fault, with one
// that selects no request here, with an error fault and with a
// bandwidth fault on every request (the Server acts it out through the
// reverse proxy).
func BenchmarkServe(b *testing.B) {
	faults := []struct {
		name string
		f    *Fault
	}{
		{"none", nil},
		{"unmatched", &Fault{Match: Match{Path: "/v1/*"}, Error: &Error{Status: 503}}},
		{"error", &Fault{Error: &Error{Status: 503, Body: "busy"}}},
		{"bandwidth", &Fault{Bandwidth: &Bandwidth{BytesPerSec: 1 << 40}}},
	}
	for _, fc := range faults {
		for _, mode := range serveModes {
			b.Run(fc.name+"/"+mode, func(b *testing.B) {
				p, err := New(fixedUpstream(b))
				if err != nil {
					b.Fatal(err)
				}
				if fc.f != nil {
					if _, err := p.Add(*fc.f); err != nil {
						b.Fatal(err)
					}
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				var srv interface {
					Serve(net.Listener) error
					Close() error
				} = NewServer(p)
				if mode == modeHandler {
					srv = &http.Server{Handler: p}
				}
				go srv.Serve(ln)
				defer srv.Close()
				fc := newFixedClient(b, "http://"+ln.Addr().String())
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := fc.do(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestServerPreconnects: clients that connect ahead of their load find
// the upstream's connections open when their requests come.
func TestServerPreconnects(t *testing.T) {
	up := startRawUpstream(t, answerEach(func(*http.Request, []byte) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	}))
	_, addr := startProxy(t, up.addr)
	var conns []net.Conn
	var brs []*bufio.Reader
	for range 5 {
		c, br := dialProxy(t, addr)
		conns, brs = append(conns, c), append(brs, br)
	}
	for deadline := time.Now().Add(2 * time.Second); up.conns.Load() < 5 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := up.conns.Load(); n != 5 {
		t.Fatalf("%d upstream connections ahead of 5 clients' requests, want 5", n)
	}
	// The upstream counts a connection when it accepts it, a moment
	// before the proxy's dial returns and pools it.
	time.Sleep(100 * time.Millisecond)
	for i, c := range conns {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, body := readResponse(t, brs[i], "GET"); body != "ok" {
			t.Fatalf("client %d: %q", i, body)
		}
	}
	if n := up.conns.Load(); n != 5 {
		t.Errorf("%d upstream connections for 5 clients, want the 5 opened ahead", n)
	}
}
