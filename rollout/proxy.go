package rollout

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze/behaviour"
	"github.com/gonogo-dev/gonogo/extensions"
	"github.com/gonogo-dev/gonogo/internal/h1"
	"github.com/gonogo-dev/gonogo/mirror"
	"github.com/gonogo-dev/gonogo/rollout/flags"
	"github.com/gonogo-dev/gonogo/rollout/route"
)

// MaxBodyBytes bounds a request body the proxy accepts: bodies are read
// whole before they go upstream (sticky routing may read a field of them,
// mirroring sends them twice, and a body streamed through net/http's
// reverse proxy races with the server discarding it once the upstream
// answered).
const MaxBodyBytes = 16 << 20

// Scenario is the scenario name of every routed request's result.
const Scenario = "rollout"

// Reasons a request went where it went, counted per backend.
const (
	ReasonSplit    = "split"    // the weights (sticky, random or round-robin)
	ReasonOverride = "override" // the override header (always|never)
	ReasonHeader   = "header"   // a setHeaderRoute step's header route
	ReasonFlag     = "flag"     // a flag rule's targeting
	ReasonGeo      = "geo"      // a region outside the canary's regions
)

var discardLog = log.New(io.Discard, "", 0)

// table is what the proxy routes by, swapped whole and atomically: a
// weight change, a header route and a mirror take effect together, and a
// request routes by the table it loaded.
type table struct {
	backends []*backend
	split    *route.Split // over backends, same order
	stable   int          // index of the stable backend
	canary   int          // index of the canary backend, -1 when none
	// headerRoute sends requests whose header equals value to the canary.
	headerRoute *HeaderRoute
	// mirror copies mirrorBuckets/Buckets of the requests routed elsewhere
	// to backend mirrorTo.
	mirror        *mirror.Fanout
	mirrorTo      int
	mirrorBuckets int
}

// Proxy is the rollout's routing proxy: an http.Handler that picks a
// backend per request, forwards to it (streaming responses as they come)
// and records every request as a gonogo result of its backend.
type Proxy struct {
	cfg   *Routing
	geo   []geoRange
	salt  string
	flags *flags.Set
	sink  gonogo.Sink
	table atomic.Pointer[table]

	// counts[backend][reason] of routed requests, since the start (each
	// backend's routed).
	counts map[string]*[numReasons]atomic.Int64
	users  *userCounter
	exp    *exposures // an experiment's exposures; nil without one
	// beh tracks the behaviour of behBuckets/Buckets of the responses;
	// nil without behaviour gates.
	beh        *behaviour.Tracker
	behBuckets int
	errs       atomic.Int64 // requests the proxy answered itself (4xx)
}

var reasons = [...]string{ReasonSplit, ReasonOverride, ReasonHeader, ReasonFlag, ReasonGeo}

const numReasons = len(reasons)

func reasonIndex(r string) int {
	for i, s := range reasons {
		if s == r {
			return i
		}
	}
	return 0
}

// incoming is the request being routed, as net/http or the fast path
// read it.
type incoming interface {
	header(name string) string
	cookie(name string) string
	clientIP() string // the client's address without its port
}

// httpIncoming is a request net/http read.
type httpIncoming struct{ r *http.Request }

func (in httpIncoming) header(name string) string { return in.r.Header.Get(name) }

func (in httpIncoming) cookie(name string) string {
	if ck, err := in.r.Cookie(name); err == nil {
		return ck.Value
	}
	return ""
}

func (in httpIncoming) clientIP() string {
	if host, _, err := net.SplitHostPort(in.r.RemoteAddr); err == nil {
		return host
	}
	return in.r.RemoteAddr
}

// fastIncoming is a request the fast path read.
type fastIncoming struct{ r *h1.Request }

func (in fastIncoming) header(name string) string { return string(in.r.Header(name)) }

func (in fastIncoming) cookie(name string) string {
	for _, v := range in.r.Values("Cookie") {
		if cks, err := http.ParseCookie(v); err == nil {
			for _, ck := range cks {
				if ck.Name == name {
					return ck.Value
				}
			}
		}
	}
	return ""
}

