package extensions

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TransportOptions are the connection settings of a run beyond the target
// URL: TLS, HTTP/2, keep-alive, proxy and DNS-free resolution. The zero
// value is HTTP/1.1 with keep-alive, default certificate verification, no
// proxy and the system resolver. Options.Transport carries it to every
// protocol client.
type TransportOptions struct {
	// TLS configures https connections (CA pool, client certificate,
	// ServerName, InsecureSkipVerify); nil means Go's defaults. Build it
	// with LoadTLS.
	TLS *tls.Config
	// HTTP2 offers h2 by ALPN on https connections (HTTP/1.1 when the
	// server declines). Off, https speaks HTTP/1.1 only.
	HTTP2 bool
	// H2C speaks prior-knowledge cleartext HTTP/2 on http connections.
	H2C bool
	// NoKeepAlive opens a new connection for every request.
	NoKeepAlive bool
	// MaxIdleConns caps idle connections kept per host; 0 means MaxConns,
	// or DefaultMaxIdleConnsPerHost when that is unlimited.
	MaxIdleConns int
	// Proxy sends every request through this HTTP proxy; nil means none
	// (the environment's HTTP_PROXY is never used).
	Proxy *url.URL
	// Resolve maps "host:port" to "ip:port" when dialing, curl's --resolve:
	// the Host header and the TLS server name keep the host.
	Resolve map[string]string
}

// Wire reports whether the hand-written HTTP/1.1 fast paths may serve a
// plain http target under t. They speak keep-alive HTTP/1.1 straight to
// the (resolved) address, so H2C, NoKeepAlive, MaxIdleConns and Proxy
// send the request through net/http instead.
func (t TransportOptions) Wire() bool {
	return !t.H2C && !t.NoKeepAlive && t.MaxIdleConns == 0 && t.Proxy == nil
}

// DialAddr returns the address to dial for addr ("host:port"): its
// Resolve entry, or addr itself.
func (t TransportOptions) DialAddr(addr string) string {
	if to, ok := t.Resolve[addr]; ok {
		return to
	}
	return addr
}

// PreflightAddr returns the address whose TCP dial tells that target is
// reachable under t: the proxy's, the Resolve entry's, or target's own.
func (t TransportOptions) PreflightAddr(target string) (string, error) {
	if t.Proxy != nil {
		port := t.Proxy.Port()
		if port == "" {
			port = map[string]string{"https": "443"}[t.Proxy.Scheme]
			if port == "" {
				port = "80"
			}
		}
		return net.JoinHostPort(t.Proxy.Hostname(), port), nil
	}
	addr, err := HostPort(target)
	return t.DialAddr(addr), err
}

// PreflightDialer is implemented by clients without a Checker whose
// connections do not go to the target's own host:port (a proxy, a
// --resolve entry): Preflight dials PreflightAddr instead.
type PreflightDialer interface {
	PreflightAddr() string
}

