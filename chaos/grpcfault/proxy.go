// Package grpcfault is gonogo's gRPC fault proxy: a transparent proxy that
// forwards every call of any service to one upstream and injects the
// faults of the grpc family into the calls a fault matches.
//
// The proxy serves HTTP/2 without TLS (prior knowledge, as gRPC clients
// speak it) on its own listener. A call that no fault acts on is handed to
// a gRPC server whose only handler (grpc.UnknownServiceHandler) pumps its
// messages, as raw bytes, both ways between the client and a call of the
// same method on the upstream: headers, trailers, the status with its
// details and the deadline pass through; the User-Agent becomes the
// proxy's. A fault of the family acts before that:
//
//   - grpc.status answers a status (code and message) as a trailers-only
//     response, without contacting the upstream;
//   - grpc.delay holds the call for a drawn time, then forwards it;
//   - grpc.abort fails the call abruptly: its HTTP/2 stream is reset
//     (RST_STREAM INTERNAL_ERROR), or with mode close its connection is
//     closed, so that the client sees a transport failure and no status.
//
// Each fault matches calls by full method name (a glob), metadata values
// and a percentage, decided per call by the proxy's PRNG, seeded in
// NewProxy, in arrival order. Several faults may be in force at once: every
// one is decided for every call, the delays of those that act add up, and
// then the first abort or status (in the order they were applied) ends the
// call. Counts gives, per fault, the calls it matched and those it acted
// on.
//
// The proxy is a chaos.Injector for faults whose Spec is a *Spec. Its
// faults live in its process only: their Undo is chaos.UndoNone, and a
// Revert (or Close) ends them.
package grpcfault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"

	"github.com/gonogo-dev/gonogo/chaos"
)

// maxMessageBytes bounds one message through the proxy.
const maxMessageBytes = 64 << 20

// maxStreams is the proxy's HTTP/2 limit of concurrent calls per client
// connection: high, as a gRPC server's (which has none), so that the proxy
// does not queue a load test's calls.
const maxStreams = 1 << 20

// ErrClosed is returned by Apply on a closed proxy.
var ErrClosed = errors.New("grpcfault: proxy closed")

// Proxy is a gRPC fault proxy. Create it with NewProxy; it is safe for
// concurrent use.
type Proxy struct {
	ln       net.Listener
	hs       *http.Server
	gs       *grpc.Server
	up       *grpc.ClientConn
	upstream string
	served   chan struct{}

	mu     sync.Mutex // guards faults, counts, rng, closed
	faults []*active  // in force, in the order applied
	counts map[string]*active
	rng    *rand.Rand
	closed bool
	close1 sync.Once
}

// active is a fault in force and its counts.
type active struct {
	id       string
	spec     *Spec
	live     atomic.Bool
	matched  atomic.Int64
	affected atomic.Int64
}

var (
	_ chaos.Injector = (*Proxy)(nil)
	_ chaos.Counter  = (*Proxy)(nil)
	_ http.Handler   = (*Proxy)(nil)
)

// connKey finds the client's net.Conn in a request's context, for
// AbortClose.
type connKey struct{}

// NewProxy listens on listen (host:port; "" means 127.0.0.1:0) and
// forwards every call to upstream (host:port, or grpc://host:port), with
// faults decided by a PRNG seeded with seed. It connects to the upstream
// lazily, on the first call. Close it when done.
func NewProxy(listen, upstream string, seed int64) (*Proxy, error) {
	up, err := hostPort(upstream)
	if err != nil {
		return nil, err
	}
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	cc, err := grpc.NewClient("passthrough:///"+up,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDisableServiceConfig(),
		grpc.WithUserAgent("gonogo-grpcfault"),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallRecvMsgSize(maxMessageBytes), grpc.MaxCallSendMsgSize(maxMessageBytes)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 10 * time.Second,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("grpcfault: upstream %s: %w", upstream, err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		cc.Close()
		return nil, fmt.Errorf("grpcfault: listen: %w", err)
	}
	p := &Proxy{
		ln: ln, up: cc, upstream: up, served: make(chan struct{}),
		counts: map[string]*active{},
		rng:    rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
	}
	p.gs = grpc.NewServer(
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.UnknownServiceHandler(p.forward),
		grpc.MaxRecvMsgSize(maxMessageBytes), grpc.MaxSendMsgSize(maxMessageBytes),
	)
	p.hs = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: maxStreams},
		Protocols:         new(http.Protocols),
	}
	p.hs.Protocols.SetUnencryptedHTTP2(true)
	go func() {
		defer close(p.served)
		_ = p.hs.Serve(ln)
	}()
	return p, nil
}

