// Package httpfault is gonogo's HTTP fault proxy: a reverse proxy
// (net/http/httputil.ReverseProxy and its hooks) between a load and an
// inference service that injects faults per request — not per
// connection, so keep-alive connections are no escape — and understands
// SSE streams event by event.
//
// A Fault selects requests (path glob, method, headers, the model named
// in the body, a percentage decided per request by a seeded generator)
// and does one thing to them: delay them (a named distribution), answer
// an error in place of the upstream (status, body, Retry-After), abort
// the connection (before the headers, after them, after N bytes or N SSE
// events), disturb a stream (first-event delay, gap delay, truncation
// without [DONE], a malformed event), rewrite a body (replace it, or
// patch JSON fields: a wrong tensor shape), or cap the bandwidth.
//
// A Proxy is an http.Handler; a Server serves it on a hand-written
// HTTP/1.1 fast path that costs a fraction of the CPU per request of
// net/http's server and reverse proxy (which it falls back to for
// anything unusual). Faults come and go while it serves (Add, Remove)
// and count what they did. It is a chaos.Injector for
// experiments. AdminHandler serves the same operations over HTTP with a
// bearer token (gonogo chaos proxy), and Admin is the injector that
// drives such a proxy from another process, renewing the faults' leases:
// a fault whose lease lapses is removed by the proxy itself.
package httpfault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
	"github.com/gonogo-dev/gonogo/internal/h1"
)

// Proxy is a reverse proxy to one upstream that injects its faults. It is
// safe for concurrent use. As an http.Handler a request costs what
// httputil.ReverseProxy costs; served by a Server, a request no fault
// acts on costs a fraction of that and allocates nothing.
type Proxy struct {
	upstream *url.URL
	rp       *httputil.ReverseProxy
	pool     *h1.Pool // the fast path's connections (Server); nil when it is off
	seed     uint64
	n        atomic.Uint64 // requests seen, the per-request draws' counter

	mu     sync.Mutex // serializes changes to faults
	faults atomic.Pointer[[]*entry]
	seq    uint64 // entries added, for ids and draw streams
}

var (
	_ http.Handler   = (*Proxy)(nil)
	_ chaos.Injector = (*Proxy)(nil)
	_ chaos.Counter  = (*Proxy)(nil)
)

// entry is a fault in the proxy.
type entry struct {
	f      Fault
	stream uint64 // the fault's draw stream
	added  time.Time
	from   time.Time // in force from
	until  time.Time // until (zero: no end)
	lease  atomic.Int64
	// band is an exclusive fault's share of the draw: [band[0], band[1]).
	band              [2]float64
	matched, affected atomic.Int64
	removed           atomic.Bool
}

// delayOf draws the delay of request n for e, a delay fault: from two
// draw streams of its own, beside the one of its percentage.
func (e *entry) delayOf(seed, n uint64) time.Duration {
	return e.f.Delay.Sample(draw(seed, n, e.stream+1<<32), draw(seed, n, e.stream+2<<32))
}

// live reports whether e is in force at now.
func (e *entry) live(now time.Time) bool {
	if now.Before(e.from) || (!e.until.IsZero() && !now.Before(e.until)) {
		return false
	}
	l := e.lease.Load()
	return l == 0 || now.UnixNano() < l
}

// ended reports whether e will never act again at or after now.
func (e *entry) ended(now time.Time) bool {
	if !e.until.IsZero() && !now.Before(e.until) {
		return true
	}
	l := e.lease.Load()
	return l != 0 && now.UnixNano() >= l
}

// Option configures a Proxy.
type Option func(*Proxy)

// WithSeed seeds the per-request draws (percentages, delays); the same
// seed and the same order of requests give the same decisions.
func WithSeed(seed int64) Option { return func(p *Proxy) { p.seed = uint64(seed) } }

// WithTransport replaces the transport to the upstream.
func WithTransport(rt http.RoundTripper) Option { return func(p *Proxy) { p.rp.Transport = rt } }

