package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves a forwarding proxy on listeners through a hand-written
// HTTP/1.1 path, which costs a fraction of the CPU that net/http's
// server, httputil.ReverseProxy and Transport spend per request: one
// goroutine per client connection, the request head parsed in place and
// forwarded with its hop-by-hop fields dropped, the body read whole first
// and sent with the head in one write, the response relayed as it comes
// (Content-Length, chunked — SSE streams event by event — or until close)
// over keep-alive upstream connections, and no allocation per request on
// the server's side.
//
// The Router decides per request: forward it to a Pool's upstream on the
// fast path (after a delay, if it says so), or answer it with its own
// handler writing to the client connection (see Route).
//
// A client that goes away cuts its upstream request short, as under
// net/http — noticed at once while the request is held back or served
// by a handler, else once the request has taken watchAfter (net/http
// reads every connection in the background of each request; that read
// costs more than the rest of the fast path). A client's connection
// keeps the upstream connection it used last; one that has yet to send a
// request has one opened for it ahead in Config.Preconnect (in the
// background, one dial
// at a time).
//
// Anything the fast path does not fully understand is net/http's: a
// connection whose next request is not plain HTTP/1.1 to a path (HTTP/1.0,
// HTTP/2, Upgrade, Expect: 100-continue, Connection options, a head
// larger than 8 KiB, malformed heads, bodies over Config.MaxBody) is
// handed, with the bytes read so far, to an http.Server serving
// Config.Fallback, which keeps it to its end. So is every connection when
// there is no Router.
type Server struct {
	// ReadHeaderTimeout bounds the reading of a request head once it has
	// begun (default 10 s).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a client's keep-alive connection idle that long
	// (default 2 min).
	IdleTimeout time.Duration
	// ErrorLog receives what the server cannot tell a client: panics of
	// the handlers, accept errors (default: the log package's).
	ErrorLog *log.Logger

	cfg Config

	initOnce sync.Once
	fallback *http.Server
	handoff  *handoffListener
	done     chan struct{}
	shutting atomic.Bool
	fresh    atomic.Int64  // client connections yet to send a request
	kick     chan struct{} // fresh grew

	mu    sync.Mutex
	lns   map[*net.Listener]struct{}
	conns map[*clientConn]struct{}
}

// Config is what a Server serves.
type Config struct {
	// Router routes the requests of the fast path; nil hands every
	// connection to Fallback.
	Router Router
	// Fallback serves what the fast path does not (required).
	Fallback http.Handler
	// Pools are the pools the router forwards to: the server sweeps
	// their idle connections and closes them when it shuts down.
	Pools []*Pool
	// Preconnect, when set, names the pool to keep a connection open
	// ahead in for each client connection yet to send its first request
	// (the pool most requests go to; nil: none for now).
	Preconnect func() *Pool
	// Name begins the messages of the responses the server writes itself
	// ("gonogo fault proxy").
	Name string
	// MaxBody is the largest request body the fast path reads; a larger
	// one goes to Fallback.
	MaxBody int64
}

// NewServer returns a server of cfg.
func NewServer(cfg Config) *Server { return &Server{cfg: cfg} }

// Defaults of a Server.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
)

// Buffer sizes of a client connection: the request head the fast path
// reads must fit in the reader.
const (
	clientReadBufSize  = 8 << 10
	clientWriteBufSize = 8 << 10
)

// watchAfter is how long the fast path serves a request before it starts
// watching the client connection for a client that went away (between
// watchAfter and twice that: Server.watcher looks every watchAfter).
const watchAfter = 100 * time.Millisecond

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.ReadHeaderTimeout <= 0 {
			s.ReadHeaderTimeout = DefaultReadHeaderTimeout
		}
		if s.IdleTimeout <= 0 {
			s.IdleTimeout = DefaultIdleTimeout
		}
		s.done = make(chan struct{})
		s.lns = map[*net.Listener]struct{}{}
		s.conns = map[*clientConn]struct{}{}
		s.handoff = &handoffListener{ch: make(chan net.Conn), done: make(chan struct{})}
		s.fallback = &http.Server{Handler: s.cfg.Fallback, ReadHeaderTimeout: s.ReadHeaderTimeout, IdleTimeout: s.IdleTimeout, ErrorLog: s.ErrorLog}
		go s.fallback.Serve(s.handoff)
		s.kick = make(chan struct{}, 1)
		if s.cfg.Router != nil {
			go s.janitor()
			go s.watcher()
			if s.cfg.Preconnect != nil {
				go s.preconnect()
			}
		}
	})
}

// janitor closes upstream connections idle too long.
func (s *Server) janitor() {
	t := time.NewTicker(upstreamIdleTimeout / 3)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			for _, p := range s.cfg.Pools {
				p.sweep(now)
			}
		}
	}
}

// preconnect fills the preconnect pool whenever fresh client connections
// arrive (a kick), until the server stops.
func (s *Server) preconnect() {
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		if p := s.cfg.Preconnect(); p != nil {
			p.fill(&s.fresh)
		}
	}
}

