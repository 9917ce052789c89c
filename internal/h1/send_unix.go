//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1

import (
	"io"
	"net"
	"os"
	"syscall"
)

// Phases of exchangeRaw.
const (
	phaseCheck = iota // a read that must find nothing: the idle connection is sound
	phaseWrite        // the request, in one write if the socket takes it
	phaseRead         // the answer's first bytes, once there
	phaseDone
)

// exchangeRaw sends req and reads the first bytes of its answer into p in
// one pass through the poller, checking the idle connection first when
// check is set. When the socket did not take req whole at once (or
// refused it), rest is what is left of req to write through the
// connection, which then reads the answer; nil otherwise.
//
// The poller resets the socket's readiness before it calls step, which
// writes the request: an answer, however soon it comes, wakes the wait
// that follows.
func (r *upReader) exchangeRaw(req, p []byte, check bool) (n int, rest []byte, err error) {
	r.out, r.p, r.stale, r.phase = req, p, false, phaseWrite
	if check {
		r.phase = phaseCheck
	}
	perr := r.uc.raw.Read(r.step)
	rest, r.out, r.p = r.out, nil, nil
	switch {
	case r.stale:
		return 0, nil, errStale
	case perr != nil && r.phase == phaseRead:
		// The wait failed (a deadline, a close): the connection's own read
		// says so as it says it otherwise.
		n, err = r.uc.c.Read(p)
		return n, nil, err
	case perr != nil || r.phase != phaseDone:
		return 0, rest, nil
	case r.rerr != nil:
		c := r.uc.c
		return 0, nil, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", r.rerr)}
	case r.n == 0:
		return 0, nil, io.EOF
	}
	return r.n, nil, nil
}

// rawStep is exchangeRaw's step on the socket fd (syscall.RawConn.Read):
// it reports true when done, false to wait until the socket is readable.
func (r *upReader) rawStep(fd uintptr) bool {
	for {
		switch r.phase {
		case phaseCheck:
			_, err := syscall.Read(int(fd), r.p)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				r.phase = phaseWrite
				continue
			}
			// The upstream closed it (0 bytes), sent bytes nobody asked
			// for, or the socket failed: nothing is sent on it.
			r.stale = true
			return true
		case phaseWrite:
			n, err := syscall.Write(int(fd), r.out)
			if err == syscall.EINTR {
				continue
			}
			if n > 0 {
				r.out = r.out[n:]
			}
			if err != nil || len(r.out) > 0 {
				return true // the rest (and the error) through the connection
			}
			r.phase = phaseRead
			return false
		case phaseRead:
			n, err := syscall.Read(int(fd), r.p)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			r.n, r.rerr, r.phase = max(n, 0), err, phaseDone
			return true
		default:
			return true
		}
	}
}
