package httpfault

import (
	"net/http"

	"github.com/gonogo-dev/gonogo/internal/h1"
)

// Server serves a Proxy on listeners through the hand-written HTTP/1.1
// fast path of internal/h1: a request no fault acts on is forwarded at a
// fraction of the CPU the reverse proxy spends and allocates nothing; a
// delay holds the request back and then forwards it the same way; a
// request with any other fault drawn goes through the proxy's reverse
// proxy, which acts it out, writing to the client connection. What the
// fast path does not understand, and every connection when the upstream
// does not suit it (https, a base path or query, WithTransport, an
// environment proxy), is served by net/http and Proxy.ServeHTTP.
type Server = h1.Server

// NewServer returns a server of p.
func NewServer(p *Proxy) *Server {
	cfg := h1.Config{Fallback: p, Name: "gonogo fault proxy", MaxBody: MaxBodyBytes}
	if p.pool != nil {
		cfg.Router, cfg.Pools = faultRouter{p}, []*h1.Pool{p.pool}
		cfg.Preconnect = func() *h1.Pool { return p.pool }
	}
	return h1.NewServer(cfg)
}

// faultRouter draws the faults of each request the fast path reads, as
// Proxy.ServeHTTP draws them.
type faultRouter struct{ p *Proxy }

var _ h1.Router = faultRouter{}

func (fr faultRouter) Route(r *h1.Request, rt *h1.Route) {
	p := fr.p
	rt.Pool = p.pool
	list := p.list()
	if len(list) == 0 {
		return
	}
	path, ok := r.Path()
	if !ok {
		rt.Pool = nil // Proxy.ServeHTTP answers it
		return
	}
	pl := new(plan) // it escapes (to the reverse proxy): only with faults
	if !p.decide(pl, list, r.Method(), path, r.HTTPHeader, r.Body) {
		return
	}
	rt.Delay = pl.delay
	if pl.response() {
		rt.Pool = nil
		rt.Serve = func(w http.ResponseWriter, req *http.Request) { p.respond(w, req, pl) }
	}
}
