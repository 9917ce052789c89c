package rollout

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonogo-dev/gonogo/internal/h1"
)

// Roles of a backend: the version serving production (stable; blue in a
// blue-green rollout), the one being rolled out (canary; green), a fresh
// copy of the stable version that takes the canary's weight so that the
// canary is compared with a twin of its age (baseline), and versions
// served only to the requests flag rules pin to them (pinned).
const (
	RoleStable   = "stable"
	RoleCanary   = "canary"
	RoleBaseline = "baseline"
	RolePinned   = "pinned"
)

// BackendHeader names the backend that served a response, on every
// response the proxy forwards.
const BackendHeader = "X-Gonogo-Backend"

// backend is one version behind the proxy: its own connection pool, its
// requests in flight (for draining) and whether it may receive traffic.
type backend struct {
	name, role string
	url        *url.URL
	health     string // the readiness path
	transport  *h1Transport
	proxy      *httputil.ReverseProxy
	// pool is the fast path's (h1.Server's) connections to the backend;
	// nil when the fast path cannot reach it (https, a base path or
	// query, a connection cap), and then its requests go through proxy.
	pool       *h1.Pool
	header     []byte // the BackendHeader line the fast path adds
	maxConns   int
	tags       map[string]string // the recorder's groups: backend=name, role=role (read-only)
	mirrorTags map[string]string // the same and mirrored=true, for mirrored requests

	inflight atomic.Int64
	// ages counts the requests in flight by their arrival second
	// (stalled).
	ages inflightAges
	// routed counts the requests routed to the backend by reason (the
	// proxy's counts), since the start.
	routed *[numReasons]atomic.Int64
	// eligible is set once the backend is ready and warmed: only then
	// may a header override, a header route or a flag send it traffic.
	eligible atomic.Bool

	// life ends the requests still in flight when a drain times out; a
	// request takes the one current when it starts.
	life atomic.Pointer[lifetime]
}

// lifetime is a context its backend's requests run under.
type lifetime struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newLifetime() *lifetime {
	ctx, cancel := context.WithCancel(context.Background())
	return &lifetime{ctx, cancel}
}

// newBackend returns a backend forwarding to u with a pool of maxConns
// connections (0: unlimited).
func newBackend(name, role string, u *url.URL, maxConns int) *backend {
	tr := newH1Transport(maxConns, maxIdleConns, &http.Transport{
		Proxy:                 nil, // the backend is named, never reached through an environment proxy
		MaxConnsPerHost:       maxConns,
		MaxIdleConnsPerHost:   maxIdleConns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // a model may think long before its first byte; the client's deadline bounds it
	})
	b := &backend{name: name, role: role, url: u, transport: tr, maxConns: maxConns,
		tags:       map[string]string{"backend": name, "role": role},
		mirrorTags: map[string]string{"backend": name, "role": role, "mirrored": "true"},
		routed:     new([numReasons]atomic.Int64)}
	b.life.Store(newLifetime())
	if u.Scheme == "http" && (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.User == nil && maxConns == 0 {
		b.pool = h1.NewPool(hostPort(u), maxIdleConns)
		b.header = []byte(BackendHeader + ": " + name + "\r\n")
	}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		Transport: tr,
		// Server-sent events and bodies of unknown length are flushed as
		// they come (ReverseProxy does so for text/event-stream and
		// unknown lengths); others when they end.
		BufferPool: copyBuffers,
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set(BackendHeader, name)
			return nil
		},
		ErrorHandler: proxyError,
		ErrorLog:     discardLog,
	}
	return b
}

// maxIdleConns is how many kept-alive connections a backend's pool
// keeps.
const maxIdleConns = 512

// drain waits until the backend has no request in flight or timeout
// passes; then it cancels what is left and closes idle connections. It
// returns how many requests it cut.
func (b *backend) drain(timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	for b.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cut := b.inflight.Load()
	if cut > 0 {
		b.life.Swap(newLifetime()).cancel()
		if b.pool != nil {
			b.pool.Cut()
		}
	}
	b.closeIdle()
	return cut
}

// closeIdle closes the backend's idle connections.
func (b *backend) closeIdle() {
	b.transport.CloseIdleConnections()
	if b.pool != nil {
		b.pool.CloseIdle()
	}
}

// hostPort is u's host with its port (80 by default).
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// copyBuffers recycles the buffers responses are copied through: one
// 32 KiB buffer cleared per request otherwise.
var copyBuffers = &bufferPool{}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