// watcher starts the watch of the requests served longer than
// watchAfter (see watch): one ticker for all connections costs less than
// a timer per request.
func (s *Server) watcher() {
	t := time.NewTicker(watchAfter)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			now := mono()
			s.mu.Lock()
			for cc := range s.conns {
				if b := cc.busy.Load(); b != 0 && now-b >= int64(watchAfter) && cc.busy.CompareAndSwap(b, 0) {
					go cc.w.read()
				}
			}
			s.mu.Unlock()
		}
	}
}

// monoStart anchors mono.
var monoStart = time.Now()

// mono is a monotonic clock in nanoseconds.
func mono() int64 { return int64(time.Since(monoStart)) }

// Serve accepts connections on ln and serves them until Shutdown or
// Close, after which it returns http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.lns[&ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, &ln)
		s.mu.Unlock()
	}()
	s.handoff.setAddr(ln.Addr())
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return http.ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("%s: accept: %v; retrying in %v", s.cfg.Name, err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if s.cfg.Router == nil {
			s.handoff.give(c)
			continue
		}
		cc := newClientConn(s, c)
		s.mu.Lock()
		if s.shutting.Load() {
			s.mu.Unlock()
			c.Close()
			return http.ErrServerClosed
		}
		s.conns[cc] = struct{}{}
		s.mu.Unlock()
		s.fresh.Add(1)
		select {
		case s.kick <- struct{}{}:
		default:
		}
		go cc.serve()
	}
}

// Shutdown stops accepting connections, closes idle ones and waits for
// the others to finish their response (or for ctx to end, when it
// returns ctx's error).
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.stop()
	fb := make(chan error, 1)
	go func() { fb <- s.fallback.Shutdown(ctx) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for cc := range s.conns {
			if cc.state.CompareAndSwap(stateIdle, stateClosed) {
				cc.c.Close()
			}
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	err := <-fb
	s.closeIdle()
	return err
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.init()
	s.stop()
	s.mu.Lock()
	for cc := range s.conns {
		cc.state.Store(stateClosed)
		cc.c.Close()
	}
	s.mu.Unlock()
	err := s.fallback.Close()
	s.closeIdle()
	return err
}

// closeIdle closes the pools' idle connections.
func (s *Server) closeIdle() {
	for _, p := range s.cfg.Pools {
		p.CloseIdle()
	}
}

// stop marks the server shutting down and closes its listeners.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Swap(true) {
		return
	}
	close(s.done)
	for ln := range s.lns {
		(*ln).Close()
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// handoffListener hands connections to the fallback http.Server.
type handoffListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	addr net.Addr
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) setAddr(a net.Addr) {
	l.mu.Lock()
	if l.addr == nil {
		l.addr = a
	}
	l.mu.Unlock()
}

func (l *handoffListener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addr == nil {
		return &net.TCPAddr{}
	}
	return l.addr
}

// give hands c to the fallback server, or closes it when that is shut.
func (l *handoffListener) give(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

// replayConn is a client connection handed to net/http: its reads return
// the bytes the fast path read already, then the connection's.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes the connection, as net/http does before it
// closes one after an error (so that the client reads the response).
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// States of a client connection, for Shutdown.
const (
	stateActive = iota
	stateIdle
	stateClosed
)

// clientConn is one client connection served by the fast path.
type clientConn struct {
	s     *Server
	c     net.Conn
	cr    connReader
	br    *bufio.Reader
	bw    *bufio.Writer
	up    *upConn // the upstream connection it used last, kept for the next request
	state atomic.Int32
	w     watch
	busy  atomic.Int64 // since when (mono) a request awaits its watch; 0: none

	deadline time.Time // the read deadline set on c
	req      reqHead
	res      resHead
	head     []byte // a copy of the request head, when its body needs more reads
	long     []byte // an upstream response head larger than the reader's buffer
	head1xx  []byte // an interim response head
	body     []byte // the request body, when it was not all buffered
	out      []byte // the request sent upstream; heads written to the client
	tmp      [32]byte
	ip       string // the client's IP address, once asked for

	route Route   // the current request's
	r     Request // the Router's view of the current request
	track bool    // the route wants its outcome: count the body relayed
	sent  int64   // body bytes relayed to the client
	first time.Time
}

// remoteIP is the client's IP address as text.
func (cc *clientConn) remoteIP() string {
	if cc.ip == "" {
		a := cc.c.RemoteAddr().String()
		if host, _, err := net.SplitHostPort(a); err == nil {
			a = host
		}
		cc.ip = a
	}
	return cc.ip
}

// connReader reads a client connection, first the byte the watch read.
type connReader struct {
	c       net.Conn
	pending []byte
}

func (r *connReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.c.Read(p)
}

var (
	clientReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, clientReadBufSize) }}
	clientWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, clientWriteBufSize) }}
)

