package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Pool keeps the fast path's keep-alive connections to one upstream
// (host:port, plain HTTP/1.1). Idle ones wait in a LIFO stack, so that
// the connections in use stay few and warm. A client connection keeps
// the upstream connection it last used (see clientConn) and gives it back
// here when it closes or sends its next request elsewhere.
type Pool struct {
	addr   string
	dialer net.Dialer
	max    int
	down   atomic.Bool // the last dial failed

	mu   sync.Mutex
	idle []*upConn
	live map[*upConn]struct{} // every open connection, idle or in use (for Cut)
}

// upConn is one connection to the upstream.
type upConn struct {
	pool   *Pool
	c      net.Conn
	raw    syscall.RawConn // the socket, for send's system calls (nil: none)
	br     *bufio.Reader   // reads rd
	rd     upReader
	usedAt time.Time   // when it last finished a response
	reused bool        // it carried a request before
	cut    atomic.Bool // Pool.Cut closed it under its user
}

// Tuning of the upstream connections.
const (
	// upstreamIdleTimeout closes a connection idle that long, as
	// net/http's DefaultTransport does.
	upstreamIdleTimeout = 90 * time.Second
	upstreamBufSize     = 8 << 10
)

// NewPool returns a pool of connections to addr (host:port) keeping up
// to maxIdle idle ones.
func NewPool(addr string, maxIdle int) *Pool {
	return &Pool{addr: addr, max: maxIdle, live: map[*upConn]struct{}{},
		dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}}
}

// Addr is the upstream's host:port.
func (p *Pool) Addr() string { return p.addr }

var upReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, upstreamBufSize) }}

// dial opens a new connection to the upstream.
func (p *Pool) dial(ctx context.Context) (*upConn, error) {
	c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	p.down.Store(err != nil)
	if err != nil {
		return nil, err
	}
	uc := &upConn{pool: p, c: c}
	uc.rd.init(uc)
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			uc.raw = rc
		}
	}
	uc.br = upReaders.Get().(*bufio.Reader)
	uc.br.Reset(&uc.rd)
	p.mu.Lock()
	p.live[uc] = struct{}{}
	p.mu.Unlock()
	return uc, nil
}

// fill keeps as many idle connections in the pool as there are client
// connections that have yet to send their first request (fresh), dialing
// one at a time: load generators open their connections ahead of the
// load (extensions.Pool.Warm), and through the proxy the upstream's
// should be open ahead of it too, not dialed by the load's first
// requests. It dials nothing while dials to the upstream fail.
func (p *Pool) fill(fresh *atomic.Int64) {
	for !p.down.Load() {
		p.mu.Lock()
		idle := len(p.idle)
		p.mu.Unlock()
		if idle >= int(fresh.Load()) || idle >= p.max {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.dialer.Timeout)
		uc, err := p.dial(ctx)
		cancel()
		if err != nil {
			return
		}
		uc.usedAt = time.Now()
		p.put(uc)
	}
}

// get returns an idle connection that may still be usable (send checks
// the socket), or nil.
func (p *Pool) get(now time.Time) *upConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if uc.usable(now) {
			return uc
		}
		uc.close()
	}
}

// put keeps uc for reuse, or closes it when the pool is full.
func (p *Pool) put(uc *upConn) {
	p.mu.Lock()
	if len(p.idle) < p.max {
		p.idle = append(p.idle, uc)
		uc = nil
	}
	p.mu.Unlock()
	if uc != nil {
		uc.close()
	}
}