// DefaultMaxIdleConns sizes the proxy's idle connection pool to its
// upstream, so that high request rates reuse connections.
const DefaultMaxIdleConns = 4096

// New returns a proxy to upstream (http or https).
func New(upstream string, opts ...Option) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, chaos.Inputf("upstream %q: want http://host:port or https://host:port", upstream)
	}
	p := &Proxy{upstream: u, seed: 1}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = DefaultMaxIdleConns, DefaultMaxIdleConns
	tr.DisableCompression = true
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		Transport:      tr,
		BufferPool:     bufferPool{},
		ErrorLog:       log.New(io.Discard, "", 0),
		ModifyResponse: p.modifyResponse,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			http.Error(w, "gonogo fault proxy: upstream: "+err.Error(), http.StatusBadGateway)
		},
	}
	for _, o := range opts {
		o(p)
	}
	if fastPathFits(u, p.rp.Transport, tr) {
		p.pool = h1.NewPool(hostPort(u), DefaultMaxIdleConns)
	}
	return p, nil
}

// fastPathFits reports whether Server's fast path can forward to u: a
// plain-HTTP upstream without a base path or query (the reverse proxy
// would join them to every request's), reached directly, with the
// proxy's own transport (WithTransport not used).
func fastPathFits(u *url.URL, rt http.RoundTripper, own *http.Transport) bool {
	if u.Scheme != "http" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return false
	}
	if t, ok := rt.(*http.Transport); !ok || t != own {
		return false
	}
	via, err := own.Proxy(&http.Request{Method: http.MethodGet, URL: u})
	return err == nil && via == nil
}

// hostPort is u's host with its port (80 by default).
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// Upstream is the upstream's URL.
func (p *Proxy) Upstream() string { return p.upstream.String() }

// Status is a fault of the proxy and what it did.
type Status struct {
	Fault
	Kind  string    `json:"kind"`
	Added time.Time `json:"added"`
	// Active says the fault acts on requests now.
	Active bool `json:"active"`
	// LeaseUntil is when the fault lapses unless renewed.
	LeaseUntil *time.Time `json:"leaseUntil,omitempty"`
	// Matched counts the requests its selector matched, Affected those it
	// acted on (its percentage drawn).
	Matched  int64 `json:"matched"`
	Affected int64 `json:"affected"`
}

// ErrNoFault is returned for a fault id the proxy does not hold.
var ErrNoFault = errors.New("httpfault: no such fault")

// ConflictError says that a fault would contradict one the proxy holds.
type ConflictError struct{ ID, With string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("fault %q contradicts fault %q: their selectors overlap, and together they would act on more than 100 %% of requests", e.ID, e.With)
}

// Unwrap returns chaos.ErrInput: a contradictory fault is bad input.
func (e *ConflictError) Unwrap() error { return chaos.ErrInput }