func newClientConn(s *Server, c net.Conn) *clientConn {
	cc := &clientConn{s: s, c: c}
	cc.cr.c = c
	cc.br = clientReaders.Get().(*bufio.Reader)
	cc.br.Reset(&cc.cr)
	cc.bw = clientWriters.Get().(*bufio.Writer)
	cc.bw.Reset(c)
	cc.w.cc = cc
	return cc
}

// Outcomes of reading a request head.
const (
	headOK = iota
	headHandoff
	headClose
)

// serve serves the connection's requests until it closes or is handed to
// net/http.
func (cc *clientConn) serve() {
	handedOff := false
	defer func() {
		if !handedOff {
			cc.close()
		}
		cc.s.mu.Lock()
		delete(cc.s.conns, cc)
		cc.s.mu.Unlock()
	}()
	for first := true; ; first = false {
		next := cc.readHead()
		if first {
			cc.s.fresh.Add(-1)
		}
		switch next {
		case headHandoff:
			handedOff = true
			cc.handoff(nil)
			return
		case headClose:
			return
		}
		switch cc.serveRequest() {
		case headHandoff:
			handedOff = true
			return
		case headClose:
			return
		}
	}
}

// close closes the connection and gives its upstream connection back.
func (cc *clientConn) close() {
	cc.c.Close()
	cc.state.Store(stateClosed)
	if cc.up != nil {
		if cc.s.shutting.Load() {
			cc.up.close()
		} else {
			cc.up.pool.put(cc.up)
		}
		cc.up = nil
	}
	cc.br.Reset(nil)
	clientReaders.Put(cc.br)
	cc.bw.Reset(nil)
	clientWriters.Put(cc.bw)
	cc.br, cc.bw = nil, nil
}

// handoff gives the connection to net/http, prefix and the buffered bytes
// first. The fast path lets go of it.
func (cc *clientConn) handoff(prefix []byte) {
	if cc.up != nil {
		cc.up.pool.put(cc.up)
		cc.up = nil
	}
	cc.busy.Store(0)
	_ = cc.c.SetDeadline(time.Time{})
	var r io.Reader = cc.br
	if len(prefix) > 0 {
		r = io.MultiReader(bytes.NewReader(prefix), cc.br)
	}
	cc.s.handoff.give(&replayConn{Conn: cc.c, r: r})
}

// setReadDeadline sets the client connection's read deadline.
func (cc *clientConn) setReadDeadline(t time.Time) {
	if !t.Equal(cc.deadline) {
		cc.deadline = t
		_ = cc.c.SetReadDeadline(t)
	}
}

// readHead reads the next request head into cc.req, leaving it in the
// reader.
func (cc *clientConn) readHead() int {
	br := cc.br
	from := 0
	headDeadline := false
	for {
		if br.Buffered() == 0 {
			// Idle until the client's next request. The deadline moves only
			// once in a while, not per request.
			if now := time.Now(); now.Add(cc.s.IdleTimeout).Sub(cc.deadline) > cc.s.IdleTimeout/8 {
				cc.setReadDeadline(now.Add(cc.s.IdleTimeout))
			}
			cc.state.Store(stateIdle)
			if cc.s.shutting.Load() {
				return headClose
			}
			_, err := br.Peek(1)
			if !cc.state.CompareAndSwap(stateIdle, stateActive) || err != nil {
				return headClose
			}
			from = 0
		}
		buf, _ := br.Peek(br.Buffered())
		if buf[0] == '\r' || buf[0] == '\n' { // blank lines before a request are ignored
			br.Discard(1)
			continue
		}
		switch end := headEnd(buf, from); {
		case end < 0:
			return headHandoff
		case end > 0:
			if headDeadline {
				cc.setReadDeadline(time.Now().Add(cc.s.IdleTimeout))
			}
			if !cc.req.parse(buf[:end]) {
				return headHandoff
			}
			return headOK
		}
		if len(buf) >= br.Size() {
			return headHandoff // net/http takes larger heads
		}
		from = max(len(buf)-3, 0)
		if !headDeadline {
			headDeadline = true
			cc.setReadDeadline(time.Now().Add(cc.s.ReadHeaderTimeout))
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return headClose
		}
	}
}

// serveRequest serves the request whose head readHead read: it returns
// headOK to go on with the next one, headClose or headHandoff.
func (cc *clientConn) serveRequest() int {
	h := &cc.req
	body, next := cc.readBody()
	if next != headOK {
		return next
	}
	rt := &cc.route
	*rt = Route{}
	cc.r = Request{h: h, cc: cc, Body: body}
	cc.s.cfg.Router.Route(&cc.r, rt)
	cc.r = Request{}
	var keep bool
	if rt.Pool != nil {
		cc.out = h.appendForward(cc.out[:0], len(body), rt, cc)
		cc.out = append(cc.out, body...)
	}
	if rt.Pool != nil && rt.Delay <= 0 {
		keep = cc.relay(h, rt, nil)
	} else {
		keep = cc.serveHeld(h, body, rt)
	}
	*rt = Route{}
	if cap(cc.out) > 64<<10 {
		cc.out = nil
	}
	if cap(cc.body) > 64<<10 {
		cc.body = nil
	}
	if !keep {
		return headClose
	}
	return headOK
}

