package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// wire is the plain-HTTP fast path of http:// targets on Linux: pooled
// keep-alive TCP connections, a request written as pre-serialized bytes in
// one write, and responses read by reactors (wire_linux.go) rather than by
// a goroutine per connection.
//
// Why: a streamed token is one TCP segment. Waiting for each in the
// runtime's network poller wakes a goroutine, and on a machine with idle
// moments a thread, per token; that costs about as much as the kernel's
// own work for the segment, doubles the client's CPU per token and caps
// the streams it can hold on a small machine. A reactor reads every connection that has data once per tick
// (reactorTick) from one epoll set, so one wake-up serves all the tokens
// that came in the meantime. The tick does not shift what is measured: a
// token's time is when the kernel received it (SO_TIMESTAMPNS), not when
// it was read.
//
// The request's goroutine writes the request and then waits for its
// reactor to read the whole response; what it reads (response) is plain
// push-based parsing, shared by every platform and tested on its own.
type wire struct {
	addr    string
	timeout time.Duration
	dialer  net.Dialer
	pool    *extensions.Pool[*wireConn]
}

func newWire(addr string, timeout time.Duration, maxConns int) *wire {
	w := &wire{
		addr: addr, timeout: timeout,
		dialer: net.Dialer{Timeout: extensions.DefaultDialTimeout, KeepAlive: 30 * time.Second},
	}
	w.pool = extensions.NewPool(maxConns, func(ctx context.Context) (*wireConn, error) {
		return w.dial(ctx, time.Now().Add(extensions.DefaultDialTimeout))
	}, (*wireConn).close, (*wireConn).dead)
	return w
}

// request is one request on the wire: a generated one (gen), or a
// recorded one as its head up to the end of its header lines (see
// extensions.AppendRequestHead) and its body.
type request struct {
	gen        *gonogo.Request
	head, body []byte
	method     string
	stream     bool                // read a text/event-stream answer as a stream
	obs        extensions.Observer // shown the response; nil for none
}

// do sends r and measures its response into res, as Client.Do does. A
// reused connection that turns out to be closed by the server before
// answering is retried once on a new one, as net/http does.
func (w *wire) do(ctx context.Context, c *Client, r request, res *gonogo.Result) {
	err := w.pool.Acquire(ctx)
	if err != nil {
		res.Done = time.Now()
		extensions.Fail(ctx, res, err)
		return
	}
	defer w.pool.Release()
	deadline := time.Now().Add(w.timeout)
	for attempt := 0; ; attempt++ {
		conn, reused := w.pool.Idle()
		if !reused {
			conn, err = w.dial(ctx, deadline)
		}
		if err != nil {
			res.Done = time.Now()
			extensions.Fail(ctx, res, err)
			return
		}
		answered, keep, err := conn.roundTrip(ctx, c, r, deadline, res)
		if keep {
			conn.release()
			w.pool.Put(conn)
		} else {
			conn.close()
		}
		if err != nil && !answered && reused && attempt == 0 && ctx.Err() == nil && isStale(err) {
			*res = gonogo.Result{Request: res.Request, Sent: res.Sent, Queued: res.Queued,
				ChunkGaps: res.ChunkGaps[:0], Output: res.Output[:0],
				TraceID: res.TraceID, SpanID: res.SpanID, TraceSampled: res.TraceSampled} // the retry is the same request
			continue
		}
		if res.Done.IsZero() {
			res.Done = time.Now()
		}
		extensions.Fail(ctx, res, err)
		return
	}
}

// isStale reports whether err is what a keep-alive connection the server
// already closed looks like on its next use.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, errDead)
}

// errDead is a pooled connection that the server closed (or wrote to)
// while it waited.
var errDead = errors.New("connection closed while idle")