// hostPort checks an upstream address: host:port, grpc://host:port or
// http://host:port.
func hostPort(upstream string) (string, error) {
	for _, scheme := range []string{"grpc://", "http://"} {
		if len(upstream) > len(scheme) && upstream[:len(scheme)] == scheme {
			upstream = upstream[len(scheme):]
			break
		}
	}
	host, port, err := net.SplitHostPort(upstream)
	if err != nil || host == "" || port == "" {
		return "", chaos.Inputf("grpcfault: upstream %q: want host:port", upstream)
	}
	return upstream, nil
}

// Addr is the address the proxy listens on (host:port): point clients at
// it.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Upstream is the address the proxy forwards to.
func (p *Proxy) Upstream() string { return p.upstream }

// Close ends every fault, closes the listener and every connection (calls
// in flight fail) and the upstream connection. It is idempotent.
func (p *Proxy) Close() error {
	p.close1.Do(func() {
		p.mu.Lock()
		p.closed = true
		for _, a := range p.faults {
			a.live.Store(false)
		}
		p.faults = nil
		p.mu.Unlock()
		p.hs.Close()
		<-p.served
		p.gs.Stop()
		p.up.Close()
	})
	return nil
}

// spec returns f's *Spec, checked, and that f.Kind is its kind.
func spec(f *chaos.Fault) (*Spec, error) {
	s, ok := f.Spec.(*Spec)
	if !ok || s == nil {
		return nil, chaos.Inputf("fault %s: grpcfault wants a *grpcfault.Spec, got %T", f.ID, f.Spec)
	}
	if field, msg := s.Check(); msg != "" {
		return nil, &chaos.InputError{Field: field, Msg: msg}
	}
	if f.Kind != s.Kind() {
		return nil, chaos.Inputf("fault %s: kind %q, but its spec is a %s fault", f.ID, f.Kind, s.Kind())
	}
	if f.ID == "" {
		return nil, chaos.Inputf("a fault needs an id")
	}
	return s, nil
}

// Prepare checks f: a valid *Spec of f's kind, an id not in force on this
// proxy, a proxy still open. Its Undo is chaos.UndoNone: the fault lives in
// this process only.
func (p *Proxy) Prepare(_ context.Context, f *chaos.Fault) (chaos.Undo, error) {
	if _, err := spec(f); err != nil {
		return chaos.Undo{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return chaos.Undo{}, ErrClosed
	}
	for _, a := range p.faults {
		if a.id == f.ID {
			return chaos.Undo{}, chaos.Inputf("fault %s is already in force on the proxy", f.ID)
		}
	}
	return chaos.Undo{Kind: chaos.UndoNone}, nil
}

// Apply puts f in force for the calls that arrive from now on. Its counts
// start at zero (Counts) and stay readable after the revert.
func (p *Proxy) Apply(_ context.Context, f *chaos.Fault) (chaos.Revert, error) {
	s, err := spec(f)
	if err != nil {
		return nil, err
	}
	a := &active{id: f.ID, spec: s}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	for _, b := range p.faults {
		if b.id == f.ID {
			return nil, chaos.Inputf("fault %s is already in force on the proxy", f.ID)
		}
	}
	a.live.Store(true)
	p.faults = append(p.faults, a)
	p.counts[f.ID] = a
	return func(context.Context) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		a.live.Store(false)
		for i, b := range p.faults {
			if b == a {
				p.faults = append(p.faults[:i:i], p.faults[i+1:]...)
				break
			}
		}
		return nil
	}, nil
}

// Counts returns how many calls fault id matched (method and metadata)
// and how many it acted on (its percentage drew them, and it delayed,
// answered or aborted them), since it was applied last.
func (p *Proxy) Counts(id string) (matched, affected int64) {
	p.mu.Lock()
	a := p.counts[id]
	p.mu.Unlock()
	if a == nil {
		return 0, 0
	}
	return a.matched.Load(), a.affected.Load()
}

// decision is what the faults in force do to one call.
type decision struct {
	delay time.Duration
	end   *active // the status or abort fault that ends the call; nil: forward
}

// decide runs every fault in force on a call: match, percentage draw,
// delay draw, in the order the faults were applied.
func (p *Proxy) decide(method string, h http.Header) decision {
	var d decision
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.faults {
		if !matches(&a.spec.Match, method, h) {
			continue
		}
		a.matched.Add(1)
		if pc := a.spec.Match.percent(); pc < 1 && p.rng.Float64() >= pc {
			continue
		}
		switch {
		case a.spec.Delay != nil:
			d.delay += p.drawDelay(a.spec.Delay)
			a.affected.Add(1)
		case d.end == nil:
			d.end = a
			a.affected.Add(1)
		}
	}
	return d
}

