package scenarios

import (
	"context"
	"sync"
	"time"
)

// runArrivals drives an open-model scenario. Its VUs (workers) pull the
// arrivals themselves: a VU that is free takes the next arrival of the
// schedule, sleeps until its intended time and sends it, so an arrival
// that finds a free VU costs no hand-off between goroutines. The calling
// goroutine is the overseer: it wakes at the intended time of the next
// arrival that no VU has taken and, since that means every VU is busy,
// starts a new VU for it while fewer than maxVUs exist, and otherwise
// queues or drops it as the scenario's saturation policy says. This is the
// same decision, at the same moment, as a dispatcher handing each arrival
// to an idle VU, without the hand-off.
//
// It returns when the schedule ends — at the end of its duration when the
// source is Bounded, else at the intended time of its last arrival — or
// when ctx is cancelled; VUs finish what they hold, and the queue, before
// they stop.
func (e *Engine) runArrivals(ctx, reqCtx context.Context, start time.Time, p Plan, workers *sync.WaitGroup) {
	s := p.Scenario
	src := p.Source
	if src == nil {
		if s.Executor == RecordedArrivals {
			panic("scenarios: scenario " + s.Name + " replays recorded arrivals but its Plan has no Source")
		}
		src = NewSchedule(s)
	}
	a := &arrivals{e: e, s: s, src: src, start: start}
	if s.Saturation == SaturationQueue {
		a.queue = make([]*job, s.MaxQueue)
	}
	worker := func(j *job) {
		defer workers.Done()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			if j != nil {
				e.send(reqCtx, &p, j)
				e.pool.Put(j)
			}
			var at time.Time
			var queued bool
			j, at, queued = a.take()
			if j == nil {
				return
			}
			if queued {
				continue // stamped when it was queued; it is late already
			}
			if !sleepUntil(ctx, timer, at) {
				e.pool.Put(j) // interrupted: this arrival never came
				return
			}
			e.stamp(j, s, at)
		}
	}
	a.mu.Lock()
	for ; a.spawned < s.PreAllocatedVUs; a.spawned++ {
		workers.Add(1)
		go worker(nil)
	}
	a.mu.Unlock()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		a.mu.Lock()
		if a.next == nil {
			a.draw()
		}
		if a.next == nil { // the schedule is over
			end := a.last
			a.mu.Unlock()
			// Return when the schedule's time is up (a bursty schedule's
			// last arrival may come long before), or else at the last
			// intended time, as a dispatcher would: gracefulStop counts
			// from there.
			if b, ok := src.(Bounded); ok {
				if d := start.Add(b.Duration()); d.After(end) {
					end = d
				}
			}
			sleepUntil(ctx, timer, end)
			return
		}
		at, seq := a.nextAt, a.drawn
		a.mu.Unlock()
		if !sleepUntil(ctx, timer, at) {
			a.stop()
			return
		}
		a.mu.Lock()
		if a.next == nil || a.drawn != seq {
			a.mu.Unlock() // a free VU took it
			continue
		}
		// Its time has come and no VU is free to take it.
		j := a.next
		a.next = nil
		e.stamp(j, s, at)
		switch {
		case a.spawned < s.MaxVUs:
			a.spawned++
			workers.Add(1)
			go worker(j)
			j = nil
		case a.queue != nil && a.qlen < len(a.queue):
			j.res.Queued = true
			a.queue[(a.qhead+a.qlen)%len(a.queue)] = j
			a.qlen++
			j = nil
		}
		a.mu.Unlock()
		if j != nil {
			e.sink.Drop(&j.req)
			e.pool.Put(j)
		}
	}
}

// arrivals is the state an open-model scenario's overseer and VUs share.
type arrivals struct {
	e     *Engine
	s     *Scenario
	src   Source
	start time.Time

	mu      sync.Mutex
	next    *job      // drawn from src and not yet taken; nil when none is
	nextAt  time.Time // its intended time
	drawn   uint64    // arrivals drawn so far: tells the overseer whether next is still the one it waited for
	last    time.Time // intended time of the last arrival drawn
	ended   bool      // src is exhausted or the run was interrupted: draw no more
	spawned int       // VUs started
	queue   []*job    // ring of queued arrivals (saturation queue); nil under drop
	qhead   int
	qlen    int
}

// draw takes the next arrival from the source into a.next, or sets ended
// when there is none. a.mu must be held.
func (a *arrivals) draw() {
	if a.ended {
		return
	}
	j := a.e.newJob()
	off, ok := a.src.Next(&j.req)
	if !ok {
		a.e.pool.Put(j)
		a.ended = true
		return
	}
	a.next, a.nextAt, a.last = j, a.start.Add(off), a.start.Add(off)
	a.drawn++
}

// take gives a free VU its next job: the oldest queued arrival (queued
// true; it is stamped and due), or else the next arrival of the schedule,
// to be stamped and sent at its intended time at. It returns a nil job when
// the scenario is over for this VU: nothing is queued and the schedule has
// ended or been interrupted.
func (a *arrivals) take() (j *job, at time.Time, queued bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.qlen > 0 { // queued arrivals are the oldest: serve them first
		j = a.queue[a.qhead]
		a.queue[a.qhead] = nil
		a.qhead = (a.qhead + 1) % len(a.queue)
		a.qlen--
		return j, j.req.Intended, true
	}
	if a.next == nil {
		a.draw()
	}
	j, at = a.next, a.nextAt
	a.next = nil
	return j, at, false
}

// stop ends the schedule early (interrupt): no arrival is drawn or taken
// any more; queued ones are still sent.
func (a *arrivals) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ended = true
	if a.next != nil {
		a.e.pool.Put(a.next)
		a.next = nil
	}
}
