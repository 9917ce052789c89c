package h1

import (
	"bytes"
	"net"
	"net/http"
	"time"
)

// Router decides where each request the fast path read goes. Route runs
// on the client connection's goroutine, once per request, before
// anything is sent upstream; it fills rt (zeroed before the call) and
// must not keep r, whose bytes the connection reuses.
type Router interface {
	Route(r *Request, rt *Route)
}

// Route is a Router's decision for one request.
type Route struct {
	// Pool forwards the request on the fast path to the pool's upstream.
	// Without one, Serve answers the request.
	Pool *Pool
	// Serve answers the request itself, as an http.Handler, on a
	// ResponseWriter writing to the client connection; the request's
	// context ends when the client goes away. With neither Pool nor
	// Serve the server's fallback handler serves it.
	Serve http.HandlerFunc
	// Delay holds the request back that long first, watching the client
	// (one that goes away ends the request).
	Delay time.Duration
	// Host, when set, replaces the Host header sent upstream (the
	// backend's own name, as httputil.ProxyRequest.SetURL does).
	Host string
	// Forwarded adds X-Forwarded-For (the client's address after any the
	// request carried), X-Forwarded-Host and X-Forwarded-Proto, as
	// httputil.ProxyRequest.SetXForwarded does. Without it the request's
	// own X-Forwarded-* and Forwarded fields are dropped.
	Forwarded bool
	// Header holds header lines added to the response ("Name: value\r\n"
	// each), after the upstream's.
	Header []byte
	// Tap, when set, is handed the response body as it goes to the
	// client (a chunked one without its framing), piece by piece, on the
	// connection's goroutine; it must not keep the bytes. Done follows
	// the last piece.
	Tap func([]byte)
	// Done, when set, is called once the fast path's exchange has ended,
	// on the connection's goroutine.
	Done func(Outcome)
}

// Outcome is how one exchange on the fast path went.
type Outcome struct {
	// Status is the upstream's final status; 0 when it sent none (the
	// server then answered 502 itself, or nobody when the client had
	// gone).
	Status int
	// FirstByte is when the first byte of the response body went to the
	// client (zero without a body): the time to first token of a stream.
	FirstByte time.Time
	// Bytes is the response body relayed to the client.
	Bytes int64
	// Err says why the exchange failed: the upstream's error, or the
	// client's; nil when it completed.
	Err error
	// ClientGone reports that the client went away before the end (or a
	// write to it failed).
	ClientGone bool
	// End is when the exchange ended: the response's last byte went to
	// the client, or the exchange failed.
	End time.Time
}

// Request is the request a Router routes: a view of its head, valid only
// during Route.
type Request struct {
	h    *reqHead
	cc   *clientConn
	Body []byte // the whole body
}

// Method is the request's method.
func (r *Request) Method() string { return methodString(r.h.method) }

// Target is the request target as sent (path and query), valid during
// Route.
func (r *Request) Target() []byte { return r.h.target }

// Path is the target's path, unescaped as net/http's URL.Path is; false
// when it does not unescape.
func (r *Request) Path() (string, bool) { return r.h.path() }

// Header returns the value of the first header field named name (any
// case), valid during Route; nil when there is none.
func (r *Request) Header(name string) []byte {
	for i := 1; i < r.h.n; i++ {
		if n, v := r.h.line(i); len(n) == len(name) && bytes.EqualFold(n, []byte(name)) {
			return v
		}
	}
	return nil
}

// HTTPHeader builds the request's header as net/http would (it
// allocates).
func (r *Request) HTTPHeader() http.Header { return r.h.header() }

// RemoteAddr is the client's address.
func (r *Request) RemoteAddr() net.Addr { return r.cc.c.RemoteAddr() }

// RemoteIP is the client's IP address as text, computed once per
// connection.
func (r *Request) RemoteIP() string { return r.cc.remoteIP() }

// Values returns the values of every header field named name (any case);
// it allocates.
func (r *Request) Values(name string) []string {
	var vs []string
	for i := 1; i < r.h.n; i++ {
		if n, v := r.h.line(i); len(n) == len(name) && bytes.EqualFold(n, []byte(name)) {
			vs = append(vs, string(v))
		}
	}
	return vs
}
