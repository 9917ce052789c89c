package extensions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// ProtocolError says that a response could not be parsed or broke its
// protocol: invalid JSON, a stream that ended early, an error object in a
// 200 response, a tensor whose shape does not match its data. Classify maps
// it to gonogo.ErrProtocol.
type ProtocolError struct {
	// Msg describes what was wrong, e.g. "stream ended without [DONE]".
	Msg string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns "protocol error: <Msg>[: <Err>]".
func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return "protocol error: " + e.Msg + ": " + e.Err.Error()
	}
	return "protocol error: " + e.Msg
}

// Unwrap returns the cause.
func (e *ProtocolError) Unwrap() error { return e.Err }

// Protocolf builds a *ProtocolError from a format; a %w verb sets its Err.
func Protocolf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &ProtocolError{Msg: err.Error(), Err: errors.Unwrap(err)}
}

// Classify maps a request's outcome to an error class. err is what the
// request returned (nil on success) and status the HTTP status, 0 when no
// response arrived. In order:
//
//   - context.DeadlineExceeded or a net timeout: ErrTimeout
//   - context.Canceled: ErrCanceled
//   - a 4xx or 5xx status: ErrHTTP4xx, ErrHTTP5xx (whatever err says, since
//     the server's answer is the more useful fact)
//   - a *ProtocolError: ErrProtocol
//   - with no response (status 0): dial errors, DNS errors, ECONNREFUSED,
//     ECONNRESET, EPIPE, EOF: ErrConnect
//   - with a response, a body cut short (EOF, reset): ErrProtocol
//   - any other error: ErrOther; no error: ErrNone.
func Classify(err error, status int) gonogo.ErrorClass {
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
			return gonogo.ErrTimeout
		case errors.Is(err, context.Canceled):
			return gonogo.ErrCanceled
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return gonogo.ErrTimeout
		}
	}
	switch {
	case status >= 500:
		return gonogo.ErrHTTP5xx
	case status >= 400:
		return gonogo.ErrHTTP4xx
	}
	if err == nil {
		return gonogo.ErrNone
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return gonogo.ErrProtocol
	}
	if isConnectErr(err) {
		if status == 0 {
			return gonogo.ErrConnect
		}
		return gonogo.ErrProtocol
	}
	return gonogo.ErrOther
}

// isConnectErr reports whether err says the connection failed or broke.
func isConnectErr(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return true
	case errors.As(err, &op) && op.Op == "dial":
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	return false
}

// Reason returns a short human cause for err: "connection refused",
// "timed out", a DNS message, or err's own text.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Error()
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return "timed out"
	}
	return err.Error()
}

// Fail records a failed (or, with err nil and a 2xx/3xx status, successful)
// outcome in res: Class from Classify, Err from err. ctx is the context Do
// was called with: when it is done the run was stopped, and the class is
// ErrCanceled whatever err says, so that the end of a run (even one ended by
// its own deadline) is not counted as timeouts.
func Fail(ctx context.Context, res *gonogo.Result, err error) {
	if ctx.Err() != nil && err != nil {
		res.Class = gonogo.ErrCanceled
		res.Err = err.Error()
		return
	}
	res.Class = Classify(err, res.Status)
	switch {
	case err != nil:
		res.Err = err.Error()
	case res.Class != gonogo.ErrNone:
		res.Err = fmt.Sprintf("HTTP %d %s", res.Status, http.StatusText(res.Status))
	default:
		res.Err = ""
	}
}

// TimeoutError is returned by clients when their per-request deadline
// passes; it matches context.DeadlineExceeded.
type TimeoutError struct {
	// After is the deadline that passed.
	After time.Duration
	// Err is the underlying error.
	Err error
}

// Error returns "request timed out after <After>: <Err>".
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("request timed out after %s: %v", e.After, e.Err)
}

// Unwrap returns context.DeadlineExceeded and the underlying error.
func (e *TimeoutError) Unwrap() []error { return []error{context.DeadlineExceeded, e.Err} }

// Deadline returns err as a *TimeoutError when reqCtx, the per-request
// context a client derived with its timeout, has passed its deadline; else
// err unchanged.
func Deadline(reqCtx context.Context, timeout time.Duration, err error) error {
	if err != nil && errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
		var te *TimeoutError
		if errors.As(err, &te) {
			return err
		}
		return &TimeoutError{After: timeout, Err: err}
	}
	return err
}