func (in fastIncoming) clientIP() string { return in.r.RemoteIP() }

// decide picks the backend of one request and says why.
func (p *Proxy) decide(t *table, r incoming, body []byte) (int, string) {
	canaryOK := t.canary >= 0 && t.backends[t.canary].eligible.Load()
	if h := p.cfg.Override.Header; h != "" && canaryOK {
		switch strings.ToLower(r.header(h)) {
		case "always":
			return t.canary, ReasonOverride
		case "never":
			return t.stable, ReasonOverride
		}
	}
	if hr := t.headerRoute; hr != nil && canaryOK && r.header(hr.Header) == hr.Value {
		return t.canary, ReasonHeader
	}
	key := p.cfg.Sticky.key(r, body)
	if f := p.cfg.Flags; p.flags != nil {
		d := p.flags.Evaluate(f.Flag, flags.Context{Key: key, Attrs: f.attrs(r)}, splitter{t.split, p.salt})
		if d.Reason == flags.ReasonTargetingMatch {
			if i := t.split.Index(d.Variant); i >= 0 && t.backends[i].eligible.Load() {
				return i, ReasonFlag
			}
		}
	}
	if g := p.cfg.Geo; g != nil && !g.canaryRegion(r, p.geo) {
		return t.stable, ReasonGeo
	}
	switch {
	case key != "":
		i := t.split.Sticky(p.salt, key)
		p.users.add(key, t.backends[i].name)
		if p.exp != nil {
			p.exp.add(r, key, t.backends[i].name, pct(t.split.Weight(t.canary)))
		}
		return i, ReasonSplit
	case p.cfg.Mode == ModeRoundRobin:
		return t.split.RoundRobin(), ReasonSplit
	default:
		return t.split.Pick(rand.IntN(route.Buckets)), ReasonSplit
	}
}

// splitter lets a flag rule follow the live split (flags.Splitter).
type splitter struct {
	s    *route.Split
	salt string
}

func (s splitter) Split(key string) string { return s.s.Name(s.s.Sticky(s.salt, key)) }

// mirrors says whether a request routed to backend i is copied to the
// mirror.
func (t *table) mirrors(i int) bool {
	return t.mirror != nil && i != t.mirrorTo && rand.IntN(route.Buckets) < t.mirrorBuckets
}

// ServeHTTP routes one request net/http read.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	body, status := readBody(r)
	if status != 0 {
		p.errs.Add(1)
		http.Error(w, http.StatusText(status), status)
		return
	}
	t := p.table.Load()
	i, why := p.decide(t, httpIncoming{r}, body)
	p.forward(w, r, body, t, i, why, arrival, t.mirrors(i))
}

// Route routes one request the fast path read (h1.Router): to its
// backend's pool on the fast path, or — when it is mirrored, or the
// backend is not one the fast path reaches — through forward's reverse
// proxy, on the same connection.
func (p *Proxy) Route(r *h1.Request, rt *h1.Route) {
	arrival := time.Now()
	t := p.table.Load()
	i, why := p.decide(t, fastIncoming{r}, r.Body)
	be := t.backends[i]
	if mirrored := t.mirrors(i); mirrored || be.pool == nil {
		rt.Serve = func(w http.ResponseWriter, req *http.Request) {
			body, _ := readBody(req) // the fast path read it whole already
			p.forward(w, req, body, t, i, why, arrival, mirrored)
		}
		return
	}
	be.routed[reasonIndex(why)].Add(1)
	age := be.begin(arrival)
	f, _ := fastFlights.Get().(*fastFlight)
	if f == nil {
		f = new(fastFlight)
		f.done, f.tap = f.finish, f.tapBody
	}
	f.p, f.be, f.arrival, f.age = p, be, arrival, age
	f.req = gonogo.Request{Scenario: Scenario, Intended: arrival, Tags: be.tags}
	f.res = gonogo.Result{Request: &f.req, Sent: arrival}
	rt.Pool, rt.Host, rt.Forwarded, rt.Header = be.pool, be.url.Host, true, be.header
	f.sample = p.sampleBehaviour(be.name, r.Target())
	f.meter = startMeter(&f.res, r.Target())
	rt.Tap, rt.Done = f.tap, f.done
}

