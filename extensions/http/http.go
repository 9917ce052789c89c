// Package httpproto is the plain HTTP protocol client, registered as "http".
//
// Every request is the same: Options.Method (default GET) of Options.Path
// (default /) with Options.Headers and Options.Body, typically loaded from a
// request file with LoadRequestFile. The response body is read to its end
// into pooled buffers and discarded; Result.BytesIn counts body bytes
// (headers excluded). With Options.KeepOutput the body is kept in
// Result.Output instead (up to extensions.MaxOutputBytes), whatever the
// status. Redirects are not followed: a 3xx is a success with
// its status recorded. 4xx and 5xx answers are classified by status.
//
// A recorded request (Request.Recorded, from a request log or a HAR) is sent
// as recorded instead: its method, path and query, headers (under the
// configured Options.Headers, which win) and body, built by
// extensions.RecordedHeader and extensions.RecordedRequest as every
// protocol client builds them.
//
// The hot path builds no request from scratch. For http:// targets the
// request is serialized once and written as is over pooled keep-alive
// connections, and the response is parsed only as far as a load generator
// needs (status, body framing, keep-alive): the CPU a generator spends per
// request bounds the rates it can drive on a machine it shares with the
// server. https:// targets go through net/http: a template *http.Request is
// made once and shallow-copied per call. Before a run the engine has the
// client open keep-alive connections ahead of the load (Client.Warm).
//
// DoObserved (extensions.ObservingClient) shows an Observer the final
// response's headers as they are parsed, for response checks; the body
// they read is Result.Output, kept with Options.KeepOutput.
package httpproto

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/extensions"
)

// Name is the protocol name under which the client registers.
const Name = "http"

func init() {
	extensions.Register(Name, func(o extensions.Options) (gonogo.Client, error) { return New(o) })
}

// Client sends one fixed HTTP request per Do. It is safe for concurrent use.
type Client struct {
	wire    *wire  // http:// targets; nil for https://
	request []byte // the configured request, serialized for wire
	head    bool   // the configured method is HEAD
	host    string
	header  http.Header // configured headers and the user agent
	conf    http.Header // configured headers (Options.Headers)
	rt      *http.Transport
	tmpl    *http.Request
	body    []byte
	timeout time.Duration
	keep    bool               // Options.KeepOutput
	dialTo  string             // PreflightAddr: the proxy or --resolve address; "" for the target's own
	trace   *extensions.Tracer // Options.Trace; nil sends no traceparent
}

var (
	_ gonogo.Client              = (*Client)(nil)
	_ extensions.ObservingClient = (*Client)(nil)
	_ extensions.PreflightDialer = (*Client)(nil)
)

// PreflightAddr is the address a preflight dials: a proxy's or a
// --resolve entry's; "" means the target's own.
func (c *Client) PreflightAddr() string { return c.dialTo }

// New builds a client from o: Target, Timeout, MaxConns, Method, Path,
// Headers, Body and KeepOutput.
func New(o extensions.Options) (*Client, error) {
	o = o.WithDefaults()
	base, err := extensions.BaseURL(o.Target)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	if err := extensions.CheckMethod(o.Method); err != nil {
		return nil, fmt.Errorf("http: %w: %v", extensions.ErrBadOptions, err)
	}
	if !strings.HasPrefix(o.Path, "/") {
		return nil, fmt.Errorf("http: %w: path %q must start with /", extensions.ErrBadOptions, o.Path)
	}
	u, err := url.Parse(base + o.Path)
	if err != nil {
		return nil, fmt.Errorf("http: %w: %v", extensions.ErrBadOptions, err)
	}
	conf := extensions.Header(o.Headers)
	h := conf.Clone()
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "gonogo")
	}
	if o.Trace != nil {
		delete(h, extensions.TraceparentHeader) // each request gets its own
	}
	c := &Client{body: o.Body, timeout: o.Timeout, header: h, conf: conf, host: u.Host, keep: o.KeepOutput, trace: o.Trace}
	if o.Transport.Proxy != nil || len(o.Transport.Resolve) > 0 {
		c.dialTo, _ = o.Transport.PreflightAddr(base)
	}
	if u.Scheme == "http" && o.Transport.Wire() {
		addr, _ := extensions.HostPort(base) // BaseURL checked it
		c.request = serialize(o.Method, u.RequestURI(), u.Host, h, o.Body)
		c.head = o.Method == http.MethodHead
		c.wire = newWire(o.Transport.DialAddr(addr), o.Timeout, o.MaxConns)
		return c, nil
	}
	c.rt = extensions.NewTransport(o)
	c.tmpl = &http.Request{
		Method:     o.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       u.Host,
		Body:       http.NoBody,
	}
	if len(o.Body) > 0 {
		body := o.Body
		c.tmpl.ContentLength = int64(len(body))
		c.tmpl.GetBody = func() (io.ReadCloser, error) { return extensions.NewBody(body), nil }
	}
	return c, nil
}