// roundTrip writes r and waits for its response, measured into res.
// answered reports whether any of the response came; keep whether the
// connection can carry another request.
func (conn *wireConn) roundTrip(ctx context.Context, c *Client, r request, deadline time.Time, res *gonogo.Result) (answered, keep bool, err error) {
	head, body := r.head, r.body
	if r.gen != nil {
		conn.body = c.appendBody(conn.body[:0], r.gen)
		head, body = c.wireHead, conn.body
	}
	out := append(conn.out[:0], head...)
	if r.gen != nil && c.trace != nil {
		out = extensions.AppendTraceparentLine(out, res) // a recorded head has it (DoObserved)
	}
	if len(body) > 0 || r.method == "POST" || r.method == "PUT" || r.method == "PATCH" {
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, int64(len(body)), 10)
		out = append(out, "\r\n"...)
	}
	out = append(append(out, "\r\n"...), body...)
	conn.out = out

	resp := &conn.resp
	resp.reset(r.method, r.stream, c.keep, res, r.obs)
	if err := conn.exchange(ctx, deadline, out); err != nil {
		return false, false, err
	}
	if resp.ev != nil {
		resp.ev.put()
		resp.ev = nil
	}
	if resp.head.complete {
		res.Status = resp.head.h.status
	}
	res.BytesIn = resp.n
	answered, err = resp.got > 0, resp.err
	keep = err == nil && resp.head.h.keep && resp.f.done && !resp.extra
	switch {
	case resp.head.complete && resp.mode == modeError:
		// The server's words, whatever became of the rest of the body.
		msg := strings.TrimSpace(string(resp.body))
		if msg = errorMessage([]byte(msg)); msg == "" {
			msg = http.StatusText(resp.head.h.status)
		}
		err = fmt.Errorf("HTTP %d: %s", resp.head.h.status, msg)
	case err == nil && resp.mode == modeJSON:
		err = parseJSON(resp.body, res, c.keep, r.obs)
	}
	if res.Done.IsZero() {
		res.Done = resp.at
	}
	return answered, keep, err
}

// How a response's body is read.
const (
	modeJSON   = iota // kept (up to maxBody) and read whole: a non-streaming answer
	modeStream        // fed to an events reader as it comes
	modeError         // a non-2xx answer: its first errorSnippet bytes kept
)

// errorSnippet is how much of an error answer's body is kept.
const errorSnippet = 512

// response is the reading of one response, pushed to it in pieces as they
// come: its head, then its body through a framer, into an events reader
// (a stream), or a buffer. A reactor feeds it; nothing in it blocks.
type response struct {
	method string
	stream bool
	keep   bool
	res    *gonogo.Result
	obs    extensions.Observer

	head headParser
	f    framer
	mode int
	ev   *events
	body []byte // modeJSON, modeError: the body kept

	got   int       // response bytes
	n     int64     // body bytes
	at    time.Time // when the last bytes came
	extra bool      // bytes came after the body: the connection cannot be reused
	done  bool
	err   error
}

// reset readies r for the response to a request, keeping its buffers
// unless a large answer grew them; obs, when not nil, is shown the
// response.
func (r *response) reset(method string, stream, keep bool, res *gonogo.Result, obs extensions.Observer) {
	body := r.body[:0]
	if cap(body) > streamBuffer {
		body = nil
	}
	*r = response{method: method, stream: stream, keep: keep, res: res, obs: obs,
		head: headParser{line: r.head.line[:0], obs: obs}, f: framer{line: r.f.line[:0]}, body: body}
	res.Done = time.Time{} // set when [DONE] arrives, or when the body ends
}

// consume reads b, the next bytes on the connection, which came at at.
func (r *response) consume(b []byte, at time.Time) {
	r.got += len(b)
	r.at = at
	for len(b) > 0 && !r.done {
		if !r.head.complete {
			used, err := r.head.feed(b)
			b = b[used:]
			if err != nil {
				r.fail(err, at)
				return
			}
			if r.head.complete {
				r.begin(at)
			}
			continue
		}
		payload, used, err := r.f.next(b, len(b))
		b = b[used:]
		r.n += int64(len(payload))
		if err != nil {
			r.fail(err, at)
			return
		}
		if err := r.deliver(payload, at); err != nil {
			r.done, r.err = true, err // what the stream said is wrong: as it is
			return
		}
		if r.f.done {
			r.finish(at)
		}
	}
	if len(b) > 0 {
		r.extra = true
	}
}

// begin chooses how to read the body once the head is in.
func (r *response) begin(at time.Time) {
	h := &r.head.h
	if r.method == http.MethodHead || h.status == 204 || h.status == 304 {
		h.framing = bodyNone
	}
	if h.framing == bodyClose {
		h.keep = false // the body ends with the connection
	}
	r.f.reset(h.framing, h.length)
	switch {
	case h.status < 200 || h.status > 299:
		r.mode = modeError
	case r.stream && !h.json:
		r.mode = modeStream
		r.ev = getEvents(r.res, r.keep)
		r.ev.obs = r.obs
	default:
		r.mode = modeJSON
	}
	if r.f.done {
		r.finish(at)
	}
}