// fastFlight is a request forwarded on the fast path, from Route to its
// outcome, which finish records. Flights are recycled, allocated once
// with their Done: the fast path calls Done once per request, and the
// sink keeps nothing of a result (gonogo.Sink).
type fastFlight struct {
	p       *Proxy
	be      *backend
	sample  *behaviourSample // nil when the response is not sampled
	meter   *tokenMeter      // nil when the response is not measured for tokens
	arrival time.Time
	age     flightAge
	req     gonogo.Request
	res     gonogo.Result
	done    func(h1.Outcome) // finish, bound once
	tap     func([]byte)     // tapBody, bound once
}

var fastFlights sync.Pool

// tapBody hands a piece of the response body to its sample and its meter
// (h1.Route.Tap).
func (f *fastFlight) tapBody(b []byte) {
	f.age.responded()
	if f.sample != nil {
		f.sample.tap(b)
	}
	f.meter.feed(b, time.Now())
}

// finish records the request's outcome (h1.Route.Done) and recycles f.
func (f *fastFlight) finish(o h1.Outcome) {
	res := &f.res
	f.age.end()
	res.Done = o.End
	if res.Done.IsZero() {
		res.Done = time.Now()
	}
	f.meter.end(res.Done)
	res.Status, res.BytesIn = o.Status, o.Bytes
	if !o.FirstByte.IsZero() && !f.meter.streamed() {
		res.TTFT = o.FirstByte.Sub(f.arrival)
	}
	if o.Err != nil {
		failed(res, o.Err, o.ClientGone)
	} else {
		f.meter.classify(res)
	}
	if f.sample != nil {
		// As the slow path's: an answer the meter failed (an error event
		// in a 200 stream) is a failed sample too.
		err := o.Err
		if err == nil && res.Err != "" {
			err = errors.New(res.Err)
		}
		f.sample.done(o.Status, err)
	}
	f.p.sink.Record(res)
	f.meter.release(res)
	*f = fastFlight{done: f.done, tap: f.tap}
	fastFlights.Put(f)
}

// busiestPool is the fast-path pool of the backend with the most weight
// (the one to open connections ahead to), nil when it has none.
func (p *Proxy) busiestPool() *h1.Pool {
	t := p.table.Load()
	i := t.stable
	if t.canary >= 0 && t.split.Weight(t.canary) > t.split.Weight(t.stable) {
		i = t.canary
	}
	return t.backends[i].pool
}

// forward sends a request to backend i of t through its reverse proxy
// (copying it to the mirror too when mirrored) and records it.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, body []byte, t *table, i int, why string, arrival time.Time, mirrored bool) {
	be := t.backends[i]
	be.routed[reasonIndex(why)].Add(1)
	age := be.begin(arrival)
	defer age.end()

	req := &gonogo.Request{Scenario: Scenario, Intended: arrival, Tags: be.tags}
	var flight *mirror.Flight
	if mirrored {
		req.Recorded = &gonogo.Recorded{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body}
		flight = t.mirror.Start(req)
	}
	res := &gonogo.Result{Request: req, Sent: arrival}
	path := []byte(r.URL.Path)
	rw := &recordingWriter{ResponseWriter: w, res: res, sample: p.sampleBehaviour(be.name, path), meter: startMeter(res, path), age: &age}
	defer func() {
		v := recover()
		if v != nil { // the response was cut while it streamed
			rw.fail(r.Context(), extensions.Protocolf("response cut short: %v", v))
		}
		res.Done = time.Now()
		rw.meter.end(res.Done)
		if res.Class == gonogo.ErrNone {
			rw.meter.classify(res)
		}
		p.sink.Record(res)
		if s := rw.sample; s != nil {
			var err error
			if res.Err != "" {
				err = errors.New(res.Err)
			}
			s.done(res.Status, err)
		}
		if flight != nil {
			flight.Finish(res)
		}
		rw.meter.release(res)
		if v != nil {
			panic(v)
		}
	}()
	ctx, stop := joinContext(r.Context(), be.life.Load().ctx)
	defer stop()
	out := r.WithContext(ctx)
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if len(body) == 0 && r.ContentLength <= 0 {
		out.Body = http.NoBody
	}
	be.proxy.ServeHTTP(rw, out)
}

