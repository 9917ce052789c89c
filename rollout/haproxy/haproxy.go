// Package haproxy drives a running HAProxy through its runtime API (the
// stats socket, on a Unix socket or on TCP) as the rollout controller's
// external router, in place of gonogo's own proxy.
//
// The controller's view is one HAProxy backend whose servers are the
// rollout's backends, a server named as the gonogo backend it stands for.
// A split arrives in buckets out of route.Buckets and becomes server
// weights (0..256, see Weights); draining and maintenance are the
// servers' administrative states. Each command opens its own connection
// (the API's non-interactive mode: one line in, the reply, then HAProxy
// closes) under a bounded timeout, and a refusal in HAProxy's words ("No
// such server.", "Permission denied") becomes a *ReplyError naming the
// command. docs/routers.md shows the HAProxy configuration it expects.
package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// DefaultTimeout bounds one runtime API command (connect, send, reply)
// unless Router.Timeout says otherwise.
const DefaultTimeout = 5 * time.Second

// maxReply bounds a reply read from HAProxy; a backend's stats are a few
// hundred bytes per server.
const maxReply = 4 << 20

// Errors that ReplyError and the Router's own checks wrap.
var (
	// ErrUnknownServer: the backend has no server of that name.
	ErrUnknownServer = errors.New("haproxy: no such server")
	// ErrUnknownBackend: HAProxy has no backend of that name.
	ErrUnknownBackend = errors.New("haproxy: no such backend")
	// ErrNotReady: a server that is draining or in maintenance was given a
	// weight; make it ready first.
	ErrNotReady = errors.New("haproxy: server not ready")
)

// ReplyError is HAProxy refusing a command, in its own words.
type ReplyError struct {
	Addr  string // the runtime API's address
	Cmd   string // the command sent
	Reply string // HAProxy's answer, e.g. "No such server."
}

// Error reads `haproxy ADDR: "CMD": REPLY`.
func (e *ReplyError) Error() string {
	return fmt.Sprintf("haproxy %s: %q: %s", e.Addr, e.Cmd, e.Reply)
}

// Unwrap returns ErrUnknownServer or ErrUnknownBackend when the reply says
// so, nil otherwise.
func (e *ReplyError) Unwrap() error {
	switch {
	case strings.HasPrefix(e.Reply, "No such server"):
		return ErrUnknownServer
	case strings.HasPrefix(e.Reply, "No such backend"), strings.HasPrefix(e.Reply, "Can't find backend"),
		strings.HasPrefix(e.Reply, "No such proxy"):
		return ErrUnknownBackend
	}
	return nil
}

// Server is one server of the backend as HAProxy reports it.
type Server struct {
	Name string
	// Weight is the weight last set (0..256), kept while the server drains
	// or is in maintenance.
	Weight int
	// State is the administrative state: StateReady, StateDrain or
	// StateMaint.
	State string
	// Status is HAProxy's operational status from "show stat": "UP",
	// "DOWN", "no check" (no health check configured), "DRAIN", "MAINT",
	// "NOLB", or a transition such as "UP 1/3".
	Status string
	// Addr is the server's address, host:port.
	Addr string
	// Sessions is the number of sessions on the server now, in-flight
	// requests and streams included: a drained server is empty at 0.
	Sessions int64
	// Requests is the number of HTTP requests HAProxy has sent the
	// server since it started (req_tot); -1 when it does not say.
	Requests int64
}

// Router drives one HAProxy backend through the runtime API. Its methods
// are safe for concurrent use; the changes it makes (SetWeights, Drain,
// Ready, Maintenance) run one at a time.
type Router struct {
	// Timeout bounds each command; New sets DefaultTimeout. Set it
	// before the Router is used.
	Timeout time.Duration

	addr, network, address, backend string
	mu                              sync.Mutex
}

// New returns a Router for backend on the runtime API at addr:
// "unix:/path/admin.sock" (or a bare path starting with "/" or "."),
// or host:port for a "stats socket ipv4@…" line. It connects to nothing
// until a method is called; Check is the start-up test.
func New(addr, backend string) *Router {
	r := &Router{Timeout: DefaultTimeout, addr: addr, backend: backend, network: "tcp", address: addr}
	switch {
	case strings.HasPrefix(addr, "unix:"):
		r.network, r.address = "unix", strings.TrimPrefix(addr, "unix:")
	case strings.HasPrefix(addr, "/"), strings.HasPrefix(addr, "."):
		r.network = "unix"
	}
	return r
}