// giveUp hands the connection, its current request still unread, to
// net/http.
func (cc *clientConn) giveUp(prefix []byte) int {
	cc.handoff(prefix)
	return headHandoff
}

// readBody reads the request's body whole: it returns the body and
// headOK, having consumed the request from the reader (cc.req still
// valid), or the connection's fate.
func (cc *clientConn) readBody() ([]byte, int) {
	h := &cc.req
	br := cc.br
	headLen := len(h.raw)
	switch {
	case h.chunked:
		return cc.readChunked()
	case h.length > cc.s.cfg.MaxBody:
		return nil, cc.giveUp(nil) // streamed by net/http and the reverse proxy
	case h.length <= 0:
		br.Discard(headLen)
		return nil, headOK
	}
	total := headLen + int(h.length)
	if total <= br.Size() {
		buf, err := br.Peek(total)
		if err != nil {
			return nil, headClose
		}
		h.raw = buf[:headLen] // fill may have moved the bytes: same offsets
		br.Discard(total)
		return buf[headLen:total], headOK
	}
	cc.keepHead()
	br.Discard(headLen)
	cc.body = slices.Grow(cc.body[:0], int(h.length))[:h.length]
	if _, err := io.ReadFull(br, cc.body); err != nil {
		return nil, headClose
	}
	return cc.body, headOK
}

// keepHead copies the request head out of the reader, which is about to
// read further.
func (cc *clientConn) keepHead() {
	cc.head = append(cc.head[:0], cc.req.raw...)
	cc.req.raw = cc.head
}

// readChunked reads a chunked request body whole. One longer than
// Config.MaxBody goes to net/http, as one chunk of what was read and the
// rest as it comes.
func (cc *clientConn) readChunked() ([]byte, int) {
	h := &cc.req
	br := cc.br
	cc.keepHead()
	br.Discard(len(h.raw))
	body, over, err := decodeChunked(br, cc.body[:0], cc.s.cfg.MaxBody)
	cc.body = body[:0]
	switch {
	case err != nil:
		return nil, cc.badRequest(err)
	case over > 0:
		prefix := append([]byte(nil), cc.head...)
		if len(body) > 0 {
			prefix = appendChunkHeader(prefix, len(body))
			prefix = append(prefix, body...)
			prefix = append(prefix, "\r\n"...)
		}
		prefix = appendChunkHeader(prefix, int(over))
		return nil, cc.giveUp(prefix)
	}
	return body, headOK
}

// badRequest answers a request whose body could not be read and closes
// the connection.
func (cc *clientConn) badRequest(err error) int {
	if errors.Is(err, io.ErrUnexpectedEOF) || isTimeout(err) {
		return headClose
	}
	cc.writeSimple(http.StatusBadRequest, cc.s.cfg.Name+": reading the request: "+err.Error()+"\n", true)
	return headClose
}

