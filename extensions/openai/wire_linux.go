//go:build linux && (amd64 || arm64)

package openai

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gonogo-dev/gonogo/extensions"
)

// haveWire reports whether the plain-HTTP fast path is built here.
const haveWire = true

// reactorTick is how long a reactor waits between two reads of its
// connections while at least batchFrom requests are in flight. It delays
// the reading of a response, not its measurement (see recv). With fewer
// requests in flight, a reactor wakes up as soon as one of them has data:
// there are few wake-ups to save, and a closed loop of short requests
// would otherwise wait up to a tick each. A reactor whose requests are all
// done sleeps until the next one starts.
const (
	reactorTick = time.Millisecond
	batchFrom   = 32
)

// expireEvery is how often a reactor checks its requests' deadlines,
// cancellations and write failures.
const expireEvery = 4 * time.Millisecond

// maxRxDelay bounds how long before its read a segment may have come by
// its kernel time stamp; an older stamp (a clock that was set) is not
// used.
const maxRxDelay = 10 * time.Second

// States of a connection.
const (
	connIdle   = iota // in the pool, or being handed a request
	connActive        // a request is in flight: the reactor reads its response
	connDone          // the response is read; its goroutine has it
	connDead          // closed, or unusable
)

// sock is the Linux part of a wireConn: the socket, on a file descriptor
// of its own that the runtime's network poller does not watch (the dialed
// one is closed), in blocking mode for writes; reads never block
// (MSG_DONTWAIT).
type sock struct {
	mu      sync.Mutex // state and fd, between the request's goroutine and the reactor
	state   int
	fd      int
	r       *reactor
	slot    int32
	stamped bool // the kernel stamps received segments (SO_TIMESTAMPNS)
	pending bool // readable while its goroutine had the response: see release

	deadline time.Time
	timeout  time.Duration
	expired  bool        // the reactor ended the response at its deadline
	canceled atomic.Bool // the request's context ended
	failed   atomic.Bool // writing the request failed: writeErr says why
	writeErr error
	active   int           // index in the reactor's active list
	done     chan struct{} // the reactor has read the response

	watched context.Context // the context whose cancellation sets canceled (see abortOn)
	stop    func() bool
}

// dial connects to the target and hands the socket to a reactor.
func (w *wire) dial(ctx context.Context, deadline time.Time) (*wireConn, error) {
	r, err := pickReactor()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	nc, err := w.dialer.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return nil, err
	}
	fd, err := detach(nc)
	if err != nil {
		return nil, err
	}
	conn := &wireConn{sock: sock{fd: fd, r: r, timeout: w.timeout, done: make(chan struct{}, 1)}}
	tv := syscall.NsecToTimeval(int64(w.timeout))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("setsockopt", err)
	}
	conn.stamped = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) == nil
	if err := r.add(conn); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return conn, nil
}

// detach returns a blocking, close-on-exec duplicate of nc's descriptor
// and closes nc, which takes the original out of the runtime's poller.
func detach(nc net.Conn) (int, error) {
	defer nc.Close()
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("connection has no file descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := raw.Control(func(s uintptr) {
		var r uintptr
		var e syscall.Errno
		r, _, e = syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = os.NewSyscallError("fcntl", e)
			return
		}
		fd = int(r)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return fd, nil
}

// exchange writes out, the request, and waits until the reactor has read
// its response into conn.resp (or ended it at the deadline, on ctx's
// cancellation or on a write failure). It fails only when conn cannot
// take a request: errDead.
func (conn *wireConn) exchange(ctx context.Context, deadline time.Time, out []byte) error {
	conn.mu.Lock()
	if conn.state != connIdle {
		conn.mu.Unlock()
		return errDead
	}
	conn.state, conn.deadline, conn.expired, conn.writeErr, conn.pending = connActive, deadline, false, nil, false
	conn.failed.Store(false)
	conn.mu.Unlock()
	conn.abortOn(ctx)
	conn.r.activate(conn)
	for len(out) > 0 {
		n, err := syscall.Write(conn.fd, out)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN { // SO_SNDTIMEO
			err = os.ErrDeadlineExceeded
		}
		if err != nil {
			conn.mu.Lock()
			conn.writeErr = os.NewSyscallError("write", err)
			conn.mu.Unlock()
			conn.failed.Store(true)
			break
		}
		out = out[n:]
	}
	<-conn.done
	if conn.expired {
		conn.resp.err = &extensions.TimeoutError{After: conn.timeout, Err: conn.resp.err}
	}
	return nil
}

