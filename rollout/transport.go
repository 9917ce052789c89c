package rollout

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// h1Transport sends requests to one plain-HTTP backend over HTTP/1.1
// keep-alive connections, writing the request and reading the response
// on the caller's goroutine. net/http's Transport hands every request to
// a connection's writer and reader goroutines and back; on a proxy's hot
// path those handoffs cost as much CPU as the proxying itself. Anything
// else — an upgrade (WebSocket), another scheme — goes to fallback.
type h1Transport struct {
	dialer   net.Dialer
	fallback http.RoundTripper
	// slots caps the connections open at once (nil: no cap).
	slots chan struct{}

	mu      sync.Mutex
	idle    []*h1Conn
	maxIdle int
}

type h1Conn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

const h1BufSize = 16 << 10

func newH1Transport(maxConns, maxIdle int, fallback http.RoundTripper) *h1Transport {
	t := &h1Transport{dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, fallback: fallback, maxIdle: maxIdle}
	if maxConns > 0 {
		t.slots = make(chan struct{}, maxConns)
	}
	return t
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Header.Get("Upgrade") != "" {
		return t.fallback.RoundTrip(req)
	}
	for attempt := 0; ; attempt++ {
		cc, reused, err := t.conn(req.Context(), req.URL.Host)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(cc, req)
		if err == nil {
			return resp, nil
		}
		// A kept-alive connection the backend closed meanwhile fails on
		// first use: once more on a new one, the body being replayable.
		if reused && attempt == 0 && req.Context().Err() == nil {
			if req.Body == nil || req.Body == http.NoBody {
				continue
			}
			if req.GetBody != nil {
				if body, gerr := req.GetBody(); gerr == nil {
					req = req.Clone(req.Context())
					req.Body = body
					continue
				}
			}
		}
		return nil, err
	}
}

// exchange writes req on cc and reads its response head; the response's
// body gives cc back once read to its end.
func (t *h1Transport) exchange(cc *h1Conn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { _ = cc.c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		t.drop(cc)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := req.Write(cc.bw); err != nil {
		return fail(err)
	}
	if err := cc.bw.Flush(); err != nil {
		return fail(err)
	}
	for {
		resp, err := http.ReadResponse(cc.br, req)
		if err != nil {
			return fail(err)
		}
		// Informational answers (100 Continue, 103 Early Hints) precede
		// the answer; a 101 switches protocols, which the fallback does.
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		resp.Body = &h1Body{ReadCloser: resp.Body, t: t, cc: cc, stop: stop, reuse: !resp.Close && !req.Close}
		return resp, nil
	}
}

// conn returns an idle connection to host, or a new one.
func (t *h1Transport) conn(ctx context.Context, host string) (*h1Conn, bool, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		cc := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return cc, true, nil
	}
	t.mu.Unlock()
	if t.slots != nil {
		select {
		case t.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	c, err := t.dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		t.release()
		return nil, false, err
	}
	return &h1Conn{c: c, br: bufio.NewReaderSize(c, h1BufSize), bw: bufio.NewWriterSize(c, h1BufSize)}, false, nil
}

// put keeps cc for the next request, or closes it past maxIdle.
func (t *h1Transport) put(cc *h1Conn) {
	_ = cc.c.SetDeadline(time.Time{})
	t.mu.Lock()
	if len(t.idle) < t.maxIdle {
		t.idle = append(t.idle, cc)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.drop(cc)
}

// drop closes cc.
func (t *h1Transport) drop(cc *h1Conn) {
	_ = cc.c.Close()
	t.release()
}

func (t *h1Transport) release() {
	if t.slots != nil {
		<-t.slots
	}
}

// CloseIdleConnections closes the connections kept for reuse.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, cc := range idle {
		t.drop(cc)
	}
	if c, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// h1Body is a response body that gives its connection back when read to
// its end, and closes it when abandoned before.
type h1Body struct {
	io.ReadCloser
	t     *h1Transport
	cc    *h1Conn
	stop  func() bool
	reuse bool
	done  bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.finish(true)
	}
	return n, err
}

func (b *h1Body) Close() error {
	if !b.done {
		// Closing a response body reads it to its end: not a stream the
		// client gave up on. The connection goes anyway.
		_ = b.cc.c.SetReadDeadline(time.Unix(1, 0))
	}
	err := b.ReadCloser.Close()
	b.finish(false)
	return err
}

// finish settles the connection once: back to the pool after a whole
// body (unless the context was cancelled, which may have set its
// deadline), closed otherwise.
func (b *h1Body) finish(whole bool) {
	if b.done {
		return
	}
	b.done = true
	if b.stop() && whole && b.reuse {
		b.t.put(b.cc)
		return
	}
	b.t.drop(b.cc)
}