// Add puts f in the proxy and returns its id (f.ID, or one the proxy
// picks). A fault that does not Check, an id in use, or an exclusive
// fault for which no share of the requests is left is refused.
func (p *Proxy) Add(f Fault) (string, error) {
	if field, msg := f.Check(); msg != "" {
		return "", &chaos.InputError{Field: field, Msg: msg}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	old := p.list()
	var keep []*entry
	for _, e := range old {
		if !e.ended(now) {
			keep = append(keep, e)
		} else {
			e.removed.Store(true)
		}
	}
	p.seq++
	if f.ID == "" {
		f.ID = "fault-" + strconv.FormatUint(p.seq, 10)
	}
	for _, e := range keep {
		if e.f.ID == f.ID {
			return "", chaos.Inputf("fault id %q is in use", f.ID)
		}
	}
	e := &entry{f: f, stream: p.seq, added: now, from: now.Add(f.Start.D())}
	if f.Duration > 0 {
		e.until = e.from.Add(f.Duration.D())
	}
	if f.Lease > 0 {
		e.lease.Store(now.Add(f.Lease.D()).UnixNano())
	}
	if f.exclusive() {
		lo, ok := freeBand(&e.f, keep)
		if !ok {
			with := ""
			for _, o := range keep {
				if o.f.exclusive() && o.f.Match.Overlaps(&f.Match) {
					with = o.f.ID
					break
				}
			}
			return "", &ConflictError{ID: f.ID, With: with}
		}
		e.band = [2]float64{lo, lo + f.Match.percent()}
	}
	next := append(slices.Clip(keep), e)
	p.faults.Store(&next)
	return f.ID, nil
}

// freeBand finds the lowest start of a band of f's percentage that no
// overlapping exclusive fault's band intersects.
func freeBand(f *Fault, others []*entry) (float64, bool) {
	var taken [][2]float64
	for _, o := range others {
		if o.f.exclusive() && o.f.Match.Overlaps(&f.Match) {
			taken = append(taken, o.band)
		}
	}
	slices.SortFunc(taken, func(a, b [2]float64) int { return cmpFloat(a[0], b[0]) })
	width, lo := f.Match.percent(), 0.0
	for _, t := range taken {
		if lo+width <= t[0]+1e-9 {
			break
		}
		lo = math.Max(lo, t[1])
	}
	return lo, lo+width <= 100+1e-9
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Remove takes the fault id out of the proxy; requests it is acting on
// finish as they started.
func (p *Proxy) Remove(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.list()
	i := slices.IndexFunc(old, func(e *entry) bool { return e.f.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrNoFault, id)
	}
	old[i].removed.Store(true)
	next := slices.Delete(slices.Clone(old), i, i+1)
	p.faults.Store(&next)
	return nil
}

// Renew extends the lease of the fault id by its lease's length from now.
func (p *Proxy) Renew(id string) error {
	for _, e := range p.list() {
		if e.f.ID == id {
			if e.f.Lease == 0 {
				return fmt.Errorf("httpfault: fault %q has no lease", id)
			}
			if e.ended(time.Now()) {
				break
			}
			e.lease.Store(time.Now().Add(e.f.Lease.D()).UnixNano())
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrNoFault, id)
}

// List returns the faults the proxy holds, expired ones left out, in the
// order they were added.
func (p *Proxy) List() []Status {
	now := time.Now()
	var out []Status
	for _, e := range p.list() {
		if e.ended(now) {
			continue
		}
		s := Status{Fault: e.f, Kind: e.f.Kind(), Added: e.added, Active: e.live(now),
			Matched: e.matched.Load(), Affected: e.affected.Load()}
		if l := e.lease.Load(); l != 0 {
			t := time.Unix(0, l)
			s.LeaseUntil = &t
		}
		out = append(out, s)
	}
	return out
}

// Counts returns what the fault id did: requests matched and acted on.
func (p *Proxy) Counts(id string) (matched, affected int64) {
	for _, e := range p.list() {
		if e.f.ID == id {
			return e.matched.Load(), e.affected.Load()
		}
	}
	return 0, 0
}

func (p *Proxy) list() []*entry {
	if l := p.faults.Load(); l != nil {
		return *l
	}
	return nil
}

// Prepare checks that f is an http fault this proxy can hold. A proxy in
// the experiment's own process ends with it, so nothing is left to undo
// from another process (chaos.UndoNone).
func (p *Proxy) Prepare(_ context.Context, f *chaos.Fault) (chaos.Undo, error) {
	spec, ok := f.Spec.(*Fault)
	if !ok {
		return chaos.Undo{}, fmt.Errorf("httpfault: fault %s is a %T, not an http fault", f.ID, f.Spec)
	}
	if field, msg := spec.Check(); msg != "" {
		return chaos.Undo{}, &chaos.InputError{Field: field, Msg: msg}
	}
	return chaos.Undo{Kind: chaos.UndoNone}, nil
}

// Apply adds f under its id; the revert removes it.
func (p *Proxy) Apply(_ context.Context, f *chaos.Fault) (chaos.Revert, error) {
	spec := *f.Spec.(*Fault)
	spec.ID = f.ID
	id, err := p.Add(spec)
	if err != nil {
		return nil, err
	}
	return func(context.Context) error {
		if err := p.Remove(id); err != nil && !errors.Is(err, ErrNoFault) {
			return err
		}
		return nil
	}, nil
}

// plan is what the faults drawn for one request do to it: hold it back
// (delay), and act on its response.
type plan struct {
	delay     time.Duration
	exclusive *entry
	stream    *Stream
	bandwidth *Bandwidth
}

// response reports whether the plan acts on the response (beyond holding
// the request back).
func (pl *plan) response() bool {
	return pl.exclusive != nil || pl.stream != nil || pl.bandwidth != nil
}

type planKey struct{}

// ServeHTTP proxies one request, acting out the faults drawn for it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := bufferBody(r)
	if err != nil {
		http.Error(w, "gonogo fault proxy: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	list := p.list()
	if len(list) == 0 {
		p.rp.ServeHTTP(w, r)
		return
	}
	var pl plan
	if !p.decide(&pl, list, r.Method, r.URL.Path, func() http.Header { return r.Header }, body) {
		p.rp.ServeHTTP(w, r)
		return
	}
	if pl.delay > 0 && !sleep(r.Context(), pl.delay) {
		return // the client went away
	}
	p.respond(w, r, &pl)
}

// decide draws the faults of list for one request (its method, path,
// header — asked for only when a fault matches on headers — and body)
// into pl, counting what they match and affect. It reports whether any
// fault acts on the request.
func (p *Proxy) decide(pl *plan, list []*entry, method, path string, header func() http.Header, body []byte) bool {
	now := time.Now()
	n := p.n.Add(1)
	model := ""
	for _, e := range list {
		if e.f.Match.Model != "" {
			model = requestModel(path, body)
			break
		}
	}
	var h http.Header
	u := draw(p.seed, n, 0) * 100
	acted := false
	for _, e := range list {
		if !e.live(now) {
			continue
		}
		if len(e.f.Match.Headers) > 0 && h == nil {
			h = header()
		}
		if !e.f.Match.Selects(method, path, h, model) {
			continue
		}
		e.matched.Add(1)
		if e.f.exclusive() {
			if pl.exclusive != nil || u < e.band[0] || u >= e.band[1] {
				continue
			}
			pl.exclusive = e
		} else if draw(p.seed, n, e.stream)*100 >= e.f.Match.percent() {
			continue
		}
		e.affected.Add(1)
		switch f := &e.f; {
		case f.Delay != nil:
			pl.delay += e.delayOf(p.seed, n)
		case f.Stream != nil:
			pl.stream = mergeStream(pl.stream, f.Stream)
		case f.Bandwidth != nil:
			if pl.bandwidth == nil || f.Bandwidth.BytesPerSec < pl.bandwidth.BytesPerSec {
				pl.bandwidth = f.Bandwidth
			}
		}
		acted = true
	}
	return acted
}

// respond answers a request held back by pl.delay already: an error in
// place of the upstream, an abort before the headers, or the upstream's
// response with pl's faults acted out on it (through the reverse proxy).
func (p *Proxy) respond(w http.ResponseWriter, r *http.Request, pl *plan) {
	if e := pl.exclusive; e != nil {
		switch {
		case e.f.Error != nil:
			writeError(w, e.f.Error)
			return
		case e.f.Abort != nil && e.f.Abort.When == BeforeHeaders:
			panic(http.ErrAbortHandler)
		case e.f.Abort != nil && e.f.Abort.When == AfterHeaders:
			w = &headerFlusher{ResponseWriter: w}
		}
	}
	if pl.response() {
		r = r.WithContext(context.WithValue(r.Context(), planKey{}, pl))
	}
	p.rp.ServeHTTP(w, r)
}

// mergeStream combines two stream faults acting on one request.
func mergeStream(a, b *Stream) *Stream {
	if a == nil {
		return b
	}
	m := *a
	m.FirstChunkDelay += b.FirstChunkDelay
	m.ChunkDelay += b.ChunkDelay
	if b.Truncate {
		m.Truncate = true
		if m.TruncateAfter == 0 || (b.TruncateAfter > 0 && b.TruncateAfter < m.TruncateAfter) {
			m.TruncateAfter = b.TruncateAfter
		}
	}
	if m.MalformedChunk == 0 {
		m.MalformedChunk = b.MalformedChunk
	}
	return &m
}

// modifyResponse wraps the response body in the faults drawn for it.
func (p *Proxy) modifyResponse(res *http.Response) error {
	pl, _ := res.Request.Context().Value(planKey{}).(*plan)
	if pl == nil {
		return nil
	}
	fb := &faultBody{src: res.Body, ctx: res.Request.Context(), stream: pl.stream, bandwidth: pl.bandwidth}
	if e := pl.exclusive; e != nil {
		switch {
		case e.f.Abort != nil:
			fb.abort = e.f.Abort
		case e.f.Body != nil:
			return rewriteBody(res, e.f.Body)
		}
	}
	ct := res.Header.Get("Content-Type")
	fb.sse = strings.HasPrefix(ct, "text/event-stream") && (fb.stream != nil || (fb.abort != nil && fb.abort.When == AfterChunks))
	if fb.stream != nil && !fb.sse {
		fb.stream = nil // not a stream: nothing to disturb
	}
	if fb.abort == nil && fb.stream == nil && fb.bandwidth == nil {
		return nil
	}
	res.Body = fb
	return nil
}

// headerFlusher sends the status and headers the moment they are
// written, so that an abort after the headers happens after the client
// got them.
type headerFlusher struct{ http.ResponseWriter }

func (h *headerFlusher) WriteHeader(code int) {
	h.ResponseWriter.WriteHeader(code)
	_ = http.NewResponseController(h.ResponseWriter).Flush()
}

func (h *headerFlusher) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func writeError(w http.ResponseWriter, e *Error) {
	ct := e.ContentType
	if ct == "" {
		ct = "text/plain; charset=utf-8"
		if json.Valid([]byte(e.Body)) {
			ct = "application/json"
		}
	}
	w.Header().Set("Content-Type", ct)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(e.RetryAfter.D().Seconds())), 10))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(e.Body)))
	w.WriteHeader(e.Status)
	_, _ = io.WriteString(w, e.Body)
}

