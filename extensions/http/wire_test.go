package httpproto

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// cannedServer answers every request on a connection with the next of
// answers (raw bytes), then closes the connection when the list runs out.
func cannedServer(t *testing.T, answers ...string) (url string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for _, a := range answers {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					if _, err := io.WriteString(c, a); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), conns
}

func do(t *testing.T, c *Client, ctx context.Context) *gonogo.Result {
	t.Helper()
	res := &gonogo.Result{Request: &gonogo.Request{}, Sent: time.Now()}
	c.Do(ctx, res.Request, res)
	return res
}

func TestWireFraming(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answer   string
		method   string
		status   int
		bytes    int64
		class    gonogo.ErrorClass
		reusable bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", 200, 5, gonogo.ErrNone, true},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n", "GET", 200, 13, gonogo.ErrNone, true},
		{"interim 100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET", 200, 2, gonogo.ErrNone, true},
		{"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", "GET", 204, 0, gonogo.ErrNone, true},
		{"HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", "HEAD", 200, 0, gonogo.ErrNone, true},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "GET", 200, 2, gonogo.ErrNone, false},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET", 200, 2, gonogo.ErrNone, false},
		{"body until close", "HTTP/1.1 200 OK\r\n\r\nto the end", "GET", 200, 10, gonogo.ErrNone, false},
		{"503", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy", "GET", 503, 4, gonogo.ErrHTTP5xx, true},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "GET", 404, 0, gonogo.ErrHTTP4xx, true},
		{"garbage status", "SMTP ready\r\n\r\n", "GET", 0, 0, gonogo.ErrProtocol, false},
		{"bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "GET", 200, 0, gonogo.ErrProtocol, false},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "GET", 200, 0, gonogo.ErrProtocol, false},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", "GET", 200, 5, gonogo.ErrProtocol, false},
		{"header too long", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxHeaderLine) + "\r\n\r\n", "GET", 200, 0, gonogo.ErrProtocol, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A keep-alive server answers twice per connection, so the
			// second request shows reuse; otherwise it closes after one.
			answers := []string{tc.answer}
			if tc.reusable {
				answers = append(answers, tc.answer)
			}
			url, conns := cannedServer(t, answers...)
			c, err := New(extensions.Options{Target: url, Method: tc.method, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				res := do(t, c, context.Background())
				if res.Status != tc.status || res.BytesIn != tc.bytes || res.Class != tc.class {
					t.Fatalf("request %d: status %d bytes %d class %q (%s), want %d %d %q",
						i, res.Status, res.BytesIn, res.Class, res.Err, tc.status, tc.bytes, tc.class)
				}
			}
			if want := map[bool]int64{true: 1, false: 2}[tc.reusable]; conns.Load() != want {
				t.Errorf("connections = %d, want %d", conns.Load(), want)
			}
		})
	}
}

// A keep-alive connection the server closed while idle is retried once on
// a new connection, invisibly, as net/http does.
func TestWireRetriesStaleConnection(t *testing.T) {
	url, conns := cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // one answer, then close
	c, err := New(extensions.Options{Target: url})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if res := do(t, c, context.Background()); res.Class != gonogo.ErrNone {
			t.Fatalf("request %d: %s %s", i, res.Class, res.Err)
		}
		time.Sleep(20 * time.Millisecond) // let the server's close arrive
	}
	if conns.Load() != 3 {
		t.Errorf("connections = %d, want 3", conns.Load())
	}
}

func TestWireTimeoutAndCancel(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	c, err := New(extensions.Options{Target: srv.URL, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	res := do(t, c, context.Background())
	if res.Class != gonogo.ErrTimeout || !strings.Contains(res.Err, "timed out after 50ms") {
		t.Errorf("hung server: class %q err %q, want timeout", res.Class, res.Err)
	}
	if d := res.Done.Sub(res.Sent); d < 50*time.Millisecond || d > time.Second {
		t.Errorf("timeout took %v", d)
	}

	c, _ = New(extensions.Options{Target: srv.URL, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	res = do(t, c, ctx)
	if res.Class != gonogo.ErrCanceled {
		t.Errorf("cancelled run: class %q err %q, want canceled", res.Class, res.Err)
	}
	if d := res.Done.Sub(res.Sent); d > time.Second {
		t.Errorf("cancel took %v", d)
	}
}

func TestWireRequestBytes(t *testing.T) {
	got := make(chan *http.Request, 1)
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		got <- r
	}))
	defer srv.Close()
	c, err := New(extensions.Options{Target: srv.URL, Method: "POST", Path: "/v1/x?y=1", Body: []byte(`{"a":1}`),
		Headers: map[string]string{"Authorization": "Bearer t", "Content-Type": "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	if res := do(t, c, context.Background()); res.Class != gonogo.ErrNone {
		t.Fatalf("%s %s", res.Class, res.Err)
	}
	r := <-got
	if r.Method != "POST" || r.URL.RequestURI() != "/v1/x?y=1" || body != `{"a":1}` ||
		r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("User-Agent") != "gonogo" || r.ContentLength != 7 {
		t.Errorf("server saw %s %s %q headers %v", r.Method, r.URL.RequestURI(), body, r.Header)
	}
}

func TestWireMaxConns(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(10 * time.Millisecond)
	}))
	defer srv.Close()
	c, _ := New(extensions.Options{Target: srv.URL, MaxConns: 2})
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() { do(t, c, context.Background()); done <- struct{}{} }()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	if peak.Load() > 2 {
		t.Errorf("peak concurrency %d with MaxConns 2", peak.Load())
	}
}

