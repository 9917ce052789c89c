package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawUpstream accepts connections and has serve answer each; it counts
// connections and the requests each carried.
type rawUpstream struct {
	addr  string
	conns atomic.Int64
	mu    sync.Mutex
	most  int // the most requests one connection carried
}

func startRawUpstream(t *testing.T, serve func(c *net.TCPConn, br *bufio.Reader, u *rawUpstream)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c.(*net.TCPConn), bufio.NewReader(c), u)
			})
		}
	})
	return u
}

// carried notes that one connection carried n requests.
func (u *rawUpstream) carried(n int) {
	u.mu.Lock()
	u.most = max(u.most, n)
	u.mu.Unlock()
}

// TestSendChecksIdleConnections: an idle upstream connection the upstream
// closed, reset or sent unasked-for bytes on is not used for the next
// request — not even a POST, which cannot be retried — and costs no
// request an error.
func TestSendChecksIdleConnections(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, tc := range []struct {
		name  string
		after func(c *net.TCPConn) bool // what the upstream does after answering; false: stop
	}{
		{"closed", func(*net.TCPConn) bool { return false }},
		{"reset", func(c *net.TCPConn) bool { c.SetLinger(0); return false }},
		{"unasked-for bytes", func(c *net.TCPConn) bool {
			time.Sleep(5 * time.Millisecond) // after the proxy read the answer
			_, err := io.WriteString(c, "junk")
			return err == nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startRawUpstream(t, func(c *net.TCPConn, br *bufio.Reader, u *rawUpstream) {
				n := 0
				defer func() { u.carried(n) }()
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, r.Body)
					n++
					if _, err := io.WriteString(c, ok); err != nil || !tc.after(c) {
						return
					}
				}
			})
			p := NewPool(up.addr, 8)
			r := &byHeader{pools: map[string]*Pool{"a": p}}
			addr := serve(t, Config{Router: r, Fallback: http.NotFoundHandler(), Pools: []*Pool{p}, Name: "test", MaxBody: 1 << 20})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			const n = 5
			for i := range n {
				fmt.Fprintf(c, "POST /%d HTTP/1.1\r\nHost: x\r\nX-To: a\r\nContent-Length: 1\r\n\r\nx", i)
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || string(b) != "ok" {
					t.Errorf("request %d: %d %q", i, res.StatusCode, b)
				}
				time.Sleep(20 * time.Millisecond) // the close, reset or bytes arrive meanwhile
			}
			for i, o := range r.wait(n) {
				if o.Err != nil || o.Status != 200 {
					t.Errorf("outcome %d: %+v", i, o)
				}
			}
			up.mu.Lock()
			most := up.most
			up.mu.Unlock()
			if most > 1 {
				t.Errorf("a connection carried %d requests after it went stale", most)
			}
			if got := up.conns.Load(); got < n {
				t.Errorf("%d upstream connections for %d requests, each on a fresh one", got, n)
			}
		})
	}
}

// TestSendLargeBodies: request bodies larger than the socket takes at
// once reach the upstream whole — the rest of the write goes through the
// connection — on fresh and reused connections, and an upstream that
// answers before it reads a body (then closes) has its answer relayed.
func TestSendLargeBodies(t *testing.T) {
	up := startRawUpstream(t, func(c *net.TCPConn, br *bufio.Reader, u *rawUpstream) {
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if r.URL.Path == "/refuse" {
				io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig")
				return
			}
			time.Sleep(50 * time.Millisecond) // the proxy's write fills the socket first
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			sum := 0
			for _, x := range b {
				sum += int(x)
			}
			body := strconv.Itoa(len(b)) + " " + strconv.Itoa(sum)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
	p := NewPool(up.addr, 8)
	r := &byHeader{pools: map[string]*Pool{"a": p}}
	addr := serve(t, Config{Router: r, Fallback: http.NotFoundHandler(), Pools: []*Pool{p}, Name: "test", MaxBody: 16 << 20})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for i, size := range []int{8 << 20, 10, 6 << 20} {
		body := bytes.Repeat([]byte{byte('a' + i)}, size)
		done := make(chan error, 1)
		go func() {
			_, err := fmt.Fprintf(c, "POST /sum HTTP/1.1\r\nHost: x\r\nX-To: a\r\nContent-Length: %d\r\n\r\n%s", size, body)
			done <- err
		}()
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d %d", size, size*int('a'+i)); res.StatusCode != 200 || string(b) != want {
			t.Errorf("body %d: %d %q, want %q", i, res.StatusCode, b, want)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("%d upstream connections, want the one reused", n)
	}
	// The upstream answers without reading the body and closes: the
	// client gets its answer, however the write of the body ended.
	body := bytes.Repeat([]byte("z"), 8<<20)
	go fmt.Fprintf(c, "POST /refuse HTTP/1.1\r\nHost: x\r\nX-To: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge || string(b) != "big" {
		t.Errorf("refused: %d %q", res.StatusCode, b)
	}
}
