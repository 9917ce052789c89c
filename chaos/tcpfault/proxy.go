// Package tcpfault is gonogo's TCP-level faults: an in-process TCP proxy
// built on toxiproxy's library (github.com/Shopify/toxiproxy/v2) that puts
// toxiproxy's toxics — latency, bandwidth, slow_close, timeout,
// reset_peer, slicer, limit_data — in force on the connections through
// it, and takes the whole proxy down and back up (down).
//
// A Proxy is a chaos.Injector for faults whose Spec is a *Spec (the tcp
// block of an experiment's method entry) and a chaos.Counter: it counts,
// per fault, the connections a toxic was on and those it acted on (fewer
// when toxicity < 1). A Proxy lives in the process that started it, so its
// faults cannot outlive that process: their Undo is chaos.UndoNone.
package tcpfault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"

	"github.com/gonogo-dev/gonogo/chaos"
)

// DefaultListen is where a Proxy listens when no address is given: a
// free port on the IPv4 loopback.
const DefaultListen = "127.0.0.1:0"

// Errors of a Proxy.
var (
	// ErrClosed is returned by a Proxy that is closed.
	ErrClosed = errors.New("tcpfault: proxy closed")
	// ErrInForce is returned for a fault whose ID is already in force on
	// the proxy, and for a second down while one is in force.
	ErrInForce = errors.New("tcpfault: fault already in force")
	// ErrNotMine is returned for a fault that is not a tcp fault of this
	// proxy: another Spec type, or another proxy's name.
	ErrNotMine = errors.New("tcpfault: not a fault of this proxy")
)

// Option configures a Proxy.
type Option func(*options)

type options struct {
	allowNonLoopback bool
}

// AllowNonLoopback lets a Proxy listen on an address that is not loopback
// (0.0.0.0:8080, a LAN address), reachable from other machines. Without
// it, NewProxy refuses such an address.
func AllowNonLoopback() Option {
	return func(o *options) { o.allowNonLoopback = true }
}

// Proxy is a TCP proxy from a listen address to an upstream that puts
// toxics in force on the connections through it.
type Proxy struct {
	name     string
	addr     string
	upstream string
	tp       *toxiproxy.Proxy

	mu     sync.Mutex
	closed bool
	down   string // the ID of the down fault in force, "" when up
	faults map[string]*applied
}

// applied is a fault applied on the proxy, in force or reverted; its
// counters stay readable after the revert.
type applied struct {
	inForce bool
	c       *counts // nil for faults that are not counted
}

var (
	_ chaos.Injector = (*Proxy)(nil)
	_ chaos.Counter  = (*Proxy)(nil)
)

// NewProxy starts a proxy named name that listens on listen (host:port;
// "" is DefaultListen) and forwards every connection to upstream
// (host:port). listen must be a loopback address unless AllowNonLoopback
// is given. Close stops it.
func NewProxy(name, listen, upstream string, opts ...Option) (*Proxy, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if strings.TrimSpace(name) == "" {
		return nil, &chaos.InputError{Field: "name", Msg: "required: a proxy needs a name"}
	}
	if listen == "" {
		listen = DefaultListen
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, &chaos.InputError{Field: "listen", Msg: fmt.Sprintf("%q: want host:port (%v)", listen, err)}
	}
	if !o.allowNonLoopback && !isLoopback(host) {
		return nil, &chaos.InputError{Field: "listen", Msg: fmt.Sprintf(
			"%q is not a loopback address: a fault proxy listens on 127.0.0.1, ::1 or localhost unless allowed to listen beyond this machine", listen)}
	}
	if _, _, err := net.SplitHostPort(upstream); err != nil {
		return nil, &chaos.InputError{Field: "upstream", Msg: fmt.Sprintf("%q: want host:port (%v)", upstream, err)}
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	tp := toxiproxy.NewProxy(server, name, listen, upstream)
	if err := tp.Start(); err != nil {
		return nil, fmt.Errorf("tcpfault: proxy %s: listen on %s: %w", name, listen, err)
	}
	return &Proxy{
		name:     name,
		addr:     tp.Listen, // the address it got, port included
		upstream: upstream,
		tp:       tp,
		faults:   map[string]*applied{},
	}, nil
}

// isLoopback reports whether host (of a host:port) names only this
// machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Name is the proxy's name, the one a Spec's Proxy field gives.
func (p *Proxy) Name() string { return p.name }

// Addr is the address the proxy listens on, port included; it stays the
// same when a down fault is reverted.
func (p *Proxy) Addr() string { return p.addr }

// Upstream is the address the proxy forwards to.
func (p *Proxy) Upstream() string { return p.upstream }

// Close stops the proxy and closes every connection through it. Faults
// still in force end with it; their reverts then succeed without doing
// anything. Closing twice is not an error.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.down = ""
	p.tp.Stop()
	return nil
}