// Do sends the request and measures it. See gonogo.Client.
func (c *Client) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	c.DoObserved(ctx, req, res, nil)
}

// Shows says that DoObserved shows the response's headers.
func (c *Client) Shows() extensions.Shows { return extensions.ShowsHeaders }

// DoObserved is Do, showing obs (when not nil) the response's headers.
func (c *Client) DoObserved(ctx context.Context, req *gonogo.Request, res *gonogo.Result, obs extensions.Observer) {
	if c.keep {
		res.Output = res.Output[:0]
	}
	if c.trace != nil {
		c.trace.Next(res)
	}
	if c.wire != nil {
		request, head := c.request, c.head
		if rec := req.Recorded; rec != nil {
			if err := extensions.CheckRecorded(rec); err != nil {
				res.Done = time.Now()
				extensions.Fail(ctx, res, err)
				return
			}
			h := extensions.RecordedHeader(c.header, rec, c.conf)
			if c.trace != nil {
				delete(h, extensions.TraceparentHeader) // this run's id replaces the recorded one
				delete(h, "Tracestate")
			}
			request, head = serialize(rec.Method, rec.Path, c.host, h, rec.Body), rec.Method == http.MethodHead
		}
		var out *[]byte
		if c.keep {
			out = &res.Output
		}
		var buf *[]byte
		if c.trace != nil {
			buf = withTraceparent(request, res)
			request = *buf
		}
		status, n, err := c.wire.do(ctx, request, head, out, obs)
		if buf != nil {
			traceBufs.Put(buf)
		}
		res.Done = time.Now()
		res.Status, res.BytesIn = status, n
		extensions.Fail(ctx, res, err)
		return
	}
	tmpl, body := c.tmpl, c.body
	if rec := req.Recorded; rec != nil {
		r, err := extensions.RecordedRequest(c.tmpl, rec, c.conf)
		if err != nil {
			res.Done = time.Now()
			extensions.Fail(ctx, res, err)
			return
		}
		tmpl, body = r, rec.Body
	}
	if c.trace != nil {
		tmpl = extensions.WithTraceparent(tmpl, res)
	}
	resp, rctx, done := extensions.Send(ctx, c.rt, tmpl, body, c.timeout, res)
	defer done()
	if resp == nil {
		return
	}
	res.Status = resp.StatusCode
	if obs != nil {
		extensions.ShowHeader(obs, resp.Header)
	}
	var n int64
	var err error
	if c.keep {
		n, err = extensions.ReadOutput(resp.Body, res)
	} else {
		n, err = extensions.Drain(resp.Body)
	}
	resp.Body.Close()
	res.Done = time.Now()
	res.BytesIn = n
	extensions.Fail(ctx, res, extensions.Deadline(rctx, c.timeout, err))
}

// Warm opens up to conns keep-alive connections to an http:// target and
// keeps them idle for the requests to come; the engine calls it before a
// run's time zero (it is a scenarios.Warmer). It does nothing for https://
// targets.
func (c *Client) Warm(ctx context.Context, conns int) error {
	if c.wire == nil {
		return nil
	}
	return c.wire.pool.Warm(ctx, conns)
}
