package extensions

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// NewTransport returns an *http.Transport tuned for load generation: no
// proxy from the environment (load goes only where the user points it),
// keep-alive with an idle pool sized for high rates (MaxConns, or
// DefaultMaxIdleConnsPerHost when unlimited), MaxConnsPerHost = MaxConns,
// no transparent compression (bytes counted are bytes on the wire), HTTP/1.1,
// and a DefaultDialTimeout dial deadline.
func NewTransport(o Options) *http.Transport {
	idle := DefaultMaxIdleConnsPerHost
	if o.MaxConns > 0 {
		idle = o.MaxConns
	}
	d := &net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConns:          0, // no global cap; per-host cap below
		MaxIdleConnsPerHost:   idle,
		MaxConnsPerHost:       o.MaxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   DefaultDialTimeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ExpectContinueTimeout: 0,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// Header turns an Options header map into an http.Header with canonical keys.
func Header(h map[string]string) http.Header {
	out := make(http.Header, len(h)+2)
	for k, v := range h {
		out.Set(k, v)
	}
	return out
}

// AppendRequestHead appends to dst the head of an HTTP/1.1 request as the
// plain-HTTP fast paths write it: the request line for method and uri, a
// Host line, and h's header lines in name order, up to but not including
// the blank line that ends the head, so that the caller can add a
// Content-Length. h's connection headers (Host, framing, hop-by-hop: see
// RecordedHeader) are left out: they are the connection's own. Names and values go as they are: check
// them first (CheckHeader).
func AppendRequestHead(dst []byte, method, uri, host string, h http.Header) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, uri...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if slices.Contains(connectionHeaders, http.CanonicalHeaderKey(k)) {
			continue
		}
		for _, v := range h[k] {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	return dst
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Drain reads r to its end into a pooled buffer and returns the number of
// bytes read.
func Drain(r io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Snippet reads up to max bytes of r for an error message, drains the rest
// (so the connection can be reused) and returns the text trimmed, plus the
// total bytes read.
func Snippet(r io.Reader, max int) (string, int64) {
	buf := make([]byte, max)
	n, _ := io.ReadFull(r, buf)
	rest, _ := Drain(r)
	return strings.TrimSpace(string(buf[:n])), int64(n) + rest
}

// Get performs a GET of url through rt with the given headers and returns
// the status and up to 1 MiB of body. Checkers use it.
func Get(ctx context.Context, rt http.RoundTripper, url string, h http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	Drain(resp.Body)
	return resp.StatusCode, body, err
}

// ParseStatusLine reads an HTTP/1.x status line, "HTTP/1.x SSS reason", as
// the plain-HTTP clients get it; keep is the protocol version's default for
// connection reuse (HTTP/1.1 keeps, 1.0 closes). A malformed line is a
// ProtocolError quoting its start.
func ParseStatusLine(line []byte) (status int, keep bool, err error) {
	quote := func() string {
		if len(line) > 80 {
			return string(line[:80]) + "…"
		}
		return string(line)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, false, Protocolf("malformed status line %q", quote())
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false, Protocolf("malformed status code in %q", quote())
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return 0, false, Protocolf("status code %d out of range", status)
	}
	return status, line[7] == '1', nil
}
