package extensions

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// BodyReader is the request body clients send: an io.ReadCloser over a byte
// slice that it never modifies, so many requests can share one slice. It
// costs one small allocation per request; Close is a no-op.
type BodyReader struct {
	b   []byte
	off int
}

var _ io.ReadCloser = (*BodyReader)(nil)

// NewBody returns a BodyReader positioned at the start of b.
func NewBody(b []byte) *BodyReader { return &BodyReader{b: b} }

// Read copies the unread part of the slice into p; it returns io.EOF at the
// end.
func (r *BodyReader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// Close does nothing and returns nil.
func (r *BodyReader) Close() error { return nil }

// Send starts one request of a client's Do: it derives a per-request context
// from ctx with the client's timeout, shallow-copies tmpl onto it and, when
// body is not empty, sets Body, ContentLength and (unless tmpl has one)
// GetBody from body, so the transport can resend it on a stale connection.
// Then it calls rt.RoundTrip.
//
// When the round trip fails, Send records the failure in res (Done now,
// Class and Err by Fail, with Deadline turning the expiry of the
// per-request context into a *TimeoutError) and returns a nil resp; Do
// then has nothing left to record. Otherwise the caller reads resp.Body,
// closes it and records the outcome, passing rctx, the per-request
// context, to Deadline for errors met while reading.
//
// In both cases the caller must call done, typically deferred right away,
// to release the per-request context once it is finished with the body.
func Send(ctx context.Context, rt http.RoundTripper, tmpl *http.Request, body []byte, timeout time.Duration, res *gonogo.Result) (resp *http.Response, rctx context.Context, done context.CancelFunc) {
	rctx, done = context.WithTimeout(ctx, timeout)
	r := tmpl.WithContext(rctx)
	if len(body) > 0 {
		r.Body = NewBody(body)
		r.ContentLength = int64(len(body))
		if r.GetBody == nil {
			r.GetBody = func() (io.ReadCloser, error) { return NewBody(body), nil }
		}
	}
	resp, err := rt.RoundTrip(r)
	if err != nil {
		res.Done = time.Now()
		Fail(ctx, res, Deadline(rctx, timeout, err))
		return nil, rctx, done
	}
	return resp, rctx, done
}