// abortOn makes the cancellation of ctx end the request in flight. The
// registration is kept across requests with the same context (the engine
// passes one context per scenario), so the hot path does not allocate for
// it.
func (conn *wireConn) abortOn(ctx context.Context) {
	if conn.watched == ctx {
		return
	}
	if conn.stop != nil {
		conn.stop()
	}
	conn.watched = ctx
	conn.canceled.Store(ctx.Err() != nil)
	canceled := &conn.canceled
	conn.stop = context.AfterFunc(ctx, func() { canceled.Store(true) })
}

// dead reports whether a pooled connection can no longer carry a request.
func (conn *wireConn) dead() bool {
	conn.mu.Lock()
	defer conn.mu.Unlock()
	return conn.state != connIdle
}

// release readies a connection whose response was read for the pool. One
// that became readable meanwhile (the server closed it, or wrote more) is
// of no more use: the epoll set reports a change once.
func (conn *wireConn) release() {
	conn.mu.Lock()
	if conn.state == connDone {
		conn.state = connIdle
		var b [1]byte
		if conn.pending {
			if _, _, err := syscall.Recvfrom(conn.fd, b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT); err != syscall.EAGAIN {
				conn.state = connDead
			}
		}
	}
	conn.mu.Unlock()
}

// close closes the connection; its reactor lets it go.
func (conn *wireConn) close() {
	if conn.stop != nil {
		conn.stop()
		conn.stop, conn.watched = nil, nil
	}
	conn.mu.Lock()
	if conn.fd >= 0 {
		syscall.Close(conn.fd)
		conn.fd = -1
	}
	conn.state = connDead
	conn.mu.Unlock()
	conn.r.remove(conn)
}

// reactor reads the responses of its connections: see wire. Its
// connections are in one epoll set (edge-triggered); each tick it takes
// what every connection that changed holds: one read, and more only when
// a read fills the buffer (a shorter one empties the socket).
type reactor struct {
	epfd int

	mu     sync.Mutex
	conns  []*wireConn // by slot
	free   []int32
	active []*wireConn // with a request in flight
	wake   chan struct{}

	events  [128]syscall.EpollEvent
	buf     []byte
	oob     [64]byte
	iov     syscall.Iovec
	msg     syscall.Msghdr // a read of buf, with oob for its time stamp
	expired time.Time      // when expire last ran
	due     []*wireConn
}

// maxRounds bounds the event lists a reactor takes in one tick: enough for
// a reactor that fell behind to read every connection before more arrives
// on it (chunks read together share one time stamp), and a bound on how
// long it keeps its thread.
const maxRounds = 64

// reactorBuffer is the size of the buffer a reactor reads into.
const reactorBuffer = 64 << 10

// epollET is EPOLLET, which package syscall declares as a negative int.
const epollET = 1 << 31

var reactors struct {
	once sync.Once
	rs   []*reactor
	err  error
	next atomic.Uint32
}