// Warm opens connections that the following requests use instead of
// dialing, never more than the idle pool holds, and reports a target that
// cannot be reached; https:// targets are not warmed.
func TestWireWarm(t *testing.T) {
	waitConns := func(conns *atomic.Int64, want int64) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); conns.Load() < want && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, tc := range []struct {
		name     string
		maxConns int
		warm     int
		warmed   int64 // connections after warming
		want     int64 // connections after 4 sequential requests
	}{
		{"warmed connections are used", 0, 4, 4, 4},
		{"no more than MaxConns", 2, 10, 2, 2},
		{"zero warms nothing", 0, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, conns := cannedServer(t, ok, ok, ok, ok)
			c, err := New(extensions.Options{Target: url, MaxConns: tc.maxConns})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Warm(context.Background(), tc.warm); err != nil {
				t.Fatalf("Warm: %v", err)
			}
			waitConns(conns, tc.warmed) // the server counts a connection when it accepts it
			if got := conns.Load(); got != tc.warmed {
				t.Fatalf("connections after Warm(%d) = %d, want %d", tc.warm, got, tc.warmed)
			}
			for i := 0; i < 4; i++ {
				if res := do(t, c, context.Background()); res.Class != gonogo.ErrNone {
					t.Fatalf("request %d: %s %s", i, res.Class, res.Err)
				}
			}
			if got := conns.Load(); got != tc.want {
				t.Errorf("connections = %d, want %d", got, tc.want)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		c, err := New(extensions.Options{Target: "http://" + closedAddr(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Warm(context.Background(), 3); err == nil {
			t.Error("Warm of a closed port: no error")
		}
	})
	t.Run("https is not warmed", func(t *testing.T) {
		c, err := New(extensions.Options{Target: "https://" + closedAddr(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Warm(context.Background(), 3); err != nil {
			t.Errorf("Warm of an https target: %v, want nil (not warmed)", err)
		}
	})
}

// FuzzReadResponse: no input makes the response reader panic, claim a
// status outside 100–999 or a negative length.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nrest",
		"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
		"HTTP/1.1 999 X\r\n\r\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		br := bufio.NewReaderSize(strings.NewReader(string(data)), maxHeaderLine)
		status, n, _, err := readResponse(br, head, nil, nil)
		if status != 0 && (status < 100 || status > 999) {
			t.Fatalf("status %d", status)
		}
		if n < 0 || n > int64(len(data)) {
			t.Fatalf("body length %d of %d input bytes", n, len(data))
		}
		if err == nil && status == 0 {
			t.Fatal("no error and no status")
		}
	})
}

// A request from a request log is sent as recorded: its method, path,
// headers and body, over the configured headers.
func TestRecordedRequest(t *testing.T) {
	type seen struct {
		method, uri, body, auth, seg, agent string
	}
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RequestURI(), string(b), r.Header.Get("Authorization"), r.Header.Get("X-Segment"), r.Header.Get("User-Agent")}
	}))
	defer srv.Close()
	c, err := New(extensions.Options{Target: srv.URL, Headers: map[string]string{"Authorization": "Bearer t"}})
	if err != nil {
		t.Fatal(err)
	}
	req := &gonogo.Request{Recorded: &gonogo.Recorded{Method: "PUT", Path: "/v2/items/7?dry=1",
		Header: http.Header{"X-Segment": {"eu"}, "Connection": {"close"}, "Content-Length": {"999"}}, Body: []byte("payload")}}
	for i := 0; i < 2; i++ { // the second goes over the kept-alive connection
		res := &gonogo.Result{Request: req}
		c.Do(context.Background(), req, res)
		if res.Class != gonogo.ErrNone {
			t.Fatalf("%s %s", res.Class, res.Err)
		}
		if s := <-got; s != (seen{"PUT", "/v2/items/7?dry=1", "payload", "Bearer t", "eu", "gonogo"}) {
			t.Errorf("server saw %+v", s)
		}
	}
	bad := &gonogo.Request{Recorded: &gonogo.Recorded{Method: "GET", Path: "no-slash"}}
	res := &gonogo.Result{Request: bad}
	c.Do(context.Background(), bad, res)
	if res.Class != gonogo.ErrOther || !strings.Contains(res.Err, "must start with /") {
		t.Errorf("bad recorded request: %s %q", res.Class, res.Err)
	}
}