// deliver takes body bytes.
func (r *response) deliver(p []byte, at time.Time) error {
	if len(p) == 0 {
		return nil
	}
	switch r.mode {
	case modeStream:
		return r.ev.feed(p, at)
	case modeError:
		r.body = append(r.body, p[:min(len(p), max(errorSnippet-len(r.body), 0))]...)
	default:
		r.body = append(r.body, p[:min(len(p), max(maxBody-len(r.body), 0))]...)
	}
	return nil
}

// finish ends a response whose body has ended.
func (r *response) finish(at time.Time) {
	r.done = true
	if r.mode == modeStream {
		r.err = r.ev.end(io.EOF, at)
	}
}

// eof ends a response on the server's closing the connection.
func (r *response) eof(at time.Time) {
	switch {
	case r.done:
	case !r.head.complete && r.got == 0:
		r.fail(io.EOF, at)
	case r.head.complete && r.f.mode == bodyClose:
		r.f.done = true
		r.finish(at)
	default:
		r.fail(io.ErrUnexpectedEOF, at)
	}
}

// fail ends a response with err; a stream in progress says what it had
// (and succeeds if [DONE] had come).
func (r *response) fail(err error, at time.Time) {
	if r.done {
		return
	}
	r.done = true
	if r.mode == modeStream && r.ev != nil {
		err = r.ev.end(err, at)
	}
	r.err = err
}

// head is what the wire needs of a response's head.
type head struct {
	status  int
	keep    bool // the connection may carry another request
	framing int  // bodyChunked, bodyLength or bodyClose
	length  int64
	json    bool // Content-Type application/json
}

// maxHead bounds a response head.
const maxHead = 1 << 20

// headParser reads a response head pushed to it in pieces, skipping
// interim (1xx) responses.
type headParser struct {
	h        head
	obs      extensions.Observer // shown the final response's headers; nil for none
	line     []byte              // an unfinished line
	inHeader bool                // past the status line
	size     int
	complete bool
}

// feed reads head bytes from b and returns how many it used: all of b, or
// up to the end of the head.
func (p *headParser) feed(b []byte) (used int, err error) {
	for used < len(b) && !p.complete {
		i := bytes.IndexByte(b[used:], '\n')
		if i < 0 {
			i = len(b) - used
		}
		if p.size += i + 1; p.size > maxHead {
			return used, extensions.Protocolf("response head longer than %d bytes", maxHead)
		}
		if used+i == len(b) {
			p.line = append(p.line, b[used:]...)
			return len(b), nil
		}
		line := b[used : used+i]
		used += i + 1
		if len(p.line) > 0 {
			line = append(p.line, line...)
		}
		err := p.lineDone(bytes.TrimSuffix(line, []byte("\r")))
		p.line = p.line[:0]
		if err != nil {
			return used, err
		}
	}
	return used, nil
}

// lineDone reads one line of the head.
func (p *headParser) lineDone(line []byte) error {
	switch {
	case !p.inHeader:
		code, keep, err := extensions.ParseStatusLine(line)
		if err != nil {
			return err
		}
		p.h = head{status: code, keep: keep, framing: bodyClose, length: -1}
		p.inHeader = true
	case len(line) > 0:
		if err := p.h.header(line); err != nil {
			return err
		}
		if p.obs != nil && !(p.h.status >= 100 && p.h.status < 200 && p.h.status != 101) {
			name, value, _ := bytes.Cut(line, []byte(":"))
			p.obs.Header(name, bytes.TrimSpace(value))
		}
	case p.h.status >= 100 && p.h.status < 200 && p.h.status != 101:
		p.inHeader = false // an interim response; the real one follows
	default:
		p.complete = true
	}
	return nil
}

// header reads one header line into h.
func (h *head) header(line []byte) error {
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return extensions.Protocolf("malformed header line %q", clip(line, 80))
	}
	value = bytes.TrimSpace(value)
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || n < 0 {
			return extensions.Protocolf("bad Content-Length %q", clip(value, 80))
		}
		if h.framing != bodyChunked {
			h.framing, h.length = bodyLength, n
		}
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		if i := bytes.LastIndexByte(value, ','); i >= 0 {
			value = bytes.TrimSpace(value[i+1:])
		}
		if bytes.EqualFold(value, []byte("chunked")) {
			h.framing, h.length = bodyChunked, -1
		}
	case bytes.EqualFold(name, []byte("Connection")):
		h.keep = h.keep && !bytes.EqualFold(value, []byte("close"))
	case bytes.EqualFold(name, []byte("Content-Type")):
		h.json = bytes.HasPrefix(value, []byte("application/json"))
	}
	return nil
}