// Prepare checks that f is a tcp fault for this proxy that can be applied
// now, and returns chaos.UndoNone: the proxy and its toxics end with this
// process. It changes nothing.
func (p *Proxy) Prepare(_ context.Context, f *chaos.Fault) (chaos.Undo, error) {
	s, err := p.spec(f)
	if err != nil {
		return chaos.Undo{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.free(f.ID, s); err != nil {
		return chaos.Undo{}, err
	}
	return chaos.Undo{Kind: chaos.UndoNone}, nil
}

// spec returns f's Spec once it is known to be a valid tcp fault of this
// proxy.
func (p *Proxy) spec(f *chaos.Fault) (*Spec, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: no fault", ErrNotMine)
	}
	var s *Spec
	switch v := f.Spec.(type) {
	case *Spec:
		s = v
	case Spec:
		s = &v
	}
	if s == nil {
		return nil, fmt.Errorf("%w: fault %q has a spec of type %T, want *tcpfault.Spec", ErrNotMine, f.ID, f.Spec)
	}
	if f.ID == "" {
		return nil, &chaos.InputError{Field: "id", Msg: "a tcp fault needs an ID (its toxic's name)"}
	}
	if field, msg := s.Check(); msg != "" {
		return nil, &chaos.InputError{Field: field, Msg: msg}
	}
	if f.Kind != "" && f.Kind != s.Kind() {
		return nil, fmt.Errorf("%w: fault %q is of kind %s but its spec is %s", ErrNotMine, f.ID, f.Kind, s.Kind())
	}
	if s.Proxy != p.name {
		return nil, fmt.Errorf("%w: fault %q acts on proxy %q, this is %q", ErrNotMine, f.ID, s.Proxy, p.name)
	}
	return s, nil
}

// free checks that the fault id with spec s can be applied now; p.mu is
// held.
func (p *Proxy) free(id string, s *Spec) error {
	if p.closed {
		return ErrClosed
	}
	if a := p.faults[id]; a != nil && a.inForce {
		return fmt.Errorf("%w: %s on proxy %s", ErrInForce, id, p.name)
	}
	if s.Toxic == Down && p.down != "" {
		return fmt.Errorf("%w: proxy %s is already down (fault %s)", ErrInForce, p.name, p.down)
	}
	return nil
}

// Apply puts f in force: it adds f's toxic to the proxy under the name
// f.ID (on open connections and new ones alike) or, for down, stops the
// proxy — new connections are refused, open ones closed. The Revert
// removes the toxic or starts the proxy again on the same address; it
// waits, bounded by its ctx, for every open connection to drop the toxic.
func (p *Proxy) Apply(ctx context.Context, f *chaos.Fault) (chaos.Revert, error) {
	s, err := p.spec(f)
	if err != nil {
		return nil, err
	}
	if s.Toxic == Down {
		p.mu.Lock()
		defer p.mu.Unlock()
		if err := p.free(f.ID, s); err != nil {
			return nil, err
		}
		p.tp.Stop()
		p.down = f.ID
		p.faults[f.ID] = &applied{inForce: true}
		return newRevert(func() error { return p.up(f.ID) }), nil
	}

	body, c, key, err := toxicJSON(f.ID, s)
	if err != nil {
		return nil, err
	}
	if key != "" {
		defer unbind(key)
	}
	a := &applied{inForce: true, c: c}
	p.mu.Lock()
	if err := p.free(f.ID, s); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.faults[f.ID] = a // reserves the ID while the toxic is added
	p.mu.Unlock()

	added := make(chan error, 1)
	go func() {
		_, err := p.tp.Toxics.AddToxicJson(bytes.NewReader(body))
		added <- err
	}()
	select {
	case err := <-added:
		if err != nil {
			p.forget(f.ID, a)
			return nil, fmt.Errorf("tcpfault: proxy %s: add toxic %s: %w", p.name, f.ID, err)
		}
	case <-ctx.Done():
		// The toxic may yet be added: take it away again once it is.
		go func() {
			if <-added == nil {
				_ = p.remove(f.ID)
			}
			p.forget(f.ID, a)
		}()
		return nil, fmt.Errorf("tcpfault: proxy %s: add toxic %s: %w", p.name, f.ID, ctx.Err())
	}
	return newRevert(func() error {
		if err := p.remove(f.ID); err != nil {
			return err
		}
		p.mu.Lock()
		a.inForce = false
		p.mu.Unlock()
		return nil
	}), nil
}

// forget drops a, a fault that was never put in force.
func (p *Proxy) forget(id string, a *applied) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a.inForce = false
	if p.faults[id] == a {
		delete(p.faults, id)
	}
}

// remove takes the toxic id off the proxy; a toxic already gone is not an
// error.
func (p *Proxy) remove(id string) error {
	err := p.tp.Toxics.RemoveToxic(context.Background(), id)
	if err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("tcpfault: proxy %s: remove toxic %s: %w", p.name, id, err)
	}
	return nil
}