// matches reports whether a call of method with headers h is one m selects.
func matches(m *Match, method string, h http.Header) bool {
	if m.Method != "" {
		if ok, _ := path.Match(m.Method, method); !ok {
			return false
		}
	}
	for name, want := range m.Headers {
		found := false
		for _, v := range h.Values(name) {
			if v == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// drawDelay draws one delay of d (p.mu held).
func (p *Proxy) drawDelay(d *DelayFault) time.Duration {
	return d.Sample(p.rng.Float64(), p.rng.Float64())
}

// ServeHTTP serves one call: it decides the faults, waits out a delay,
// then ends the call (status, abort) or forwards it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		http.Error(w, "grpcfault: gRPC requires HTTP/2", http.StatusHTTPVersionNotSupported)
		return
	}
	d := p.decide(r.URL.Path, r.Header)
	if d.delay > 0 {
		t := time.NewTimer(d.delay)
		select {
		case <-t.C:
		case <-r.Context().Done(): // the client gave up, or the proxy closed
			t.Stop()
			return
		}
	}
	switch {
	case d.end == nil:
		p.gs.ServeHTTP(w, r)
	case d.end.spec.Status != nil:
		code, _ := d.end.spec.Status.code()
		h := w.Header()
		h.Set("Content-Type", "application/grpc")
		h.Set("Grpc-Status", strconv.Itoa(int(code)))
		h.Set("Grpc-Message", encodeMessage(d.end.spec.Status.message()))
		w.WriteHeader(http.StatusOK) // no body: a trailers-only response
	default:
		if d.end.spec.Abort.Mode == AbortClose {
			if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
				c.Close()
			}
		}
		panic(http.ErrAbortHandler) // the server resets the stream
	}
}

// encodeMessage percent-encodes a status message as grpc-message wants:
// every byte outside printable ASCII, and %.
func encodeMessage(msg string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(msg)+16), msg[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return msg
	}
	return string(b)
}

// streamDesc lets a forwarded call stream both ways, whatever its method.
var streamDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// forward pumps one call between the client (ss) and a call of the same
// method on the upstream, message by message, as raw bytes.
func (p *Proxy) forward(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	var opts []grpc.CallOption
	if in, ok := metadata.FromIncomingContext(ctx); ok {
		out := metadata.MD{}
		for k, v := range in {
			switch {
			case k == ":authority":
				if len(v) == 1 {
					opts = append(opts, grpc.CallAuthority(v[0]))
				}
			case len(k) > 0 && k[0] == ':', k == "content-type", k == "user-agent", k == "te":
			default:
				out[k] = v
			}
		}
		ctx = metadata.NewOutgoingContext(ctx, out)
	}
	cs, err := p.up.NewStream(ctx, streamDesc, method, opts...)
	if err != nil {
		return err
	}
	go func() { // client → upstream, until the client half-closes or the call ends
		for {
			var m frame
			if err := ss.RecvMsg(&m); err != nil {
				if errors.Is(err, io.EOF) {
					_ = cs.CloseSend()
				} else {
					cancel()
				}
				return
			}
			if cs.SendMsg(&m) != nil {
				return // the upstream call ended: RecvMsg below has its status
			}
		}
	}()
	if md, err := cs.Header(); err == nil && md != nil {
		if err := ss.SendHeader(md); err != nil {
			return err
		}
	}
	for { // upstream → client
		var m frame
		if err := cs.RecvMsg(&m); err != nil {
			ss.SetTrailer(cs.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err // the upstream's status, details included
		}
		if err := ss.SendMsg(&m); err != nil {
			return err
		}
	}
}

// frame is one message as raw bytes.
type frame struct{ b []byte }

// rawCodec passes frames through unparsed, under the name "proto" so that
// the content-type stays application/grpc+proto.
type rawCodec struct{}

var _ encoding.CodecV2 = rawCodec{}

// Name is "proto".
func (rawCodec) Name() string { return "proto" }

// Marshal sends a *frame's bytes as they are.
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("grpcfault: cannot send a %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(f.b)}, nil
}

// Unmarshal copies the message's bytes into a *frame.
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("grpcfault: cannot receive into a %T", v)
	}
	f.b = data.Materialize()
	return nil
}