// writeSimple writes a short plain-text response, as http.Error does.
func (cc *clientConn) writeSimple(code int, body string, close bool) bool {
	b := appendStatusLine(cc.out[:0], code)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	if close {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if string(cc.req.method) != http.MethodHead {
		b = append(b, body...)
	}
	cc.out = b
	_, err := cc.bw.Write(b)
	if err == nil {
		err = cc.bw.Flush()
	}
	return err == nil && !close
}

// upstreamConn returns a connection to p's upstream: the one the client
// connection used last when it is p's, an idle one of p, or (always when
// fresh) a new one. idle says it is not new: send checks its socket.
func (cc *clientConn) upstreamConn(p *Pool, now time.Time, fresh bool) (*upConn, bool, error) {
	if uc := cc.up; uc != nil && !fresh {
		cc.up = nil
		switch {
		case uc.pool != p:
			uc.pool.put(uc)
		case uc.usable(now):
			return uc, true, nil
		default:
			uc.close()
		}
	}
	if !fresh {
		if uc := p.get(now); uc != nil {
			return uc, true, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.dialer.Timeout)
	defer cancel()
	uc, err := p.dial(ctx)
	return uc, false, err
}

// maxStale bounds the idle connections one request finds stale (send's
// check) before it dials a new one.
const maxStale = 8

// relay sends cc.out upstream and relays the response to the client. It
// reports whether the client connection may serve another request. When
// the watch is not running already (a held request's), it starts one should the
// response take longer than watchAfter.
func (cc *clientConn) relay(h *reqHead, rt *Route, cancel context.CancelFunc) bool {
	isHead := string(h.method) == http.MethodHead
	now := time.Now()
	cc.track, cc.sent, cc.first = rt.Done != nil, 0, time.Time{}
	if cancel == nil {
		cc.w.arm(nil, nil, true)
		cc.busy.Store(int64(now.Sub(monoStart)))
	}
	var (
		uc  *upConn
		err error
		rh  = &cc.res
	)
	for attempt, stale := 0, 0; ; attempt++ {
		var idle bool
		if uc, idle, err = cc.upstreamConn(rt.Pool, now, attempt > 0 || stale >= maxStale); err != nil {
			break
		}
		cc.w.setUp(uc.c)
		// A response can come while the request is still being written (an
		// upstream refusing a large body early): it is read even when the
		// write failed.
		uc.send(cc.out, idle)
		var interim bool
		interim, err = cc.readResHead(uc, rh, isHead)
		werr := uc.sent()
		if err == errStale { // closed while idle: nothing sent, not an attempt
			uc.close()
			uc = nil
			cc.w.setUp(nil)
			stale++
			attempt--
			continue
		}
		if err == nil {
			if werr != nil {
				rh.close = true
			}
			break
		}
		if werr != nil {
			err = werr
		}
		reused := uc.reused
		uc.close()
		uc = nil
		cc.w.setUp(nil)
		if cc.w.isGone() || attempt > 0 || !reused || interim || !staleErr(err) || (werr == nil && !h.idempotent()) {
			break
		}
	}
	if err != nil {
		gone := cc.w.disarm()
		if rt.Done != nil {
			rt.Done(Outcome{Err: err, ClientGone: gone, End: time.Now()})
		}
		if gone {
			return false
		}
		return cc.writeSimple(http.StatusBadGateway, cc.s.cfg.Name+": upstream: "+err.Error()+"\n", h.close || cc.s.shutting.Load())
	}
	closeAfter := h.close || cc.s.shutting.Load()
	upKeep, cliOK := !rh.close, true
	noBody := bodyless(rh.status, isHead)
	length, chunked := rh.length, false
	switch {
	case noBody:
	case rh.chunked:
		chunked = true
	case rh.length < 0: // until the upstream closes: chunked to the client
		chunked, upKeep = true, false
	}
	cc.out = rh.appendForward(cc.out[:0], length, chunked, closeAfter)
	if len(rt.Header) > 0 {
		cc.out = append(append(cc.out[:len(cc.out)-2], rt.Header...), "\r\n"...)
	}
	if !rh.consumed {
		uc.br.Discard(len(rh.raw))
	}
	var upErr, cliErr error
	if _, cliErr = cc.bw.Write(cc.out); cliErr != nil {
		cliOK, upKeep = false, upKeep && noBody
	}
	if cliOK && !noBody {
		switch {
		case rh.chunked:
			upErr, cliErr = cc.relayChunked(uc.br)
		case rh.length >= 0:
			upErr, cliErr = cc.copyBody(uc.br, rh.length)
		default:
			upErr, cliErr = cc.relayUntilClose(uc.br)
		}
		if upErr != nil {
			upKeep, cliOK = false, false
		}
		if cliErr != nil {
			upKeep, cliOK = false, false
		}
	}
	if cliOK {
		if ferr := cc.bw.Flush(); ferr != nil {
			cliOK, cliErr = false, ferr
		}
	}
	gone := cc.w.disarm()
	if gone {
		upKeep, cliOK = false, false
	}
	end := time.Now()
	if upKeep {
		uc.usedAt, uc.reused = end, true
		cc.up = uc
	} else {
		uc.close()
	}
	if rt.Done != nil {
		o := Outcome{Status: rh.status, FirstByte: cc.first, Bytes: cc.sent, ClientGone: gone || cliErr != nil, End: end}
		switch {
		case upErr != nil:
			o.Err = upErr
		case cliErr != nil:
			o.Err = cliErr
		case gone:
			o.Err = errClientGone
		}
		rt.Done(o)
	}
	return cliOK && !closeAfter
}

// errClientGone is the outcome of an exchange whose client went away.
var errClientGone = errors.New("the client went away")

// readResHead sends interim (1xx) responses on to the client and parses
// the final response's head into rh, leaving it in uc's reader. interim
// says whether an interim response went to the client.
func (cc *clientConn) readResHead(uc *upConn, rh *resHead, isHead bool) (interim bool, err error) {
	br := uc.br
	for {
		raw, consumed, err := peekResHead(br, &cc.long)
		if err != nil {
			return interim, err
		}
		if err := rh.parse(raw); err != nil {
			return interim, err
		}
		rh.consumed = consumed
		switch {
		case rh.status == http.StatusSwitchingProtocols:
			return interim, errBadResponse("101 Switching Protocols to a request without Upgrade")
		case rh.status < 200:
			interim = true
			b := rh.appendForward(cc.head1xx[:0], -1, false, false)
			cc.head1xx = b
			if !consumed {
				br.Discard(len(raw))
			}
			if _, err := cc.bw.Write(b); err != nil {
				return interim, err
			}
			if err := cc.bw.Flush(); err != nil {
				return interim, err
			}
			continue
		}
		return interim, nil
	}
}

// maxResHead bounds an upstream response head.
const maxResHead = 1 << 20

// peekResHead returns the next response head in br, without consuming
// it; a head larger than br's buffer is read line by line into *long
// (up to maxResHead), consumed.
func peekResHead(br *bufio.Reader, long *[]byte) (raw []byte, consumed bool, err error) {
	from := 0
	for {
		buf, err := br.Peek(max(br.Buffered(), 1))
		if err != nil {
			if err == io.EOF && len(buf) == 0 {
				return nil, false, io.EOF
			}
			if errors.Is(err, io.EOF) {
				return nil, false, io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
		buf, _ = br.Peek(br.Buffered())
		if end := resHeadEnd(buf, from); end > 0 {
			return buf[:end], false, nil
		}
		if len(buf) >= br.Size() {
			raw, err := readLongHead(br, (*long)[:0])
			*long = raw
			return raw, true, err
		}
		from = max(len(buf)-2, 0)
		if _, err := br.Peek(len(buf) + 1); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, false, io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
	}
}

// readLongHead reads a head line by line into dst, up to maxResHead.
func readLongHead(br *bufio.Reader, dst []byte) ([]byte, error) {
	for len(dst) <= maxResHead {
		line, err := br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			return nil, errBadResponse(fmt.Sprintf("header line longer than %d bytes", br.Size()))
		case errors.Is(err, io.EOF):
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		}
		dst = append(dst, line...)
		if len(line) <= 2 && (line[0] == '\n' || line[0] == '\r') {
			return dst, nil
		}
	}
	return nil, errBadResponse(fmt.Sprintf("head larger than %d bytes", maxResHead))
}

// fill makes sure br has a byte buffered, flushing what the client is
// owed first so that nothing waits behind a read of the upstream.
func (cc *clientConn) fill(br *bufio.Reader) (upErr, cliErr error) {
	if br.Buffered() > 0 {
		return nil, nil
	}
	if err := cc.bw.Flush(); err != nil {
		return nil, err
	}
	if _, err := br.Peek(1); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err, nil
	}
	return nil, nil
}

// fillLine is fill for a whole line.
func (cc *clientConn) fillLine(br *bufio.Reader) error {
	buf, _ := br.Peek(br.Buffered())
	if bytes.IndexByte(buf, '\n') >= 0 {
		return nil
	}
	return cc.bw.Flush()
}

// copyBody copies n bytes of body from br to the client.
func (cc *clientConn) copyBody(br *bufio.Reader, n int64) (upErr, cliErr error) {
	for n > 0 {
		if upErr, cliErr = cc.fill(br); upErr != nil || cliErr != nil {
			return upErr, cliErr
		}
		k := int(min(int64(br.Buffered()), n))
		b, _ := br.Peek(k)
		cc.relayed(b)
		if _, err := cc.bw.Write(b); err != nil {
			return nil, err
		}
		br.Discard(k)
		n -= int64(k)
	}
	return nil, nil
}

// relayed notes body bytes b going to the client, when the route wants
// its outcome, and hands them to its tap.
func (cc *clientConn) relayed(b []byte) {
	if len(b) == 0 {
		return
	}
	if cc.track {
		if cc.sent == 0 {
			cc.first = time.Now()
		}
		cc.sent += int64(len(b))
	}
	if tap := cc.route.Tap; tap != nil {
		tap(b)
	}
}

// relayChunked relays a chunked body, chunk by chunk as it comes, its
// trailers included.
func (cc *clientConn) relayChunked(br *bufio.Reader) (upErr, cliErr error) {
	for {
		if cliErr = cc.fillLine(br); cliErr != nil {
			return nil, cliErr
		}
		size, err := readChunkSize(br)
		if err != nil {
			return err, nil
		}
		if size == 0 {
			if cliErr = cc.fillLine(br); cliErr != nil {
				return nil, cliErr
			}
			tr, err := readTrailers(br, append(cc.out[:0], "0\r\n"...))
			cc.out = tr
			if err != nil {
				return err, nil
			}
			cc.out = append(cc.out, "\r\n"...)
			_, cliErr = cc.bw.Write(cc.out)
			return nil, cliErr
		}
		if _, err := cc.bw.Write(strconv.AppendInt(cc.tmp[:0], size, 16)); err != nil {
			return nil, err
		}
		if _, err := cc.bw.WriteString("\r\n"); err != nil {
			return nil, err
		}
		if upErr, cliErr = cc.copyBody(br, size); upErr != nil || cliErr != nil {
			return upErr, cliErr
		}
		if cliErr = cc.fillLine(br); cliErr != nil {
			return nil, cliErr
		}
		if err := readCRLF(br); err != nil {
			return err, nil
		}
		if _, err := cc.bw.WriteString("\r\n"); err != nil {
			return nil, err
		}
	}
}

// relayUntilClose relays a body that ends when the upstream closes, as
// chunks.
func (cc *clientConn) relayUntilClose(br *bufio.Reader) (upErr, cliErr error) {
	for {
		if br.Buffered() == 0 {
			if err := cc.bw.Flush(); err != nil {
				return nil, err
			}
			if _, err := br.Peek(1); err != nil {
				if err == io.EOF {
					_, cliErr = cc.bw.WriteString("0\r\n\r\n")
					return nil, cliErr
				}
				return err, nil
			}
		}
		b, _ := br.Peek(br.Buffered())
		cc.relayed(b)
		if _, err := cc.bw.Write(appendChunkHeader(cc.tmp[:0], len(b))); err != nil {
			return nil, err
		}
		if _, err := cc.bw.Write(b); err != nil {
			return nil, err
		}
		br.Discard(len(b))
		if _, err := cc.bw.WriteString("\r\n"); err != nil {
			return nil, err
		}
	}
}

// serveHeld serves a request the fast path does not simply forward: it
// watches the client from the start, holds the request back by
// rt.Delay, then forwards it to rt.Pool or has rt.Serve (else the
// fallback handler) answer it on the client connection. It reports
// whether the connection may serve another request.
func (cc *clientConn) serveHeld(h *reqHead, body []byte, rt *Route) bool {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc.w.arm(nil, cancel, false)
	if rt.Delay > 0 && !sleep(ctx, rt.Delay) {
		cc.w.disarm()
		if rt.Done != nil {
			rt.Done(Outcome{Err: errClientGone, ClientGone: true, End: time.Now()})
		}
		return false
	}
	if rt.Pool != nil {
		return cc.relay(h, rt, cancel)
	}
	serve := rt.Serve
	if serve == nil {
		serve = cc.s.cfg.Fallback.ServeHTTP
	}
	keep := cc.respond(ctx, h, body, serve)
	if cc.w.disarm() {
		return false
	}
	return keep
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// newWriter returns the response writer of the request h.
func (cc *clientConn) newWriter(h *reqHead) *connWriter {
	return &connWriter{cc: cc, hdr: http.Header{}, head: string(h.method) == http.MethodHead, close: h.close || cc.s.shutting.Load(), left: -1}
}

// respond builds the request as net/http would have and has serve
// answer it, writing to the client connection.
func (cc *clientConn) respond(ctx context.Context, h *reqHead, body []byte, serve http.HandlerFunc) (keep bool) {
	u, err := url.ParseRequestURI(string(h.target))
	if err != nil {
		cc.writeSimple(http.StatusBadRequest, cc.s.cfg.Name+": reading the request: "+err.Error()+"\n", true)
		return false
	}
	hd := h.header()
	r := &http.Request{
		Method: methodString(h.method), URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hd, Host: h.host(), RemoteAddr: cc.c.RemoteAddr().String(), RequestURI: string(h.target),
		ContentLength: int64(len(body)), Close: h.close, Body: http.NoBody,
	}
	if len(body) > 0 {
		b := bytes.Clone(body) // the transport may read it after the response
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	// Under a server, as here, the reverse proxy aborts the response
	// (panics with http.ErrAbortHandler) when its body cannot be copied.
	ctx = context.WithValue(ctx, http.ServerContextKey, cc.s.fallback)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, cc.c.LocalAddr())
	r = r.WithContext(ctx)
	w := cc.newWriter(h)
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				cc.s.logf("%s: panic serving %v: %v\n%s", cc.s.cfg.Name, r.RemoteAddr, v, buf)
			}
			_ = cc.bw.Flush()
			keep = false
		}
	}()
	serve(w, r)
	return w.finish()
}