// sweep closes the connections idle longer than upstreamIdleTimeout.
func (p *Pool) sweep(now time.Time) {
	p.mu.Lock()
	var old []*upConn
	keep := p.idle[:0]
	for _, uc := range p.idle {
		if now.Sub(uc.usedAt) > upstreamIdleTimeout {
			old = append(old, uc)
		} else {
			keep = append(keep, uc)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	p.mu.Unlock()
	for _, uc := range old {
		uc.close()
	}
}

// CloseIdle closes the idle connections.
func (p *Pool) CloseIdle() {
	if p == nil {
		return
	}
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, uc := range idle {
		uc.close()
	}
}

// Cut closes every connection of the pool, idle and in use: the
// exchanges in flight on them end with an error (a drain that timed
// out). The pool dials new ones as it is asked for them.
func (p *Pool) Cut() {
	p.CloseIdle()
	p.mu.Lock()
	busy := make([]net.Conn, 0, len(p.live))
	for uc := range p.live {
		uc.cut.Store(true)
		busy = append(busy, uc.c)
	}
	p.mu.Unlock()
	for _, c := range busy {
		c.Close() // its user notices and closes it for good (uc.close)
	}
}

// usable reports whether an idle connection may carry another request:
// not idle too long, nothing unasked-for buffered, not cut. Whether the
// upstream closed it meanwhile, or sent bytes nobody asked for — which
// net/http's Transport learns from the read it keeps going on every idle
// connection — send checks on the socket itself, just before it writes
// the next request.
func (uc *upConn) usable(now time.Time) bool {
	return now.Sub(uc.usedAt) <= upstreamIdleTimeout && uc.br.Buffered() == 0 && !uc.cut.Load()
}

// errStale is the first read of an exchange whose connection failed
// send's check: the upstream closed it, or sent bytes nobody asked for,
// while it was idle. Nothing was sent on it.
var errStale = errors.New("h1: idle upstream connection closed or unusable")

// send has the next read of uc.br write req first — after checking, when
// check is set, that the upstream has not closed the idle connection or
// sent anything meanwhile (else that read fails with errStale, nothing
// written). The write's error, if any, is sent's afterwards; the read
// reads the response even when the write failed (an upstream may answer
// a request it refuses before reading all of it).
func (uc *upConn) send(req []byte, check bool) {
	uc.rd.werr = nil
	if uc.br.Buffered() > 0 {
		// The next read would not reach the connection (usable rules
		// this out): the request goes now.
		_, uc.rd.werr = uc.c.Write(req)
		return
	}
	uc.rd.req, uc.rd.check = req, check
}

// sent returns why the request of the last send could not be written,
// once the read that sent it returned; nil when it was.
func (uc *upConn) sent() error { return uc.rd.werr }

// upReader is what an upstream connection's reader reads from: the
// connection — and, on the first read of an exchange, the request of
// send first. On a socket it reaches (exchangeRaw), that read is one
// pass through the poller: a non-blocking read that finds nothing there
// checks the idle connection, then the request is written, the read
// waits for the answer and reads it. Separately, the check (a peek), the
// write and a read that would find nothing yet are one system call each.
type upReader struct {
	uc    *upConn
	req   []byte // sent before the next read; nil: none
	check bool
	werr  error

	// exchangeRaw's state, for step
	step  func(fd uintptr) bool // rawStep, bound once
	phase int
	out   []byte // the part of req still to write
	p     []byte
	n     int
	rerr  error
	stale bool
}

func (r *upReader) init(uc *upConn) {
	r.uc = uc
	r.step = r.rawStep
}

func (r *upReader) Read(p []byte) (int, error) {
	req := r.req
	if req == nil {
		return r.uc.c.Read(p)
	}
	r.req = nil
	if r.uc.raw != nil && len(p) > 0 {
		n, rest, err := r.exchangeRaw(req, p, r.check)
		if rest == nil {
			return n, err
		}
		req = rest
	}
	// Through the connection, which reports errors as it always does.
	if len(req) > 0 {
		_, r.werr = r.uc.c.Write(req)
	}
	return r.uc.c.Read(p)
}

func (uc *upConn) close() {
	uc.c.Close()
	uc.pool.mu.Lock()
	delete(uc.pool.live, uc)
	uc.pool.mu.Unlock()
	if uc.br != nil {
		uc.br.Reset(nil)
		upReaders.Put(uc.br)
		uc.br = nil
	}
}

// staleErr reports whether err is what a reused keep-alive connection the
// upstream had closed looks like.
func staleErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// isTimeout reports whether err is a deadline's.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