// Check says whether the router can do its job, for the controller's
// start: the runtime API answers at admin level (weights and states need
// it), the backend exists, has servers, and balances with an algorithm
// whose weights change at run time. Its errors are *input.Error (exit 2),
// the field being haproxy-socket or haproxy-backend.
func (r *Router) Check(ctx context.Context) error {
	if err := validName(r.backend); err != nil {
		return &input.Error{Field: "haproxy-backend", Msg: err.Error()}
	}
	level, err := r.exec(ctx, "show cli level")
	if err != nil {
		return &input.Error{Field: "haproxy-socket", Msg: err.Error()}
	}
	if level != "admin" {
		return &input.Error{Field: "haproxy-socket", Msg: fmt.Sprintf(
			"haproxy %s: runtime API level is %q, want admin (stats socket … level admin)", r.addr, firstLine(level))}
	}
	servers, algo, err := r.snapshot(ctx)
	switch {
	case err != nil:
		return &input.Error{Field: "haproxy-backend", Msg: err.Error()}
	case len(servers) == 0:
		return &input.Error{Field: "haproxy-backend", Msg: fmt.Sprintf("haproxy %s: backend %q has no servers", r.addr, r.backend)}
	case algo == "static-rr" || algo == "first":
		return &input.Error{Field: "haproxy-backend", Msg: fmt.Sprintf(
			"haproxy %s: backend %q balances %s, whose weights cannot move traffic at run time; use roundrobin, leastconn or random", r.addr, r.backend, algo)}
	}
	return nil
}

// Servers lists the backend's servers in HAProxy's order, from
// "show servers state" (weight, state, address) and "show stat"
// (status, sessions).
func (r *Router) Servers(ctx context.Context) ([]Server, error) {
	s, _, err := r.snapshot(ctx)
	return s, err
}

// snapshot reads the servers and the backend's balance algorithm.
func (r *Router) snapshot(ctx context.Context) ([]Server, string, error) {
	if err := validName(r.backend); err != nil {
		return nil, "", err
	}
	state, err := r.show(ctx, "show servers state "+r.backend, "1\n")
	if err != nil {
		return nil, "", err
	}
	servers, err := parseServersState(state, r.backend)
	if err != nil {
		return nil, "", fmt.Errorf("haproxy %s: %w", r.addr, err)
	}
	stat, err := r.show(ctx, "show stat "+r.backend+" 6 -1", "# ")
	if err != nil {
		return nil, "", err
	}
	rows, algo, err := parseStat(stat, r.backend)
	if err != nil {
		return nil, "", fmt.Errorf("haproxy %s: %w", r.addr, err)
	}
	for i, s := range servers {
		row, ok := rows[s.Name]
		if !ok {
			row.requests = -1
		}
		servers[i].Status, servers[i].Sessions, servers[i].Requests = row.status, row.sessions, row.requests
	}
	return servers, algo, nil
}

// Realised returns the HAProxy weights SetWeights gives buckets (see
// Weights): the split HAProxy realises, which its Requests should follow
// — not always the one configured (a share below 1/257 is not possible).
func (r *Router) Realised(buckets map[string]int) (map[string]int, error) {
	return Weights(buckets)
}

// Requests counts the HTTP requests HAProxy has sent each server of the
// backend since it started (req_tot of "show stat"): the split HAProxy
// produced, which the controller checks against the weights it set. A
// server HAProxy gives no count is left out.
func (r *Router) Requests(ctx context.Context) (map[string]int64, error) {
	if err := validName(r.backend); err != nil {
		return nil, err
	}
	stat, err := r.show(ctx, "show stat "+r.backend+" 6 -1", "# ")
	if err != nil {
		return nil, err
	}
	rows, _, err := parseStat(stat, r.backend)
	if err != nil {
		return nil, fmt.Errorf("haproxy %s: %w", r.addr, err)
	}
	out := make(map[string]int64, len(rows))
	for name, row := range rows {
		if row.requests >= 0 {
			out[name] = row.requests
		}
	}
	return out, nil
}