// ParseResolve parses curl's --resolve entry HOST:PORT:ADDR (an IPv6
// ADDR may be bracketed) into the key and value of
// TransportOptions.Resolve: "HOST:PORT" and "ADDR:PORT".
func ParseResolve(s string) (from, to string, err error) {
	host, rest, ok := strings.Cut(s, ":")
	if ok && strings.HasPrefix(s, "[") { // [v6host]:port:addr
		end := strings.Index(s, "]:")
		if end < 0 {
			return "", "", fmt.Errorf("%w: resolve %q: want HOST:PORT:ADDR", ErrBadOptions, s)
		}
		host, rest = s[1:end], s[end+2:]
	}
	port, addr, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || host == "" {
		return "", "", fmt.Errorf("%w: resolve %q: want HOST:PORT:ADDR", ErrBadOptions, s)
	}
	if strings.ContainsAny(host, "[]/@?# \t") {
		return "", "", fmt.Errorf("%w: resolve %q: %q is not a host name", ErrBadOptions, s, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("%w: resolve %q: port %q is not 1-65535", ErrBadOptions, s, port)
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if net.ParseIP(addr) == nil {
		return "", "", fmt.Errorf("%w: resolve %q: %q is not an IP address", ErrBadOptions, s, addr)
	}
	return net.JoinHostPort(host, port), net.JoinHostPort(addr, port), nil
}

// TLSFiles names the PEM files and settings that LoadTLS turns into a
// *tls.Config.
type TLSFiles struct {
	CA         string // CA bundle to verify the server with; "" means the system pool
	Cert, Key  string // client certificate and its key; both or neither
	ServerName string // name to verify (and send as SNI); "" means the URL host
	// InsecureSkipVerify accepts any server certificate.
	InsecureSkipVerify bool
}

// TLSFileError is LoadTLS's error for a file it cannot use: Field is
// "ca", "cert" or "key", File its path.
type TLSFileError struct {
	Field, File string
	Err         error
}

func (e *TLSFileError) Error() string {
	return fmt.Sprintf("extensions: tls %s %s: %v", e.Field, e.File, e.Err)
}

// Unwrap returns ErrBadOptions and the underlying error.
func (e *TLSFileError) Unwrap() []error { return []error{ErrBadOptions, e.Err} }

// LoadTLS reads f's files and returns the TLS configuration for
// TransportOptions.TLS; nil, nil when f is empty. A file that is missing or
// not PEM is a *TLSFileError wrapping ErrBadOptions.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	if f == (TLSFiles{}) {
		return nil, nil
	}
	bad := func(field, file string, err error) error {
		return &TLSFileError{Field: field, File: file, Err: err}
	}
	c := &tls.Config{ServerName: f.ServerName, InsecureSkipVerify: f.InsecureSkipVerify}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, bad("ca", f.CA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, bad("ca", f.CA, errors.New("no PEM certificate in it"))
		}
		c.RootCAs = pool
	}
	switch {
	case f.Cert != "" && f.Key == "":
		return nil, bad("key", "", errors.New("a client certificate needs its key"))
	case f.Cert == "" && f.Key != "":
		return nil, bad("cert", "", errors.New("a client key needs its certificate"))
	case f.Cert != "":
		for field, file := range map[string]string{"cert": f.Cert, "key": f.Key} {
			if _, err := os.Stat(file); err != nil {
				return nil, bad(field, file, err)
			}
		}
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, bad("cert", f.Cert, err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// NewTransport returns an *http.Transport tuned for load generation: no
// proxy from the environment (load goes only where the user points it),
// keep-alive with an idle pool sized for high rates (MaxConns, or
// DefaultMaxIdleConnsPerHost when unlimited), MaxConnsPerHost = MaxConns,
// no transparent compression (bytes counted are bytes on the wire), HTTP/1.1,
// and a DefaultDialTimeout dial deadline. o.Transport changes these: TLS
// settings, h2 over TLS (HTTP2), cleartext h2 (H2C), no keep-alive, the
// idle cap, a proxy, and dial addresses (Resolve).
func NewTransport(o Options) *http.Transport {
	t := o.Transport
	idle := DefaultMaxIdleConnsPerHost
	if o.MaxConns > 0 {
		idle = o.MaxConns
	}
	if t.MaxIdleConns > 0 {
		idle = t.MaxIdleConns
	}
	d := &net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}
	dial := d.DialContext
	if len(t.Resolve) > 0 {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, t.DialAddr(addr))
		}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		MaxIdleConns:          0, // no global cap; per-host cap below
		MaxIdleConnsPerHost:   idle,
		MaxConnsPerHost:       o.MaxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   DefaultDialTimeout,
		DisableCompression:    true,
		DisableKeepAlives:     t.NoKeepAlive,
		ForceAttemptHTTP2:     false,
		ExpectContinueTimeout: 0,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
	if t.TLS != nil {
		tr.TLSClientConfig = t.TLS.Clone()
	}
	if t.Proxy != nil {
		tr.Proxy = http.ProxyURL(t.Proxy)
	}
	var p http.Protocols
	p.SetHTTP1(!t.H2C) // with HTTP1 in the set, http:// would stay HTTP/1.1
	p.SetHTTP2(t.HTTP2 || t.H2C)
	p.SetUnencryptedHTTP2(t.H2C)
	tr.Protocols = &p
	return tr
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
