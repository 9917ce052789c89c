package scenarios

import (
	"context"
	"sync"
	"time"
)

// runArrivals drives an open-model scenario: one scheduler sends each
// arrival at its intended time to an idle worker (a VU), starts a new worker
// while fewer than maxVUs exist, and otherwise queues or drops the arrival
// as the scenario's saturation policy says. It returns when the schedule
// ends or ctx is cancelled; workers finish what they hold.
func (e *Engine) runArrivals(ctx, reqCtx context.Context, start time.Time, p Plan, workers *sync.WaitGroup) {
	s := p.Scenario
	src := p.Source
	if src == nil {
		if s.Executor == RecordedArrivals {
			panic("scenarios: scenario " + s.Name + " replays recorded arrivals but its Plan has no Source")
		}
		src = NewSchedule(s)
	}
	work := make(chan *job) // unbuffered: a send succeeds only if a worker is idle
	var queue chan *job
	if s.Saturation == SaturationQueue {
		queue = make(chan *job, s.MaxQueue)
	}
	worker := func(j *job) {
		defer workers.Done()
		w, q := work, queue
		for {
			if j != nil {
				e.send(reqCtx, p.Client, j)
				e.pool.Put(j)
				j = nil
			}
			if w == nil && q == nil { // both closed: the scenario is over
				return
			}
			if q != nil { // queued arrivals are the oldest: serve them first
				select {
				case next, ok := <-q:
					if !ok {
						q = nil
					}
					j = next
					continue
				default:
				}
			}
			select {
			case next, ok := <-q:
				if !ok {
					q = nil
				}
				j = next
			case next, ok := <-w:
				if !ok {
					w = nil
				}
				j = next
			}
		}
	}
	spawned := 0
	for ; spawned < s.PreAllocatedVUs; spawned++ {
		workers.Add(1)
		go worker(nil)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer func() {
		close(work)
		if queue != nil {
			close(queue)
		}
	}()
	for {
		j := e.newJob()
		off, ok := src.Next(&j.req)
		if !ok {
			e.pool.Put(j)
			return
		}
		at := start.Add(off)
		if !sleepUntil(ctx, timer, at) {
			e.pool.Put(j)
			return
		}
		e.stamp(j, s, at)
		select {
		case work <- j:
			continue
		default:
		}
		if spawned < s.MaxVUs {
			spawned++
			workers.Add(1)
			go worker(j)
			continue
		}
		if queue != nil {
			j.res.Queued = true
			select {
			case queue <- j:
				continue
			default:
			}
		}
		e.sink.Drop(&j.req)
		e.pool.Put(j)
	}
}