// watch notices a client that goes away while the fast path serves its
// request — net/http reads every connection in the background of its
// requests for this — so that the upstream connection is cut and the
// upstream stops working for nobody. It reads only for requests that
// take longer than watchAfter (Server.watcher starts it), or that are
// held back or served by a handler.
type watch struct {
	cc      *clientConn
	mu      sync.Mutex
	armed   bool
	running bool
	gone    bool
	done    chan struct{}
	up      net.Conn
	cancel  context.CancelFunc
	buf     [1]byte
}

// aLongTimeAgo is a deadline in the past: it interrupts reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

// arm readies the watch — and starts it unless lazy: then the caller
// sets cc.busy for Server.watcher. The client going away interrupts up
// and calls cancel.
func (w *watch) arm(up net.Conn, cancel context.CancelFunc, lazy bool) {
	w.mu.Lock()
	w.armed, w.gone, w.up, w.cancel = true, false, up, cancel
	w.mu.Unlock()
	if !lazy {
		go w.read()
	}
}

// setUp names the upstream connection to interrupt.
func (w *watch) setUp(up net.Conn) {
	w.mu.Lock()
	w.up = up
	if w.gone && up != nil {
		_ = up.SetDeadline(aLongTimeAgo)
	}
	w.mu.Unlock()
}