// SetWeights gives each server named in buckets (a split out of
// route.Buckets that adds up to it) its HAProxy weight from Weights;
// servers of the backend not named are left as they are. Every server
// named must exist, and one given traffic must be ready: otherwise
// nothing is changed and the error (ErrUnknownServer, ErrNotReady) names
// the server. HAProxy changes one server at a time, so the weights that
// go up are set before those that go down (see plan): traffic moving from
// A to B meets no instant with neither. If a command fails midway, the
// error says which weights were already set.
func (r *Router) SetWeights(ctx context.Context, buckets map[string]int) error {
	want, err := Weights(buckets)
	if err != nil {
		return err
	}
	for name := range want {
		if err := validName(name); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	servers, err := r.Servers(ctx)
	if err != nil {
		return err
	}
	cur := make(map[string]Server, len(servers))
	for _, s := range servers {
		cur[s.Name] = s
	}
	var missing, unready []string
	for name, w := range want {
		s, ok := cur[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case w > 0 && s.State != StateReady:
			unready = append(unready, fmt.Sprintf("%s (%s)", name, s.State))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%w: backend %q has no server %s", ErrUnknownServer, r.backend, strings.Join(missing, ", "))
	}
	if len(unready) > 0 {
		slices.Sort(unready)
		return fmt.Errorf("%w: %s would get weight; make it ready first", ErrNotReady, strings.Join(unready, ", "))
	}
	curW := make(map[string]int, len(cur))
	for name, s := range cur {
		curW[name] = s.Weight
	}
	var done []string
	for _, c := range plan(curW, want) {
		if err := r.set(ctx, fmt.Sprintf("set server %s/%s weight %d", r.backend, c.server, c.weight)); err != nil {
			if len(done) > 0 {
				return fmt.Errorf("%w (already set: %s)", err, strings.Join(done, ", "))
			}
			return err
		}
		done = append(done, fmt.Sprintf("%s=%d", c.server, c.weight))
	}
	return nil
}

// Drain takes server out of load balancing: it gets no new requests,
// while those in flight (and sessions persisted to it by a cookie) finish
// there. Servers reports Sessions falling to 0 when it is empty.
func (r *Router) Drain(ctx context.Context, server string) error {
	return r.setState(ctx, server, StateDrain)
}

// Ready puts server back into load balancing with the weight it had.
func (r *Router) Ready(ctx context.Context, server string) error {
	return r.setState(ctx, server, StateReady)
}

// Maintenance stops all traffic to server and its health checks; unlike
// Drain, requests persisted to it go elsewhere.
func (r *Router) Maintenance(ctx context.Context, server string) error {
	return r.setState(ctx, server, StateMaint)
}

func (r *Router) setState(ctx context.Context, server, state string) error {
	if err := validName(server); err != nil {
		return err
	}
	if err := validName(r.backend); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set(ctx, fmt.Sprintf("set server %s/%s state %s", r.backend, server, state))
}

// set runs a command that answers nothing when it succeeds.
func (r *Router) set(ctx context.Context, cmd string) error {
	reply, err := r.exec(ctx, cmd)
	if err != nil {
		return err
	}
	if reply != "" {
		return &ReplyError{Addr: r.addr, Cmd: cmd, Reply: firstLine(reply)}
	}
	return nil
}

// show runs a command whose reply is data starting with prefix; any
// other reply is HAProxy's refusal, returned as a ReplyError.
func (r *Router) show(ctx context.Context, cmd, prefix string) (string, error) {
	reply, err := r.exec(ctx, cmd)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(reply+"\n", prefix) {
		return "", &ReplyError{Addr: r.addr, Cmd: cmd, Reply: firstLine(reply)}
	}
	return reply, nil
}

// exec sends one command on a connection of its own and returns the
// reply without its trailing newlines; HAProxy closes the connection
// after answering. The whole exchange is bounded by Timeout and ctx.
func (r *Router) exec(ctx context.Context, cmd string) (string, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, r.network, r.address)
	if err != nil {
		return "", fmt.Errorf("haproxy %s: %w", r.addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return "", fmt.Errorf("haproxy %s: %w", r.addr, err)
	}
	// A cancelled ctx wakes a blocked read at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("haproxy %s: %q: %w", r.addr, cmd, err)
	}
	b, err := io.ReadAll(io.LimitReader(conn, maxReply+1))
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return "", fmt.Errorf("haproxy %s: %q: %w", r.addr, cmd, err)
	}
	if len(b) > maxReply {
		return "", fmt.Errorf("haproxy %s: %q: reply longer than %d bytes", r.addr, cmd, maxReply)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// validName accepts the names HAProxy gives proxies and servers
// (letters, digits, '-', '_', '.', ':'), so that no name can carry a
// second command (';'), a space or a line break into the runtime API.
func validName(name string) error {
	if name == "" {
		return errors.New("haproxy: empty name")
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return fmt.Errorf("haproxy: name %q: HAProxy names hold only letters, digits and - _ . :", name)
		}
	}
	return nil
}
