package extensions

import "context"

// Pool keeps the idle keep-alive connections of one target for a
// plain-HTTP client, and caps the connections open at once when asked to.
// C is the client's connection type; the pool dials, closes and checks
// them through the functions it is given.
type Pool[C any] struct {
	idle  chan C        // keep-alive connections waiting for a request
	slots chan struct{} // caps open connections when maxConns > 0
	dial  func(ctx context.Context) (C, error)
	close func(C)
	dead  func(C) bool // a pooled connection the server closed meanwhile; nil: never known
}

// NewPool returns a pool of at most maxConns open connections (0: no cap,
// DefaultMaxIdleConnsPerHost idle ones kept) that dials with dial (to warm
// up), closes with closeConn and, when dead is not nil, lets go of pooled
// connections it reports dead.
func NewPool[C any](maxConns int, dial func(context.Context) (C, error), closeConn func(C), dead func(C) bool) *Pool[C] {
	p := &Pool[C]{idle: make(chan C, DefaultMaxIdleConnsPerHost), dial: dial, close: closeConn, dead: dead}
	if maxConns > 0 {
		p.idle = make(chan C, maxConns)
		p.slots = make(chan struct{}, maxConns)
	}
	return p
}

// Acquire waits for one of the capped connection slots, until ctx ends; a
// request that got one gives it back with Release. Without a cap it
// returns at once.
func (p *Pool[C]) Acquire(ctx context.Context) error {
	if p.slots == nil {
		return nil
	}
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release gives back the slot Acquire took.
func (p *Pool[C]) Release() {
	if p.slots != nil {
		<-p.slots
	}
}

// Idle returns an idle connection, one the server has not closed
// meanwhile, when the pool has one; the caller dials otherwise.
func (p *Pool[C]) Idle() (conn C, ok bool) {
	for range cap(p.idle) {
		select {
		case conn := <-p.idle:
			if p.dead != nil && p.dead(conn) {
				p.close(conn)
				continue
			}
			return conn, true
		default:
		}
		break
	}
	return conn, false
}

// Put keeps conn for reuse, or closes it when the pool is full.
func (p *Pool[C]) Put(conn C) {
	select {
	case p.idle <- conn:
	default:
		p.close(conn)
	}
}

// warmDials is how many connections Warm dials at once.
const warmDials = 16

// Warm dials up to n connections into the idle pool (no more than it has
// room for), warmDials at a time, each within DefaultDialTimeout. It
// returns the first error, after which it dials no more.
func (p *Pool[C]) Warm(ctx context.Context, n int) error {
	n = min(n, cap(p.idle)-len(p.idle))
	if n <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, warmDials)
	errs := make(chan error, n)
	for range n {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				errs <- err
				return
			}
			dctx, dcancel := context.WithTimeout(ctx, DefaultDialTimeout)
			conn, err := p.dial(dctx)
			dcancel()
			if err != nil {
				cancel()
				errs <- err
				return
			}
			p.Put(conn)
			errs <- nil
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close closes the idle connections: a client's connections must not
// outlive its run.
func (p *Pool[C]) Close() {
	for {
		select {
		case conn := <-p.idle:
			p.close(conn)
		default:
			return
		}
	}
}