func (w *watch) isGone() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gone
}

// read reads the client connection until the client sends a byte (kept
// for the next request), goes away, or the watch is disarmed.
func (w *watch) read() {
	w.mu.Lock()
	if !w.armed || w.running || len(w.cc.cr.pending) > 0 {
		w.mu.Unlock()
		return
	}
	w.running = true
	w.done = make(chan struct{})
	c := w.cc.c
	_ = c.SetReadDeadline(time.Time{})
	w.mu.Unlock()
	n, err := c.Read(w.buf[:])
	w.mu.Lock()
	switch {
	case n > 0:
		w.cc.cr.pending = w.buf[:n]
	case err != nil && !isTimeout(err):
		w.gone = true
		if w.up != nil {
			_ = w.up.SetDeadline(aLongTimeAgo)
		}
		if w.cancel != nil {
			w.cancel()
		}
	}
	w.mu.Unlock()
	close(w.done)
}

// disarm stops watching and reports whether the client went away.
func (w *watch) disarm() bool {
	w.cc.busy.Store(0)
	w.mu.Lock()
	w.armed = false
	if !w.running { // the usual case: the request never waited long
		gone := w.gone
		w.up, w.cancel = nil, nil
		w.mu.Unlock()
		return gone
	}
	_ = w.cc.c.SetReadDeadline(aLongTimeAgo)
	w.mu.Unlock()
	<-w.done
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
	_ = w.cc.c.SetReadDeadline(w.cc.deadline)
	w.mu.Lock()
	gone := w.gone
	w.up, w.cancel = nil, nil
	w.mu.Unlock()
	return gone
}

