//go:build !race

package scenarios

import (
	"context"
	"testing"
	"time"
)

// A constant-vus warm-up starts its VUs warmup before time zero and keeps
// what they send before zero out of the results: 3 VUs answered in 10 ms
// each send about 60 requests in a 200 ms warm-up and 90 in the 300 ms
// that are measured. Timing-sensitive: tolerances of a busy CI machine.
func TestEngineWarmupConstantVUs(t *testing.T) {
	sink := &intendedSink{}
	c := &recordingClient{}
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantVUs, VUs: 3, Duration: 300 * time.Millisecond, Warmup: 200 * time.Millisecond})
	eng := NewEngine(sink)
	slow := &delayedClient{recordingClient: c, delay: 10 * time.Millisecond}
	eng.Run(context.Background(), []Plan{{Scenario: s, Client: slow}})
	zero := eng.Start()
	first := c.reqs[0].Intended
	for _, r := range c.reqs {
		first = minTime(first, r.Intended)
	}
	if d := zero.Sub(first); d < 180*time.Millisecond || d > 220*time.Millisecond {
		t.Errorf("the first warm-up request was intended %v before time zero, want about 200ms", d)
	}
	if n := eng.WarmupRequests(); n < 30 || n > 66 {
		t.Errorf("%d warm-up requests, want about 60", n)
	}
	if n := len(sink.intended); n < 45 || n > 95 {
		t.Errorf("%d recorded, want about 90", n)
	}
	for _, at := range sink.intended {
		if at.Before(zero) {
			t.Fatalf("a request intended %v before time zero was recorded", zero.Sub(at))
		}
	}
	if int64(len(c.reqs)) != eng.WarmupRequests()+int64(len(sink.intended)) {
		t.Errorf("%d sent, %d warm-ups + %d recorded: a request is unaccounted for", len(c.reqs), eng.WarmupRequests(), len(sink.intended))
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