// bufferBody reads a request's body (up to MaxBodyBytes) before it goes
// upstream and returns it; a longer body is streamed, and nil returned.
//
// Streaming a body through a reverse proxy races: the upstream may
// answer before the whole body has gone up to it, and the server then
// discards the rest of the body under the transport still sending it,
// which fails the upstream connection mid-response (seen about once in
// 300 streamed completions). Inference requests are small; reading them
// first removes the race.
func bufferBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || r.ContentLength > MaxBodyBytes {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBodyBytes {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
		return nil, nil
	}
	r.Body.Close()
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

// requestModel reads the model a request names: {model} of a KServe v2
// path, else the "model" field of its JSON body.
func requestModel(path string, body []byte) string {
	if rest, ok := strings.CutPrefix(path, "/v2/models/"); ok {
		m, _, _ := strings.Cut(rest, "/")
		return m
	}
	if body == nil {
		return ""
	}
	var v struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return v.Model
}

type readCloser struct {
	io.Reader
	io.Closer
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// draw returns a uniform number in [0, 1) for request n and draw stream
// s: a SplitMix64 hash, so decisions are per request, reproducible from
// the seed and free of locks.
func draw(seed, n, s uint64) float64 {
	x := seed ^ (n * 0x9e3779b97f4a7c15) ^ (s * 0xbf58476d1ce4e5b9)
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// bufferPool lends the reverse proxy its copy buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