// connWriter is the http.ResponseWriter of a request the fast path hands
// to a handler: it writes the response to the client
// connection, chunked unless it has a Content-Length.
type connWriter struct {
	cc       *clientConn
	hdr      http.Header
	head     bool // a HEAD request
	close    bool // the connection closes after the response
	wrote    bool
	noBody   bool
	chunked  bool
	left     int64 // bytes the Content-Length still allows; -1 without one
	trailers []string
	err      error
}

var (
	_ http.ResponseWriter = (*connWriter)(nil)
	_ http.Flusher        = (*connWriter)(nil)
)

func (w *connWriter) Header() http.Header { return w.hdr }

func (w *connWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.writeHead(code, -1, false) // interim: the final head follows
		w.flush()
		return
	}
	w.wrote = true
	w.noBody = bodyless(code, w.head)
	if v := w.hdr.Get("Content-Length"); v != "" {
		if n, ok := parseLength([]byte(strings.TrimSpace(v))); ok {
			w.left = n
		}
	}
	w.chunked = !w.noBody && w.left < 0
	for _, v := range w.hdr["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(k))
			}
		}
	}
	if w.hdr.Get("Date") == "" {
		w.hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	w.writeHead(code, w.left, w.chunked)
}

// writeHead writes a status line and the header with the framing given.
func (w *connWriter) writeHead(code int, length int64, chunked bool) {
	b := appendStatusLine(w.cc.out[:0], code)
	for _, k := range slices.Sorted(maps.Keys(w.hdr)) {
		switch {
		case strings.HasPrefix(k, http.TrailerPrefix), k == "Content-Length", k == "Transfer-Encoding", k == "Connection",
			!chunked && k == "Trailer":
			continue
		}
		for _, v := range w.hdr[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	switch {
	case length >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, length, 10)
		b = append(b, "\r\n"...)
	case chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if w.close && code >= 200 {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	w.cc.out = b
	w.write(b)
}

// appendValue appends a header value with its line breaks made spaces, as
// net/http writes them.
func appendValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

func (w *connWriter) write(b []byte) {
	if w.err == nil {
		_, w.err = w.cc.bw.Write(b)
	}
}

func (w *connWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case w.err != nil:
		return 0, w.err
	case w.noBody:
		if w.head {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	case w.chunked:
		if len(p) > 0 {
			w.write(appendChunkHeader(w.cc.tmp[:0], len(p)))
			w.write(p)
			w.write([]byte("\r\n"))
		}
	default:
		if int64(len(p)) > w.left {
			w.write(p[:w.left])
			w.left = 0
			return 0, http.ErrContentLength
		}
		w.write(p)
		w.left -= int64(len(p))
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// Flush sends what was written so far.
func (w *connWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.flush()
}

func (w *connWriter) flush() {
	if w.err == nil {
		w.err = w.cc.bw.Flush()
	}
}

// finish ends the response and reports whether the connection may carry
// another request.
func (w *connWriter) finish() bool {
	if !w.wrote {
		if _, ok := w.hdr["Content-Length"]; !ok && !w.head {
			w.hdr.Set("Content-Length", "0")
		}
		w.WriteHeader(http.StatusOK)
	}
	complete := true
	switch {
	case w.chunked:
		b := append(w.cc.out[:0], "0\r\n"...)
		for k, vs := range w.hdr {
			name, ok := strings.CutPrefix(k, http.TrailerPrefix)
			if !ok {
				if !slices.Contains(w.trailers, k) {
					continue
				}
				name = k
			}
			for _, v := range vs {
				b = append(b, name...)
				b = append(b, ": "...)
				b = appendValue(b, v)
				b = append(b, "\r\n"...)
			}
		}
		b = append(b, "\r\n"...)
		w.cc.out = b
		w.write(b)
	case !w.noBody && w.left > 0:
		complete = false // shorter than its Content-Length: the client must see the close
	}
	w.flush()
	return complete && w.err == nil && !w.close
}