// pickReactor returns one of the process's reactors (one per GOMAXPROCS,
// started on first use), in turn.
func pickReactor() (*reactor, error) {
	reactors.once.Do(func() {
		for range runtime.GOMAXPROCS(0) {
			epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
			if err != nil {
				reactors.err = os.NewSyscallError("epoll_create1", err)
				return
			}
			r := &reactor{epfd: epfd, wake: make(chan struct{}, 1), buf: make([]byte, reactorBuffer)}
			r.iov.Base = &r.buf[0]
			r.iov.SetLen(len(r.buf))
			r.msg.Iov = &r.iov
			r.msg.Iovlen = 1
			reactors.rs = append(reactors.rs, r)
			go r.run()
		}
	})
	if len(reactors.rs) == 0 {
		return nil, reactors.err
	}
	return reactors.rs[int(reactors.next.Add(1))%len(reactors.rs)], nil
}

// add registers conn.
func (r *reactor) add(conn *wireConn) error {
	r.mu.Lock()
	var slot int32
	if n := len(r.free); n > 0 {
		slot, r.free = r.free[n-1], r.free[:n-1]
		r.conns[slot] = conn
	} else {
		slot = int32(len(r.conns))
		r.conns = append(r.conns, conn)
	}
	conn.slot = slot
	r.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: slot}
	if err := syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, conn.fd, &ev); err != nil {
		r.remove(conn)
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// remove forgets conn, whose descriptor is closed (which took it out of
// the epoll set).
func (r *reactor) remove(conn *wireConn) {
	r.mu.Lock()
	if int(conn.slot) < len(r.conns) && r.conns[conn.slot] == conn {
		r.conns[conn.slot] = nil
		r.free = append(r.free, conn.slot)
	}
	r.mu.Unlock()
}

// activate puts conn, whose request is about to be written, on the list
// of requests in flight, and wakes the reactor if it slept.
func (r *reactor) activate(conn *wireConn) {
	r.mu.Lock()
	conn.active = len(r.active)
	r.active = append(r.active, conn)
	first := len(r.active) == 1
	r.mu.Unlock()
	if first {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// run is the reactor's loop. It never returns.
func (r *reactor) run() {
	for {
		r.mu.Lock()
		n := len(r.active)
		r.mu.Unlock()
		switch {
		case n == 0:
			<-r.wake
			continue
		case n < batchFrom:
			r.poll(reactorTick)
		default:
			time.Sleep(reactorTick)
			r.poll(0)
		}
		if now := time.Now(); now.Sub(r.expired) >= expireEvery {
			r.expire(now)
			r.expired = now
		}
	}
}

// poll reads every connection that is readable, waiting up to wait for
// one to be.
func (r *reactor) poll(wait time.Duration) {
	for round := range maxRounds { // more rounds only while the event list fills up
		// The reactor's system calls never block (a zero timeout,
		// MSG_DONTWAIT), so they are raw: without the scheduler's
		// bookkeeping for a call that might, which costs more than they
		// do. Only a wait is made as a blocking call.
		call := syscall.RawSyscall6
		timeout := 0
		if round == 0 && wait > 0 {
			call, timeout = syscall.Syscall6, max(int(wait/time.Millisecond), 1)
		}
		r0, _, e := call(syscall.SYS_EPOLL_PWAIT, uintptr(r.epfd),
			uintptr(unsafe.Pointer(&r.events[0])), uintptr(len(r.events)), uintptr(timeout), 0, 0)
		n := int(r0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 || n <= 0 {
			return
		}
		for _, ev := range r.events[:n] {
			r.mu.Lock()
			var conn *wireConn
			if int(ev.Fd) < len(r.conns) {
				conn = r.conns[ev.Fd]
			}
			r.mu.Unlock()
			if conn != nil {
				r.readable(conn, ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0)
			}
		}
		if n < len(r.events) {
			return
		}
	}
}

// readable reads what conn holds; hup tells that the peer closed (or the
// connection broke), which a read returns after the data.
func (r *reactor) readable(conn *wireConn, hup bool) {
	conn.mu.Lock()
	defer conn.mu.Unlock()
	switch conn.state {
	case connActive:
		resp := &conn.resp
		for !resp.done {
			n, at, err := r.recv(conn.fd, conn.stamped)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return
			case err != nil:
				resp.fail(os.NewSyscallError("read", err), at)
			case n == 0:
				resp.eof(at)
			default:
				resp.consume(r.buf[:n], at)
			}
			if n < len(r.buf) && !hup {
				break
			}
		}
		if resp.done {
			r.finish(conn)
		}
	case connDone:
		conn.pending = true
	case connIdle:
		// A pooled connection that has something to read: the server
		// closed it, or wrote what no request asked for.
		if _, _, err := syscall.Recvfrom(conn.fd, r.buf[:1], syscall.MSG_PEEK|syscall.MSG_DONTWAIT); err == syscall.EAGAIN {
			return
		}
		conn.state = connDead
	}
}

// finish hands a read response to its goroutine. conn.mu is held.
func (r *reactor) finish(conn *wireConn) {
	conn.state = connDone
	r.mu.Lock()
	last := r.active[len(r.active)-1]
	r.active[conn.active], last.active = last, conn.active
	r.active[len(r.active)-1] = nil
	r.active = r.active[:len(r.active)-1]
	r.mu.Unlock()
	conn.done <- struct{}{}
}

// expire ends the requests past their deadline, canceled, or whose
// request could not be written.
func (r *reactor) expire(now time.Time) {
	r.mu.Lock()
	for _, conn := range r.active {
		if !now.Before(conn.deadline) || conn.canceled.Load() || conn.failed.Load() {
			r.due = append(r.due, conn)
		}
	}
	r.mu.Unlock()
	for i, conn := range r.due {
		conn.mu.Lock()
		if conn.state == connActive {
			switch {
			case conn.writeErr != nil:
				conn.resp.fail(conn.writeErr, now)
			case conn.canceled.Load():
				conn.resp.fail(context.Canceled, now)
			default:
				conn.expired = true
				conn.resp.fail(os.ErrDeadlineExceeded, now)
			}
			r.finish(conn)
		}
		conn.mu.Unlock()
		r.due[i] = nil
	}
	r.due = r.due[:0]
}

// recv reads from the socket fd into r.buf without waiting. at is when the
// kernel received the last segment of what was read, when it stamps them,
// or else when the read returned: either way, no later than the read, and
// so free of the time it waited for its tick.
func (r *reactor) recv(fd int, stamped bool) (n int, at time.Time, err error) {
	if !stamped {
		n, _, err = syscall.Recvfrom(fd, r.buf, syscall.MSG_DONTWAIT)
		return n, time.Now(), err
	}
	r.msg.Control = &r.oob[0]
	r.msg.SetControllen(len(r.oob))
	r0, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.msg)), syscall.MSG_DONTWAIT)
	now := time.Now()
	if e != 0 {
		return -1, now, e
	}
	n = int(r0)
	if n == 0 {
		return 0, now, nil
	}
	return n, rxTime(r.oob[:r.msg.Controllen], now), nil
}

// rxTime returns the receive time stamp of the control messages in oob,
// as a time with now's monotonic clock reading, or now when there is none.
func rxTime(oob []byte, now time.Time) time.Time {
	const hdr = syscall.SizeofCmsghdr // 16 on 64-bit: len uint64, level, type int32
	for len(oob) >= hdr {
		l := binary.NativeEndian.Uint64(oob)
		level := int32(binary.NativeEndian.Uint32(oob[8:]))
		typ := int32(binary.NativeEndian.Uint32(oob[12:]))
		if l < hdr || l > uint64(len(oob)) {
			break
		}
		if level == syscall.SOL_SOCKET && typ == syscall.SCM_TIMESTAMPNS && l >= hdr+16 {
			k := time.Unix(int64(binary.NativeEndian.Uint64(oob[hdr:])), int64(binary.NativeEndian.Uint64(oob[hdr+8:])))
			if d := k.Sub(now); d <= 0 && d > -maxRxDelay {
				return now.Add(d)
			}
			return now
		}
		oob = oob[min((l+7)&^7, uint64(len(oob))):]
	}
	return now
}
