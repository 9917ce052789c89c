package httpproto

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// wire sends one fixed HTTP/1.1 request over pooled keep-alive TCP
// connections, writing pre-serialized bytes and parsing only what a load
// generator needs from the answer: the status code, the body's framing
// (Content-Length, chunked, or until close) and whether the connection may
// be reused. It is the plain-HTTP fast path, as wrk does it: net/http's
// generality costs more CPU per request than many servers under test, and
// on a shared machine the generator's CPU is the ceiling of the rates it
// can drive. HTTPS targets use net/http.
type wire struct {
	addr    string
	timeout time.Duration
	dialer  net.Dialer
	pool    *extensions.Pool[*wireConn]
}

// wireConn is one keep-alive connection. watched is the context whose
// cancellation already aborts it (see abortOn).
type wireConn struct {
	c       net.Conn
	br      *bufio.Reader
	watched context.Context
	stop    func() bool
}

// newWireConn wraps a freshly dialed connection.
func newWireConn(c net.Conn) *wireConn {
	return &wireConn{c: c, br: bufio.NewReaderSize(c, maxHeaderLine)}
}

// maxHeaderLine bounds one status or header line (and chunk-size line).
const maxHeaderLine = 8 << 10

// errLineTooLong is a response line longer than the reader's buffer.
var errLineTooLong = extensions.Protocolf("response line longer than %d bytes", maxHeaderLine)

func newWire(addr string, timeout time.Duration, maxConns int) *wire {
	w := &wire{
		addr: addr, timeout: timeout,
		dialer: net.Dialer{Timeout: extensions.DefaultDialTimeout, KeepAlive: 30 * time.Second},
	}
	w.pool = extensions.NewPool(maxConns, w.dial, (*wireConn).close, nil)
	return w
}

// dial connects to the target.
func (w *wire) dial(ctx context.Context) (*wireConn, error) {
	c, err := w.dialer.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return nil, err
	}
	return newWireConn(c), nil
}

// serialize builds the bytes of a request (extensions.AppendRequestHead).
// Host, framing and hop-by-hop headers are the wire's own, whatever header
// says.
func serialize(method, path, host string, header http.Header, body []byte) []byte {
	b := extensions.AppendRequestHead(make([]byte, 0, 256+len(body)), method, path, host, header)
	if len(body) > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		b = fmt.Appendf(b, "Content-Length: %d\r\n", len(body))
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// do sends the request and reads the response to its end. It returns the
// status (0 when no response came), the body's length, and the error that
// ended it, if any. When out is not nil the body is appended to *out (up
// to extensions.MaxOutputBytes) instead of being discarded; a retried
// attempt starts it over. obs, when not nil, is shown the final
// response's headers. A reused connection that turns out to be closed by
// the server before answering is retried once on a new one, as net/http
// does.
func (w *wire) do(ctx context.Context, request []byte, head bool, out *[]byte, obs extensions.Observer) (status int, n int64, err error) {
	if err := w.pool.Acquire(ctx); err != nil {
		return 0, 0, err
	}
	defer w.pool.Release()
	for attempt := 0; ; attempt++ {
		conn, reused := w.pool.Idle()
		if !reused {
			if conn, err = w.dial(ctx); err != nil {
				return 0, 0, err
			}
		}
		if out != nil {
			*out = (*out)[:0]
		}
		status, n, keep, err := w.roundTrip(ctx, conn, request, head, out, obs)
		if err != nil || !keep {
			conn.close()
		} else {
			w.pool.Put(conn)
		}
		if err != nil && reused && status == 0 && attempt == 0 && ctx.Err() == nil && isStale(err) {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
			err = &extensions.TimeoutError{After: w.timeout, Err: err}
		}
		return status, n, err
	}
}

// isStale reports whether err is what a keep-alive connection the server
// already closed looks like on its next use.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		extensions.Classify(err, 0) == "connect"
}

func (w *wire) roundTrip(ctx context.Context, conn *wireConn, request []byte, head bool, out *[]byte, obs extensions.Observer) (status int, n int64, keep bool, err error) {
	if err := conn.c.SetDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, 0, false, err
	}
	conn.abortOn(ctx)
	if _, err := conn.c.Write(request); err != nil {
		return 0, 0, false, err
	}
	return readResponse(conn.br, head, out, obs)
}

// abortOn makes the cancellation of ctx abort any read or write on the
// connection. The registration is kept across requests with the same
// context (the engine passes one context per scenario), so the hot path
// does not allocate for it.
func (conn *wireConn) abortOn(ctx context.Context) {
	if conn.watched == ctx {
		return
	}
	if conn.stop != nil {
		conn.stop()
	}
	conn.watched = ctx
	c := conn.c
	conn.stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
}

func (conn *wireConn) close() {
	if conn.stop != nil {
		conn.stop()
	}
	conn.c.Close()
}

