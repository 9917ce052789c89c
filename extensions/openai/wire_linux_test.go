//go:build linux && (amd64 || arm64)

package openai

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/scenarios"
)

var _ scenarios.Warmer = (*Client)(nil)

// countingServer answers every request with a short stream and counts the
// connections it accepted and the most it had open at once.
func countingServer(t *testing.T, hold time.Duration) (url string, conns, peak *atomic.Int64) {
	conns, peak = new(atomic.Int64), new(atomic.Int64)
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		time.Sleep(hold)
		io.WriteString(w, "data: "+text("a")+"\n\ndata: "+text("b")+"\n\ndata: [DONE]\n\n")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
			n := open.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, conns, peak
}

func newClient(t *testing.T, o extensions.Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if c.wire == nil {
		t.Fatal("an http:// target does not use the wire")
	}
	return c
}

func doRequest(c *Client, ctx context.Context, id uint64) *gonogo.Result {
	req := &gonogo.Request{ID: id}
	res := &gonogo.Result{Request: req, Sent: time.Now()}
	c.Do(ctx, req, res)
	return res
}

// waitFor polls cond for up to 2 s.
func waitFor(cond func() bool) {
	for deadline := time.Now().Add(2 * time.Second); !cond() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

func TestWireConnections(t *testing.T) {
	tests := []struct {
		name       string
		maxConns   int
		warm       int
		concurrent int
		warmed     int64 // connections after Warm
		want       int64 // connections after the requests
		wantPeak   int64 // at most this many open at once
	}{
		{"sequential requests reuse one", 0, 0, 1, 0, 1, 1},
		{"warmed connections are used", 0, 4, 4, 4, 4, 4},
		{"no more than MaxConns", 2, 10, 6, 2, 2, 2},
		{"MaxConns without warming", 3, 0, 8, 0, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, conns, peak := countingServer(t, 20*time.Millisecond)
			c := newClient(t, extensions.Options{Target: url, MaxConns: tt.maxConns})
			if err := c.Warm(context.Background(), tt.warm); err != nil {
				t.Fatalf("Warm: %v", err)
			}
			waitFor(func() bool { return conns.Load() >= tt.warmed })
			if got := conns.Load(); got != tt.warmed {
				t.Fatalf("connections after Warm(%d) = %d, want %d", tt.warm, got, tt.warmed)
			}
			for round := range 3 {
				var wg sync.WaitGroup
				for i := range tt.concurrent {
					wg.Go(func() {
						if res := doRequest(c, context.Background(), uint64(i)); res.Class != gonogo.ErrNone || res.OutputTokens != 2 {
							t.Errorf("round %d request %d: %s %s, %d tokens", round, i, res.Class, res.Err, res.OutputTokens)
						}
					})
				}
				wg.Wait()
			}
			if got := conns.Load(); got != tt.want {
				t.Errorf("connections = %d, want %d", got, tt.want)
			}
			if got := peak.Load(); got > tt.wantPeak {
				t.Errorf("%d connections open at once, want at most %d", got, tt.wantPeak)
			}
		})
	}
}

// rawServer runs serve on every connection it accepts.
func rawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readRequest reads one request's head and body from br.
func readRequest(br *bufio.Reader) error {
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return err
}

// A keep-alive connection that the server closes while it is idle is not
// used again: the next request gets a new one and succeeds.
func TestWireServerClosesIdle(t *testing.T) {
	var accepted atomic.Int64
	answer := sse(text("a"), "[DONE]")
	url := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		accepted.Add(1)
		if readRequest(br) != nil {
			return
		}
		io.WriteString(c, answer)
		time.Sleep(20 * time.Millisecond) // then close, without having said so
	})
	c := newClient(t, extensions.Options{Target: url})
	for i := range 3 {
		if res := doRequest(c, context.Background(), uint64(i)); res.Class != gonogo.ErrNone || res.OutputTokens != 1 {
			t.Fatalf("request %d: %s %s", i, res.Class, res.Err)
		}
		time.Sleep(60 * time.Millisecond)
	}
	if got := accepted.Load(); got != 3 {
		t.Errorf("connections = %d, want 3", got)
	}
	// And one that the server closes on reading the next request (it timed
	// out as the request went out) is retried on a new one.
	accepted.Store(0)
	url = rawServer(t, func(c net.Conn, br *bufio.Reader) {
		first := accepted.Add(1)%2 == 1
		for readRequest(br) == nil {
			io.WriteString(c, answer)
			if first {
				readRequest(br)
				return // the next request is dropped
			}
		}
	})
	c = newClient(t, extensions.Options{Target: url})
	for i := range 2 {
		if res := doRequest(c, context.Background(), uint64(i)); res.Class != gonogo.ErrNone || res.OutputTokens != 1 {
			t.Fatalf("request %d: %s %s", i, res.Class, res.Err)
		}
	}
	if got := accepted.Load(); got != 2 {
		t.Errorf("connections = %d, want 2", got)
	}
}