// Body framings.
const (
	bodyNone    = iota // no body (HEAD, 204, 304)
	bodyLength         // Content-Length bytes
	bodyChunked        // chunked transfer coding
	bodyClose          // until the server closes
)

// States of a chunked body.
const (
	inSize    = iota // the chunk-size line
	inData           // chunk data
	inDataEnd        // the CRLF after chunk data
	inTrailer        // trailer lines, up to a blank one
)

// maxChunkLine bounds a chunk-size line and each trailer line.
const maxChunkLine = 4 << 10

// framer finds a response body's bytes in what comes after its head,
// pushed to it in pieces of any size.
type framer struct {
	mode  int
	left  int64 // bodyLength: bytes left of the body; bodyChunked: of the chunk
	state int
	line  []byte // an unfinished line of a chunked body
	done  bool
}

// reset readies f for a body of the given framing (length for
// bodyLength), keeping its line buffer.
func (f *framer) reset(mode int, length int64) {
	*f = framer{mode: mode, left: length, done: mode == bodyNone || (mode == bodyLength && length == 0), line: f.line[:0]}
}

// next takes bytes from b and returns the first body bytes found (at most
// limit), how many bytes of b it used, and a protocol error when the
// framing is broken. f.done is set when the body has ended.
func (f *framer) next(b []byte, limit int) (payload []byte, used int, err error) {
	switch f.mode {
	case bodyNone:
		return nil, 0, nil
	case bodyClose:
		n := min(len(b), limit)
		return b[:n], n, nil
	case bodyLength:
		n := int(min(int64(len(b)), f.left, int64(limit)))
		f.left -= int64(n)
		f.done = f.left == 0
		return b[:n], n, nil
	}
	for used < len(b) && !f.done {
		if f.state == inData {
			n := int(min(int64(len(b)-used), f.left, int64(limit)))
			f.left -= int64(n)
			if f.left == 0 {
				f.state = inDataEnd
			}
			return b[used : used+n], used + n, nil
		}
		i := bytes.IndexByte(b[used:], '\n')
		if i < 0 {
			if len(f.line)+len(b)-used > maxChunkLine {
				return nil, used, extensions.Protocolf("chunked body line longer than %d bytes", maxChunkLine)
			}
			f.line = append(f.line, b[used:]...)
			return nil, len(b), nil
		}
		line := b[used : used+i]
		used += i + 1
		if len(f.line) > 0 {
			if len(f.line)+len(line) > maxChunkLine {
				return nil, used, extensions.Protocolf("chunked body line longer than %d bytes", maxChunkLine)
			}
			line = append(f.line, line...)
		}
		err := f.lineDone(bytes.TrimSuffix(line, []byte("\r")))
		f.line = f.line[:0]
		if err != nil {
			return nil, used, err
		}
	}
	return nil, used, nil
}

// lineDone reads one line of a chunked body.
func (f *framer) lineDone(line []byte) error {
	switch f.state {
	case inSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 62)
		if err != nil {
			return extensions.Protocolf("bad chunk size %q", clip(line, 80))
		}
		if size == 0 {
			f.state = inTrailer
		} else {
			f.state, f.left = inData, int64(size)
		}
	case inDataEnd:
		if len(line) != 0 {
			return extensions.Protocolf("chunk data longer than its size")
		}
		f.state = inSize
	default: // inTrailer
		f.done = len(line) == 0
	}
	return nil
}

// wireConn is one keep-alive connection of the wire. Its reactor owns the
// response (resp) while a request is in flight, from exchange's start to
// its end; the platform's part (sock) is in wire_linux.go.
type wireConn struct {
	sock
	out  []byte // the request being written
	body []byte // a generated request's body, before it is copied to out
	resp response
}

// Warm opens up to conns keep-alive connections to an http:// target and
// keeps them idle for the requests to come; the engine calls it before a
// run's time zero (it is a scenarios.Warmer). It does nothing where the
// plain-HTTP fast path is not used (https:// targets, other systems), as
// the http client does nothing for https://.
func (c *Client) Warm(ctx context.Context, conns int) error {
	if c.wire == nil {
		return nil
	}
	return c.wire.pool.Warm(ctx, conns)
}