// readResponse reads one HTTP/1.1 response from br and discards its body,
// or appends it to *out when out is not nil; obs, when not nil, is shown
// the final response's headers. It returns the status, the body length,
// and whether the connection can carry another request.
func readResponse(br *bufio.Reader, head bool, out *[]byte, obs extensions.Observer) (status int, n int64, keep bool, err error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, 0, false, err
		}
		status, keep, err = extensions.ParseStatusLine(line)
		if err != nil {
			return 0, 0, false, err
		}
		interim := status >= 100 && status < 200 && status != 101
		shown := obs
		if interim {
			shown = nil
		}
		length, chunked, close, err := readHeaders(br, shown)
		if err != nil {
			return status, 0, false, err
		}
		keep = keep && !close
		if interim {
			continue // an interim response; the real one follows
		}
		switch {
		case head || status == 204 || status == 304 || status == 101:
			return status, 0, keep && status != 101, nil
		case chunked:
			n, err = discardChunked(br, out)
			return status, n, keep && err == nil, err
		case length >= 0:
			var d int
			d, err = take(br, int(length), out)
			n = int64(d)
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return status, n, keep && err == nil, err
		default: // no framing: the body runs until the server closes
			if out != nil {
				n, err = io.Copy(&capWriter{out}, br)
			} else {
				n, err = io.Copy(io.Discard, br)
			}
			return status, n, false, err
		}
	}
}

// readLine returns one line without its CRLF; the slice is valid until the
// next read from br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, errLineTooLong
	case err == io.EOF && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

// readHeaders reads header lines up to the blank line and returns the body
// framing they announce: length (−1 when absent), chunked, and close when
// the server asks to close the connection. obs, when not nil, is shown
// every header.
func readHeaders(br *bufio.Reader, obs extensions.Observer) (length int64, chunked, close bool, err error) {
	length = -1
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, false, false, err
		}
		if len(line) == 0 {
			return length, chunked, close, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, false, extensions.Protocolf("malformed header line %q", snip(line))
		}
		value = bytes.TrimSpace(value)
		if obs != nil {
			obs.Header(name, value)
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, ok := parseUint(value, 10)
			if !ok {
				return 0, false, false, extensions.Protocolf("bad Content-Length %q", snip(value))
			}
			length = v
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(lastToken(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			close = close || bytes.EqualFold(value, []byte("close"))
		}
	}
}

// take reads n body bytes from br: it discards them when out is nil and
// appends them to *out (up to extensions.MaxOutputBytes) otherwise. It
// returns how many bytes it read.
func take(br *bufio.Reader, n int, out *[]byte) (int, error) {
	if out == nil {
		return br.Discard(n)
	}
	got := 0
	for got < n {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return got, err
			}
		}
		k := min(n-got, br.Buffered())
		b, _ := br.Peek(k)
		*out = appendCapped(*out, b)
		br.Discard(k)
		got += k
	}
	return got, nil
}

// appendCapped appends b to dst up to extensions.MaxOutputBytes in all.
func appendCapped(dst, b []byte) []byte {
	if room := extensions.MaxOutputBytes - len(dst); room < len(b) {
		b = b[:max(room, 0)]
	}
	return append(dst, b...)
}

// capWriter appends what is written to *out, up to
// extensions.MaxOutputBytes, and reports everything as written.
type capWriter struct{ out *[]byte }

func (w *capWriter) Write(p []byte) (int, error) {
	*w.out = appendCapped(*w.out, p)
	return len(p), nil
}

// discardChunked reads a chunked body and its trailers, returning the
// number of payload bytes. The payload is discarded, or appended to *out
// when out is not nil.
func discardChunked(br *bufio.Reader, out *[]byte) (int64, error) {
	var n int64
	for {
		line, err := readLine(br)
		if err != nil {
			return n, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, ok := parseUint(bytes.TrimSpace(line), 16)
		if !ok {
			return n, extensions.Protocolf("bad chunk size %q", snip(line))
		}
		if size == 0 {
			for { // trailers, up to the blank line
				line, err := readLine(br)
				if err != nil || len(line) == 0 {
					return n, err
				}
			}
		}
		d, err := take(br, int(size), out)
		n += int64(d)
		if err != nil {
			return n, io.ErrUnexpectedEOF
		}
		if line, err := readLine(br); err != nil || len(line) != 0 {
			if err == nil {
				err = extensions.Protocolf("chunk not followed by CRLF")
			}
			return n, err
		}
	}
}

// parseUint parses a non-negative decimal or hexadecimal number without
// allocating; it rejects empty input and values past 2⁵³.
func parseUint(b []byte, base int64) (int64, bool) {
	if len(b) == 0 || len(b) > 14 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		var d int64
		switch {
		case c >= '0' && c <= '9':
			d = int64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = int64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = int64(c-'A') + 10
		default:
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}

// lastToken returns the last comma-separated token of a header value.
func lastToken(v []byte) []byte {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return bytes.TrimSpace(v)
}

func snip(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// traceBufs holds the buffers of requests rewritten with a traceparent.
var traceBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// withTraceparent returns a pooled copy of the serialized request with
// res's traceparent header line added at the end of its head; the caller
// puts it back in traceBufs once it is written.
func withTraceparent(request []byte, res *gonogo.Result) *[]byte {
	buf := traceBufs.Get().(*[]byte)
	i := bytes.Index(request, []byte("\r\n\r\n")) + 2 // serialize always ends the head so
	b := append((*buf)[:0], request[:i]...)
	b = extensions.AppendTraceparentLine(b, res)
	*buf = append(b, request[i:]...)
	return buf
}
