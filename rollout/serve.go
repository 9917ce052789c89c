package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gonogo-dev/gonogo/internal/h1"
	"github.com/gonogo-dev/gonogo/internal/input"
	"github.com/gonogo-dev/gonogo/store"
)

// ServeOptions say where a rollout serves and keeps its state.
type ServeOptions struct {
	Config *Config
	// Store is the state database.
	Store *store.DB
	// Token is the admin API's bearer token.
	Token string
	// AllowRemote lets the proxy and the admin API listen beyond loopback.
	AllowRemote bool
	// Router, when set, is driven beside the embedded proxy.
	Router Router
	// Dir, when set, is the results directory: the journal of every
	// transition, the interval log and timeline of the routed traffic,
	// run.json at the end. Command is the command line it records.
	Dir     string
	Command []string
	// Journal, when set, receives the transitions instead of Dir's
	// journal (a load run's, when the rollout runs inside one).
	Journal Journal
	// ExitOnEnd returns once the rollout is promoted, aborted or rolled
	// back (and its backends drained); otherwise Serve runs until ctx ends.
	ExitOnEnd bool
	// Log receives the transitions and judgements.
	Log io.Writer
	// Ready, when set, is called with the proxy's and the admin API's
	// addresses once both listen.
	Ready func(proxy, admin string)
}

// CheckListen refuses a listen address beyond loopback unless allowed.
func CheckListen(field, addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %q: %v", field, addr, err)
	}
	if allowRemote {
		return nil
	}
	ip := net.ParseIP(host)
	if host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: %q is not a loopback address (pass --allow-remote to listen beyond this machine)", field, addr)
}

// Serve runs a rollout: it checks the backends answer, listens, and
// drives the controller. The result is the rollout's last state.
func Serve(ctx context.Context, o ServeOptions) (store.State, error) {
	cfg := o.Config
	for field, addr := range map[string]string{"listen": cfg.Listen, "admin.listen": cfg.Admin.Listen} {
		if err := CheckListen(field, addr, o.AllowRemote); err != nil {
			return store.State{}, &input.Error{File: cfg.Path, Line: cfg.line(field), Field: field, Msg: err.Error()}
		}
	}
	pl, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return store.State{}, &input.Error{File: cfg.Path, Line: cfg.line("listen"), Field: "listen", Msg: err.Error()}
	}
	al, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		pl.Close()
		return store.State{}, &input.Error{File: cfg.Path, Line: cfg.line("admin.listen"), Field: "admin.listen", Msg: err.Error()}
	}
	opts := Options{Config: cfg, Store: o.Store, Router: o.Router, Journal: o.Journal, Log: o.Log}
	var res *results
	if o.Dir != "" {
		var err error
		if res, err = openResults(o.Dir, o.Command); err != nil {
			pl.Close()
			al.Close()
			return store.State{}, err
		}
		opts.IntervalLog, opts.Timeline = res.hlog, res.tl
		if opts.Journal == nil {
			opts.Journal = res.journal
		}
	}
	c, err := New(ctx, opts)
	if err != nil {
		pl.Close()
		al.Close()
		if res != nil {
			_ = res.finishEmpty()
		}
		return store.State{}, err
	}
	if res != nil {
		defer func() {
			if err := res.finish(c, time.Now()); err != nil {
				c.logf("writing results to %s: %v", o.Dir, err)
			}
		}()
	}
	c.exitOnEnd = o.ExitOnEnd
	if err := c.checkBackends(ctx); err != nil {
		pl.Close()
		al.Close()
		return c.State(), err
	}
	ps := c.proxyServer()
	as := &http.Server{Handler: c.AdminHandler(o.Token), ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardLog}
	go func() { _ = ps.Serve(pl) }()
	go func() { _ = as.Serve(al) }()
	if o.Ready != nil {
		o.Ready(pl.Addr().String(), al.Addr().String())
	}
	var exposed chan struct{}
	xctx, stopExposures := context.WithCancel(context.Background())
	if x := c.proxy.exp; x != nil {
		exposed = make(chan struct{})
		go func() { x.run(xctx); close(exposed) }()
	}
	runErr := c.Run(ctx)
	c.draining.Wait()
	// In-flight requests finish on the backend they started on.
	shut, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout.D())
	defer cancel()
	_ = ps.Shutdown(shut)
	_ = as.Shutdown(shut)
	stopExposures() // the last exposures are written before Serve returns
	if exposed != nil {
		<-exposed
	}
	c.closeMirrors(shut)
	return c.State(), runErr
}

// checkBackends refuses to start when a backend that serves traffic now
// does not answer its health check (bad input: the config names it).
func (c *Controller) checkBackends(ctx context.Context) error {
	st := c.State()
	for i, spec := range c.cfg.Backends {
		b := c.backendNamed(spec.Name)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := waitHealthy(pctx, b, spec.Health)
		cancel()
		if err != nil {
			field := fmt.Sprintf("backends[%d].url", i)
			return &input.Error{File: c.cfg.Path, Line: c.cfg.line(field), Field: field, Msg: fmt.Sprintf("%s does not answer: %v", spec.URL, errors.Unwrap(err))}
		}
		// A backend with traffic after a restart is warm: it served before.
		if st.Weights[b.name] > 0 {
			b.eligible.Store(true)
		}
	}
	return nil
}

// closeMirrors waits for the mirrors' requests in flight.
func (c *Controller) closeMirrors(ctx context.Context) {
	c.fanMu.Lock()
	defer c.fanMu.Unlock()
	for _, f := range c.fanouts {
		if f != nil {
			_ = f.Close(ctx)
		}
	}
}

// proxyServer serves the routing proxy: requests to backends the fast
// path reaches through internal/h1, everything else through net/http
// and Proxy.ServeHTTP.
func (c *Controller) proxyServer() *h1.Server {
	var pools []*h1.Pool
	for _, b := range c.backends {
		if b.pool != nil {
			pools = append(pools, b.pool)
		}
	}
	s := h1.NewServer(h1.Config{Router: c.proxy, Fallback: c.proxy, Pools: pools,
		Preconnect: c.proxy.busiestPool, Name: "gonogo rollout", MaxBody: MaxBodyBytes})
	s.ErrorLog = discardLog
	return s
}