// readBody reads a request's body whole; a status when it cannot.
func readBody(r *http.Request) ([]byte, int) {
	if r.ContentLength > MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, 0
	}
	var b []byte
	var err error
	if n := r.ContentLength; n > 0 {
		// The length is known: one read into a buffer of its size, and a
		// body shorter than announced is an error.
		b = make([]byte, n)
		_, err = io.ReadFull(r.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	}
	switch {
	case err != nil:
		return nil, http.StatusBadRequest
	case len(b) > MaxBodyBytes:
		return nil, http.StatusRequestEntityTooLarge
	}
	return b, 0
}

// joinContext is a context ended by either parent.
func joinContext(a, b context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

// recordingWriter measures a response as the proxy writes it: status,
// bytes, and TTFT — to the first content chunk of a stream its meter
// reads, else to the first body byte.
type recordingWriter struct {
	http.ResponseWriter
	res    *gonogo.Result
	wrote  bool
	sample *behaviourSample // the body's sample; nil when not sampled
	meter  *tokenMeter      // nil when not measured for tokens
	age    *flightAge       // responded at the first body byte
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		w.res.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote = true
		w.res.Status = http.StatusOK
	}
	now := time.Now()
	if len(b) > 0 {
		w.age.responded()
	}
	n, err := w.ResponseWriter.Write(b)
	w.res.BytesIn += int64(n)
	if w.sample != nil {
		w.sample.tap(b[:n])
	}
	w.meter.feed(b[:n], now)
	if w.res.TTFT == 0 && len(b) > 0 && !w.meter.streamed() {
		w.res.TTFT = now.Sub(w.res.Sent)
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// fail notes why the request failed: the client went away (canceled) or
// the backend did.
func (w *recordingWriter) fail(ctx context.Context, err error) {
	failed(w.res, err, ctx.Err() != nil)
}

// failed notes on res why its request failed: the client went away
// (canceled) or the backend did.
func failed(res *gonogo.Result, err error, clientGone bool) {
	res.Err = err.Error()
	if clientGone {
		res.Class = gonogo.ErrCanceled
		return
	}
	res.Class = extensions.Classify(err, res.Status)
	if res.Class == gonogo.ErrNone || res.Class == gonogo.ErrHTTP4xx {
		res.Class = gonogo.ErrProtocol
	}
}

// proxyError answers a request the backend did not: 504 on a timeout,
// 502 otherwise, and records the failure.
func proxyError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusGatewayTimeout
	}
	if rw, ok := w.(*recordingWriter); ok {
		rw.fail(r.Context(), err)
		rw.res.Status = 0 // the backend gave no status; the proxy's own is not its
		rw.wrote = true
	}
	if r.Context().Err() != nil {
		return // the client is gone: nobody to answer
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "gonogo rollout: backend unavailable: "+strconv.Itoa(status)+"\n")
}

// splitCounts are the requests routed by the split per backend.
func (p *Proxy) splitCounts() map[string]int64 {
	m := make(map[string]int64, len(p.counts))
	for name, c := range p.counts {
		m[name] = c[0].Load()
	}
	return m
}

// reasonCounts are the requests routed per backend and reason.
func (p *Proxy) reasonCounts() map[string]map[string]int64 {
	m := make(map[string]map[string]int64, len(p.counts))
	for name, c := range p.counts {
		m[name] = map[string]int64{}
		for i, r := range reasons {
			if n := c[i].Load(); n > 0 {
				m[name][r] = n
			}
		}
	}
	return m
}

// liveSplitter follows the proxy's current split (flags.Splitter), for
// OFREP evaluations outside a request.
type liveSplitter struct{ p *Proxy }

func (l liveSplitter) Split(key string) string {
	return splitter{l.p.table.Load().split, l.p.salt}.Split(key)
}
