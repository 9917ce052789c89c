package mirror

import (
	"context"
	"sync"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// Client is the gonogo.Client of a shadow run: Do starts a Flight, sends
// the request to the primary on the caller's goroutine — so the engine
// measures the primary exactly as in a load run — and finishes the Flight
// with the primary's result. The embedded Fanout gives Close, Stats and
// Pending; call Close once the engine has returned.
type Client struct {
	primary gonogo.Client
	*Fanout
}

var _ gonogo.Client = (*Client)(nil)

// warmer is the engine's optional Warmer capability (scenarios.Warmer).
type warmer interface {
	Warm(ctx context.Context, conns int) error
}

// NewClient returns a Client sending to primary and mirroring to targets
// through a new Fanout (see NewFanout for the error). When primary is a
// BodyClient, pairs describe requests without a recording by the body it
// sends.
func NewClient(primary gonogo.Client, targets []Target, sink PairSink, opts Options) (*Client, error) {
	f, err := NewFanout(targets, sink, opts)
	if err != nil {
		return nil, err
	}
	if bc, ok := primary.(BodyClient); ok {
		f.body = bc.Body
	}
	return &Client{primary: primary, Fanout: f}, nil
}

// Do mirrors req, sends it to the primary into res and reports the
// primary's answer to the flight. Every target is timed from
// req.Intended, or from res.Sent when that is zero. See gonogo.Client.
func (c *Client) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	if res.Sent.IsZero() {
		res.Sent = time.Now()
	}
	intended := req.Intended
	if intended.IsZero() {
		intended = res.Sent
	}
	fl := c.start(req, intended)
	c.primary.Do(ctx, req, res)
	if res.Done.IsZero() {
		res.Done = time.Now()
	}
	fl.Finish(res)
}

// Warm lets the primary and every mirror client that can open connections
// ahead of the load open conns each, concurrently (the engine's Warmer
// capability; best effort). It returns the primary's error.
func (c *Client) Warm(ctx context.Context, conns int) error {
	var wg sync.WaitGroup
	for _, t := range c.targets {
		if w, ok := t.client.(warmer); ok {
			wg.Go(func() { _ = w.Warm(ctx, conns) })
		}
	}
	var err error
	if w, ok := c.primary.(warmer); ok {
		err = w.Warm(ctx, conns)
	}
	wg.Wait()
	return err
}
