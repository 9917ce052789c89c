package scenarios

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// intendedSink keeps the intended times of what it records.
type intendedSink struct {
	mu       sync.Mutex
	intended []time.Time
}

func (s *intendedSink) Record(r *gonogo.Result) {
	s.mu.Lock()
	s.intended = append(s.intended, r.Request.Intended)
	s.mu.Unlock()
}

func (s *intendedSink) Drop(*gonogo.Request) {}

// RunAt counts every scenario from the zero it is given: Start reports it
// and the first arrival of a scenario with startTime 30 ms is intended at
// exactly zero + 30 ms.
func TestEngineRunAtSharesTimeZero(t *testing.T) {
	c := &recordingClient{}
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 100, Duration: 50 * time.Millisecond, StartTime: 30 * time.Millisecond})
	eng := NewEngine(newMemSink())
	zero := time.Now().Add(50 * time.Millisecond)
	eng.RunAt(context.Background(), []Plan{{Scenario: s, Client: c}}, zero)
	if !eng.Start().Equal(zero) {
		t.Errorf("Start() = %v, want the zero given, %v", eng.Start(), zero)
	}
	if len(c.reqs) != 5 {
		t.Fatalf("%d requests, want 5", len(c.reqs))
	}
	for i, r := range c.reqs {
		if want := zero.Add(30*time.Millisecond + time.Duration(i)*10*time.Millisecond); !r.Intended.Equal(want) {
			t.Errorf("request %d intended at zero%+v, want zero%+v", i, r.Intended.Sub(zero), want.Sub(zero))
		}
	}
}

// RunAt does not warm connections; Warm does, before the zero is picked.
func TestEngineWarmIsApart(t *testing.T) {
	c := &warmClient{}
	p := []Plan{{Scenario: mustValid(t, &Scenario{Name: "open", Executor: ConstantArrivalRate, Rate: 5000, Duration: 10 * time.Millisecond}), Client: c}}
	eng := NewEngine(newMemSink())
	eng.RunAt(context.Background(), p, time.Now().Add(eng.Lead(p)))
	if len(c.conns) != 0 {
		t.Errorf("RunAt warmed %v connections, want none", c.conns)
	}
	eng.Warm(context.Background(), p)
	if len(c.conns) != 1 || c.conns[0] != 100 {
		t.Errorf("Warm asked for %v connections, want [100] (20 ms of 5000/s)", c.conns)
	}
}

func TestEngineLead(t *testing.T) {
	open := &Scenario{Executor: ConstantArrivalRate, Rate: 1, Duration: time.Second}
	for _, tc := range []struct {
		name  string
		plans []*Scenario
		want  time.Duration
	}{
		{"no warm-up", []*Scenario{open}, DefaultLead},
		{"a warm-up", []*Scenario{open, {Executor: ConstantVUs, VUs: 1, Duration: time.Second, Warmup: 5 * time.Second}}, DefaultLead + 5*time.Second},
		{"a warm-up after a start time", []*Scenario{{Executor: ConstantVUs, VUs: 1, Duration: time.Second, Warmup: 5 * time.Second, StartTime: 2 * time.Second}}, DefaultLead + 3*time.Second},
		{"a warm-up within the start time", []*Scenario{{Executor: ConstantVUs, VUs: 1, Duration: time.Second, Warmup: time.Second, StartTime: 2 * time.Second}}, DefaultLead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var plans []Plan
			for _, s := range tc.plans {
				plans = append(plans, Plan{Scenario: mustValid(t, s)})
			}
			if got := NewEngine(newMemSink()).Lead(plans); got != tc.want {
				t.Errorf("Lead = %v, want %v", got, tc.want)
			}
		})
	}
}

// A shared-iterations warm-up sends requests before time zero that are
// neither recorded nor taken from the iterations.
func TestEngineWarmupSharedIterations(t *testing.T) {
	sink := &intendedSink{}
	s := mustValid(t, &Scenario{Name: "a", Executor: SharedIterations, VUs: 2, Iterations: 20, Warmup: 100 * time.Millisecond})
	eng := NewEngine(sink)
	eng.Run(context.Background(), []Plan{{Scenario: s, Client: &sleepClient{delay: time.Millisecond}}})
	if len(sink.intended) != 20 {
		t.Errorf("%d recorded, want the 20 iterations", len(sink.intended))
	}
	if eng.WarmupRequests() == 0 {
		t.Error("no warm-up request in 100 ms of 2 VUs at 1 ms")
	}
	for _, at := range sink.intended {
		if at.Before(eng.Start()) {
			t.Fatalf("a request intended %v before time zero was recorded", eng.Start().Sub(at))
		}
	}
}

// Before its first stage, ramping-vus runs its startVUs.
func TestVUsAtBeforeTheStart(t *testing.T) {
	s := &Scenario{Executor: RampingVUs, StartVUs: 3, Stages: []Stage{{time.Second, 10}}}
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{{-time.Second, 3}, {0, 3}, {500 * time.Millisecond, 7}, {2 * time.Second, 10}} {
		if got := s.vusAt(tc.at); got != tc.want {
			t.Errorf("vusAt(%v) = %d, want %d", tc.at, got, tc.want)
		}
	}
}

// delayedClient keeps a copy of every request, answered after delay.
type delayedClient struct {
	*recordingClient
	delay time.Duration
}

func (c *delayedClient) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	time.Sleep(c.delay)
	c.recordingClient.Do(ctx, req, res)
}