// A server that sends no status line with the head, or garbage, fails the
// request as a protocol error and its connection is not reused.
func TestWireBadAnswers(t *testing.T) {
	tests := []struct {
		name, answer, want string
	}{
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", "malformed status line"},
		{"bad framing", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "bad chunk size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var accepted atomic.Int64
			url := rawServer(t, func(c net.Conn, br *bufio.Reader) {
				accepted.Add(1)
				for readRequest(br) == nil {
					io.WriteString(c, tt.answer)
				}
			})
			c := newClient(t, extensions.Options{Target: url})
			for i := range 2 {
				res := doRequest(c, context.Background(), uint64(i))
				if res.Class != gonogo.ErrProtocol || !strings.Contains(res.Err, tt.want) {
					t.Fatalf("request %d: %s %q, want protocol error with %q", i, res.Class, res.Err, tt.want)
				}
			}
			if got := accepted.Load(); got != 2 {
				t.Errorf("connections = %d, want 2 (none reused after a broken answer)", got)
			}
		})
	}
}

func TestWireStampsSegments(t *testing.T) {
	url, _, _ := countingServer(t, 0)
	c := newClient(t, extensions.Options{Target: url})
	if err := c.Warm(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	conn, ok := c.wire.pool.Idle()
	if !ok {
		t.Fatal("no warmed connection")
	}
	defer conn.close()
	if !conn.stamped {
		t.Fatal("SO_TIMESTAMPNS is not on: chunk times would be read times")
	}
}

func TestRxTime(t *testing.T) {
	now := time.Now()
	cmsg := func(level, typ int32, sec, nsec int64) []byte {
		b := make([]byte, syscall.SizeofCmsghdr+16)
		binary.NativeEndian.PutUint64(b, uint64(len(b)))
		binary.NativeEndian.PutUint32(b[8:], uint32(level))
		binary.NativeEndian.PutUint32(b[12:], uint32(typ))
		binary.NativeEndian.PutUint64(b[16:], uint64(sec))
		binary.NativeEndian.PutUint64(b[24:], uint64(nsec))
		return b
	}
	before := now.Add(-3 * time.Millisecond)
	stamp := cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, before.Unix(), int64(before.Nanosecond()))
	tests := []struct {
		name string
		oob  []byte
		want time.Duration // before now
	}{
		{"stamp", stamp, 3 * time.Millisecond},
		{"after another message", append(cmsg(syscall.SOL_IP, 8, 0, 0), stamp...), 3 * time.Millisecond},
		{"none", nil, 0},
		{"cut", stamp[:20], 0},
		{"from the future", cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, now.Unix()+5, 0), 0},
		{"a clock that was set", cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, now.Unix()-3600, 0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rxTime(tt.oob, now)
			if d := now.Sub(got); d != tt.want {
				t.Errorf("rxTime is %v before now, want %v", d, tt.want)
			}
			if got.Sub(now) != -tt.want {
				t.Errorf("the result has lost now's monotonic clock")
			}
		})
	}
}

// The reactor ends a request whose server does not answer at its
// deadline, and one whose context ends, within a few ticks.
func TestWireDeadlineAndCancel(t *testing.T) {
	url := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		readRequest(br)
		io.Copy(io.Discard, c) // and never answer
	})
	c := newClient(t, extensions.Options{Target: url, Timeout: 100 * time.Millisecond})
	start := time.Now()
	res := doRequest(c, context.Background(), 1)
	if took := time.Since(start); res.Class != gonogo.ErrTimeout || took < 100*time.Millisecond || took > time.Second {
		t.Errorf("no answer: %s %q after %v; want a timeout after 100 ms", res.Class, res.Err, took)
	}
	c = newClient(t, extensions.Options{Target: url})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	res = doRequest(c, ctx, 2)
	if took := time.Since(start); res.Class != gonogo.ErrCanceled || took > time.Second {
		t.Errorf("canceled: %s %q after %v; want canceled soon after 50 ms", res.Class, res.Err, took)
	}
}