// up reverts the down fault id: the proxy listens again on its address.
func (p *Proxy) up(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.down != id {
		return nil // closed, or already up
	}
	if err := p.tp.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		return fmt.Errorf("tcpfault: proxy %s: listen again on %s: %w", p.name, p.addr, err)
	}
	p.down = ""
	if a := p.faults[id]; a != nil {
		a.inForce = false
	}
	return nil
}

// Counts returns, for the fault id, the connections its toxic was on
// (matched: open when it was applied or opened while it was in force, in
// its stream's direction) and those it acted on (affected), which differ
// when toxicity < 1. reset_peer and down faults are not counted (0, 0),
// nor is an id this proxy does not know.
func (p *Proxy) Counts(id string) (matched, affected int64) {
	p.mu.Lock()
	a := p.faults[id]
	p.mu.Unlock()
	if a == nil || a.c == nil {
		return 0, 0
	}
	return a.c.matched.Load(), a.c.affected.Load()
}

// toxicJSON is the body of toxiproxy's AddToxicJson for the toxic of s
// named id, with the counters of its counted form (nil and "" for
// reset_peer, which is not counted) and the key they are bound to until
// the toxic is added.
func toxicJSON(id string, s *Spec) (body []byte, c *counts, key string, err error) {
	ms := func(d *chaos.Duration) int64 {
		if d == nil {
			return 0
		}
		return d.D().Milliseconds()
	}
	deref := func(v *int64) int64 {
		if v == nil {
			return 0
		}
		return *v
	}
	var inner toxics.Toxic
	switch s.Toxic {
	case Latency:
		inner = &toxics.LatencyToxic{Latency: ms(s.Latency), Jitter: ms(s.Jitter)}
	case Bandwidth:
		inner = &toxics.BandwidthToxic{Rate: deref(s.RateKBPerSec)}
	case SlowClose:
		inner = &toxics.SlowCloseToxic{Delay: ms(s.Delay)}
	case Timeout:
		inner = &toxics.TimeoutToxic{Timeout: ms(s.Timeout)}
	case ResetPeer:
		inner = &toxics.ResetToxic{Timeout: ms(s.Timeout)}
	case Slicer:
		var delayMicros int64
		if s.Delay != nil {
			delayMicros = s.Delay.D().Microseconds()
		}
		inner = &toxics.SlicerToxic{
			AverageSize:   int(deref(s.AverageSizeBytes)),
			SizeVariation: int(deref(s.SizeVariationBytes)),
			Delay:         int(delayMicros),
		}
	case LimitData:
		inner = &toxics.LimitDataToxic{Bytes: deref(s.Bytes)}
	default:
		return nil, nil, "", fmt.Errorf("tcpfault: toxic %q has no toxiproxy toxic", s.Toxic)
	}
	typ := s.Toxic
	var attributes any = inner
	if s.Toxic != ResetPeer {
		c = &counts{}
		key = bind(binding{inner: inner, c: c})
		typ = countedType(s.Toxic)
		attributes = countedAttrs{Key: key}
	}
	body, err = json.Marshal(struct {
		Name       string  `json:"name"`
		Type       string  `json:"type"`
		Stream     string  `json:"stream"`
		Toxicity   float32 `json:"toxicity"`
		Attributes any     `json:"attributes"`
	}{id, typ, s.Direction(), float32(s.ToxicityOrDefault()), attributes})
	if err != nil {
		if key != "" {
			unbind(key)
		}
		return nil, nil, "", fmt.Errorf("tcpfault: toxic %s: %w", id, err)
	}
	return body, c, key, nil
}

// reverter runs a revert once it succeeds: calls after a success return
// nil; a call while one runs waits for it (bounded by its ctx); a call
// after a failure tries again.
type reverter struct {
	fn      func() error
	mu      sync.Mutex
	done    bool
	running chan struct{}
	err     error
}

func newRevert(fn func() error) chaos.Revert {
	r := &reverter{fn: fn}
	return r.revert
}

func (r *reverter) revert(ctx context.Context) error {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return nil
	}
	ch := r.running
	if ch == nil {
		ch = make(chan struct{})
		r.running = ch
		go func() {
			err := r.fn()
			r.mu.Lock()
			r.done, r.err, r.running = err == nil, err, nil
			r.mu.Unlock()
			close(ch)
		}()
	}
	r.mu.Unlock()
	select {
	case <-ch:
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.done {
			return nil
		}
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("tcpfault: revert: %w", ctx.Err())
	}
}

func init() {
	// toxiproxy's bandwidth toxic logs through zerolog's global logger,
	// which writes JSON to stderr at every level: this program has no use
	// for it.
	log.Logger = zerolog.Nop()
}
