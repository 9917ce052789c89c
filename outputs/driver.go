package outputs

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultFinishTimeout bounds the last push of every output together,
// once the run has ended.
const DefaultFinishTimeout = 15 * time.Second

// minPushTimeout is the least time a live push gets, however short the
// interval.
const minPushTimeout = time.Second

// Stats say what one output did during a run.
type Stats struct {
	// Output says which output (Describe).
	Output string
	// Sent counts the snapshots the output pushed.
	Sent int
	// Failed counts the snapshots dropped because their push failed after
	// its retries (or ran out of time).
	Failed int
	// Skipped counts the snapshots replaced by a later one before the
	// output was free to push them: the receiver was slower than the
	// interval. Series are cumulative: nothing is lost but resolution.
	Skipped int
	// FinalSent is true when the last snapshot (the run's totals and
	// events) arrived.
	FinalSent bool
	// LastError is the last failure's message; "" without one.
	LastError string
}

// Lost says whether anything the output should have sent did not arrive.
func (s Stats) Lost() bool { return s.Failed > 0 || !s.FinalSent }

// Driver pushes snapshots of a run to its outputs in the background: it
// reads a snapshot every interval and hands it to each output's own
// goroutine. The run's goroutines never wait for an output.
type Driver struct {
	snap     func(now time.Time) *Snapshot
	interval time.Duration
	workers  []*worker
	base     context.Context
	cancel   context.CancelFunc
	stop     chan struct{}
	ticked   chan struct{}
	once     sync.Once
	stats    []Stats
}

// worker pushes to one output.
type worker struct {
	out      Output
	interval time.Duration
	// pending is the snapshot waiting for the output, nil when none; a
	// newer snapshot replaces it.
	mu       sync.Mutex
	pending  *Snapshot
	final    bool // the pending snapshot is the last one
	closed   bool
	deadline time.Time // of the final push
	wake     chan struct{}
	done     chan struct{}
	stats    Stats
}

// Start starts pushing: snap is called every interval (DefaultInterval
// when ≤ 0) on the Driver's goroutine and must be safe to call while the
// run goes. Call Finish once the run has ended.
func Start(outs []Output, interval time.Duration, snap func(now time.Time) *Snapshot) *Driver {
	if interval <= 0 {
		interval = DefaultInterval
	}
	d := &Driver{snap: snap, interval: interval, stop: make(chan struct{}), ticked: make(chan struct{})}
	d.base, d.cancel = context.WithCancel(context.Background())
	for _, o := range outs {
		w := &worker{out: o, interval: interval, wake: make(chan struct{}, 1), done: make(chan struct{}), stats: Stats{Output: Describe(o)}}
		d.workers = append(d.workers, w)
		go w.run(d.base)
	}
	go d.tick()
	return d
}

// tick reads a snapshot every interval until Finish.
func (d *Driver) tick() {
	defer close(d.ticked)
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case now := <-t.C:
			s := d.snap(now)
			for _, w := range d.workers {
				w.offer(s, false, time.Time{})
			}
		}
	}
}

// offer hands s to the worker, replacing a snapshot it has not taken yet.
func (w *worker) offer(s *Snapshot, final bool, deadline time.Time) {
	w.mu.Lock()
	if w.closed || w.final {
		w.mu.Unlock()
		return
	}
	if w.pending != nil {
		w.stats.Skipped++
	}
	w.pending, w.final, w.deadline = s, final, deadline
	if final {
		w.closed = true
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// close ends the worker without a last snapshot.
func (w *worker) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) run(base context.Context) {
	defer close(w.done)
	for {
		select {
		case <-base.Done():
			return
		case <-w.wake:
		}
		for {
			w.mu.Lock()
			s, final, deadline, closed := w.pending, w.final, w.deadline, w.closed
			w.pending = nil
			w.mu.Unlock()
			if s == nil {
				if closed {
					return
				}
				break
			}
			w.push(base, s, final, deadline)
			if final {
				return
			}
		}
	}
}

// push sends one snapshot: a live one within the interval (a later one
// is on its way by then), the last one before the Finish deadline.
func (w *worker) push(base context.Context, s *Snapshot, final bool, deadline time.Time) {
	if !final {
		deadline = time.Now().Add(max(w.interval, minPushTimeout))
	}
	ctx, cancel := context.WithDeadline(base, deadline)
	err := w.out.Push(ctx, s)
	cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.stats.Failed++
		w.stats.LastError = err.Error()
		return
	}
	w.stats.Sent++
	if final {
		w.stats.FinalSent = true
	}
}

// Finish stops the pushes, hands final (the run's last snapshot; nil for
// none) to every output, waits up to timeout (DefaultFinishTimeout when ≤
// 0) for them to push it, closes them and returns what each did. Later
// calls return the same stats.
func (d *Driver) Finish(final *Snapshot, timeout time.Duration) []Stats {
	d.once.Do(func() {
		if timeout <= 0 {
			timeout = DefaultFinishTimeout
		}
		close(d.stop)
		<-d.ticked // no live snapshot after the last one
		deadline := time.Now().Add(timeout)
		for _, w := range d.workers {
			if final != nil {
				w.offer(final, true, deadline)
			} else {
				w.close()
			}
		}
		t := time.NewTimer(time.Until(deadline) + time.Second)
		for _, w := range d.workers {
			select {
			case <-w.done:
			case <-t.C:
			}
		}
		t.Stop()
		d.cancel()
		for _, w := range d.workers {
			select {
			case <-w.done:
			case <-time.After(time.Second): // a Push that ignores its context
			}
			_ = w.out.Close()
			w.mu.Lock()
			d.stats = append(d.stats, w.stats)
			w.mu.Unlock()
		}
	})
	return d.stats
}

// WriteStats says in one line per output what it sent, and what it
// dropped and why.
func WriteStats(w io.Writer, stats []Stats) {
	for _, s := range stats {
		switch {
		case !s.Lost() && s.Skipped == 0:
			fmt.Fprintf(w, "output %s: %d pushes sent\n", s.Output, s.Sent)
		case !s.Lost():
			fmt.Fprintf(w, "output %s: %d pushes sent, %d skipped (the receiver was slower than the interval; totals are complete)\n", s.Output, s.Sent, s.Skipped)
		default:
			last := "the last snapshot (the run's totals) arrived"
			if !s.FinalSent {
				last = "the last snapshot (the run's totals) did NOT arrive"
			}
			fmt.Fprintf(w, "warning: output %s: %d pushes sent, %d dropped, %d skipped; %s; last error: %s\n",
				s.Output, s.Sent, s.Failed, s.Skipped, last, s.LastError)
		}
	}
}
