package scenarios

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// runVUs drives a closed-model scenario: each virtual user sends a request,
// waits for its response and sends the next. The intended time of each
// request is the moment its VU is ready, so scheduling lag is near zero by
// construction; closed models cannot show queueing delay outside the server.
//
// A scenario with a warmup runs its VUs from warmup before start: their
// requests intended before start are sent but not recorded (they count in
// WarmupRequests), so the measured part begins with every VU busy and its
// connection open. Warm-up iterations of shared-iterations do not count
// against its iterations; ramping-vus warms up with its startVUs.
//
// It returns when the scenario's time is up, when ctx is cancelled, or when
// every VU has stopped (shared-iterations ran out); VUs still in an
// iteration then finish it within the scenario's gracefulStop.
func (e *Engine) runVUs(ctx, reqCtx context.Context, start time.Time, p Plan, workers *sync.WaitGroup) {
	s := p.Scenario
	var n int
	var end time.Time
	var active func(vu int, now time.Time) (run, over bool)
	switch s.Executor {
	case ConstantVUs:
		n = s.VUs
		end = start.Add(s.Duration)
		active = func(_ int, now time.Time) (bool, bool) { return true, !now.Before(end) }
	case RampingVUs:
		n = s.StartVUs
		var total time.Duration
		for _, st := range s.Stages {
			n = max(n, int(st.Target))
			total += st.Duration
		}
		end = start.Add(total)
		active = func(vu int, now time.Time) (bool, bool) {
			return vu < s.vusAt(now.Sub(start)), !now.Before(end)
		}
	case SharedIterations:
		n = s.VUs
		end = start.Add(s.MaxDuration)
		var left atomic.Int64
		left.Store(int64(s.Iterations))
		active = func(_ int, now time.Time) (bool, bool) {
			switch {
			case !now.Before(end):
				return false, true
			case now.Before(start): // warming up: not one of the iterations
				return true, false
			}
			return true, left.Add(-1) < 0
		}
	}
	var loops sync.WaitGroup
	for vu := range n {
		workers.Add(1)
		loops.Add(1)
		go func() {
			defer workers.Done()
			defer loops.Done()
			idle := time.NewTimer(time.Hour)
			defer idle.Stop()
			for ctx.Err() == nil {
				now := time.Now()
				run, over := active(vu, now)
				if over {
					return
				}
				if !run { // ramped down: wait to be needed again
					if !sleepUntil(ctx, idle, now.Add(rampPoll)) {
						return
					}
					continue
				}
				j := e.newJob()
				e.stamp(j, s, now)
				if now.Before(start) {
					e.warmup(reqCtx, &p, j)
				} else {
					e.send(reqCtx, &p, j)
				}
				e.pool.Put(j)
			}
		}()
	}
	stopped := make(chan struct{})
	go func() { loops.Wait(); close(stopped) }()
	timer := time.NewTimer(time.Until(end))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	case <-stopped:
	}
}

// rampPoll is how often an inactive ramping VU checks whether it is needed.
const rampPoll = 20 * time.Millisecond

// vusAt is the ramping-vus target at offset t: linear within each stage,
// startVUs before the first (the warm-up).
func (s *Scenario) vusAt(t time.Duration) int {
	if t < 0 {
		return s.StartVUs
	}
	prev := float64(s.StartVUs)
	for _, st := range s.Stages {
		if t < st.Duration {
			frac := float64(t) / float64(st.Duration)
			return int(prev + (st.Target-prev)*frac + 0.5)
		}
		t -= st.Duration
		prev = st.Target
	}
	return int(prev)
}
