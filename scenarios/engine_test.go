package scenarios

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// sleepClient answers every request after a fixed delay, or when ctx ends.
type sleepClient struct {
	delay    time.Duration
	inFlight atomic.Int64
	peak     atomic.Int64
}

func (c *sleepClient) Do(ctx context.Context, _ *gonogo.Request, res *gonogo.Result) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	t := time.NewTimer(c.delay)
	defer t.Stop()
	select {
	case <-t.C:
		res.Status = 200
	case <-ctx.Done():
		res.Class, res.Err = gonogo.ErrCanceled, ctx.Err().Error()
	}
	res.Done = time.Now()
}

var _ gonogo.Client = (*sleepClient)(nil)

// memSink keeps what tests need to check.
type memSink struct {
	mu       sync.Mutex
	results  int
	dropped  int
	queued   int
	canceled int
	maxLag   time.Duration
	maxLat   time.Duration
	ids      map[uint64]bool
	scen     map[string]int
}

func newMemSink() *memSink { return &memSink{ids: map[uint64]bool{}, scen: map[string]int{}} }

func (s *memSink) Record(r *gonogo.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results++
	s.scen[r.Request.Scenario]++
	s.ids[r.Request.ID] = true
	if r.Queued {
		s.queued++
	}
	if r.Class == gonogo.ErrCanceled {
		s.canceled++
	}
	s.maxLag = max(s.maxLag, r.SchedulingLag())
	s.maxLat = max(s.maxLat, r.Latency())
}

func (s *memSink) Drop(*gonogo.Request) {
	s.mu.Lock()
	s.dropped++
	s.mu.Unlock()
}

func mustValid(t *testing.T, s *Scenario) *Scenario {
	t.Helper()
	if msg := validateOnly(s); msg != "" {
		t.Fatal(msg)
	}
	return s
}

func TestEngineConstantArrivalRate(t *testing.T) {
	sink := newMemSink()
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 200, Duration: time.Second})
	NewEngine(sink).Run(context.Background(), []Plan{{Scenario: s, Client: &sleepClient{delay: 5 * time.Millisecond}}})
	if sink.results != 200 || sink.dropped != 0 || len(sink.ids) != 200 {
		t.Fatalf("results=%d dropped=%d distinct ids=%d, want 200/0/200", sink.results, sink.dropped, len(sink.ids))
	}
}

func TestEngineDropsWhenSaturated(t *testing.T) {
	sink := newMemSink()
	c := &sleepClient{delay: 100 * time.Millisecond}
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 100, Duration: time.Second, MaxVUs: 2, PreAllocatedVUs: 2})
	NewEngine(sink).Run(context.Background(), []Plan{{Scenario: s, Client: c}})
	if sink.results+sink.dropped != 100 {
		t.Fatalf("results %d + dropped %d != 100 arrivals: an arrival was lost", sink.results, sink.dropped)
	}
	if c.peak.Load() > 2 {
		t.Errorf("peak concurrency %d exceeds maxVUs 2", c.peak.Load())
	}
	if sink.results > 30 || sink.dropped < 70 {
		t.Errorf("2 VUs × 100 ms for 1 s should serve about 20 and drop about 80; got %d served, %d dropped", sink.results, sink.dropped)
	}
}

func TestEngineQueueKeepsEveryArrival(t *testing.T) {
	sink := newMemSink()
	c := &sleepClient{delay: 20 * time.Millisecond}
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 200, Duration: 500 * time.Millisecond, MaxVUs: 2, PreAllocatedVUs: 1, Saturation: SaturationQueue})
	NewEngine(sink).Run(context.Background(), []Plan{{Scenario: s, Client: c}})
	if sink.results != 100 || sink.dropped != 0 {
		t.Fatalf("results=%d dropped=%d, want 100/0", sink.results, sink.dropped)
	}
	if sink.queued < 50 {
		t.Errorf("queued = %d, want most arrivals queued", sink.queued)
	}
	// 100 requests through 2 VUs at 20 ms take ≥ 1 s; the last waited ~0.5 s
	// beyond its intended time, which latency (from intended) must show.
	if sink.maxLat < 400*time.Millisecond {
		t.Errorf("max latency from intended = %v, want ≥ 400ms (queueing is measured)", sink.maxLat)
	}
}

func TestEngineInterruptIsGraceful(t *testing.T) {
	sink := newMemSink()
	c := &sleepClient{delay: 50 * time.Millisecond}
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 100, Duration: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	NewEngine(sink).Run(ctx, []Plan{{Scenario: s, Client: c}})
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("run took %v after interrupt at 300ms", el)
	}
	if sink.results < 20 || sink.results > 45 || sink.canceled != 0 {
		t.Errorf("results=%d canceled=%d: want about 32 finished, none canceled", sink.results, sink.canceled)
	}
}

func TestEngineGracefulStopCancelsStragglers(t *testing.T) {
	sink := newMemSink()
	c := &sleepClient{delay: time.Hour}
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 50, Duration: 200 * time.Millisecond, GracefulStop: 100 * time.Millisecond})
	start := time.Now()
	NewEngine(sink).Run(context.Background(), []Plan{{Scenario: s, Client: c}})
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("run took %v; gracefulStop should cut it at ~300ms", el)
	}
	if sink.results != 10 || sink.canceled != 10 {
		t.Errorf("results=%d canceled=%d, want 10 recorded as canceled", sink.results, sink.canceled)
	}
}

func TestEngineVUExecutors(t *testing.T) {
	t.Run("shared-iterations is exact", func(t *testing.T) {
		sink := newMemSink()
		c := &sleepClient{delay: time.Millisecond}
		s := mustValid(t, &Scenario{Name: "a", Executor: SharedIterations, VUs: 4, Iterations: 37})
		NewEngine(sink).Run(context.Background(), []Plan{{Scenario: s, Client: c}})
		if sink.results != 37 || c.peak.Load() > 4 {
			t.Fatalf("results=%d peak=%d, want 37 with ≤4 concurrent", sink.results, c.peak.Load())
		}
	})
	t.Run("constant-vus", func(t *testing.T) {
		sink := newMemSink()
		c := &sleepClient{delay: 10 * time.Millisecond}
		s := mustValid(t, &Scenario{Name: "a", Executor: ConstantVUs, VUs: 3, Duration: 300 * time.Millisecond})
		NewEngine(sink).Run(context.Background(), []Plan{{Scenario: s, Client: c}})
		if c.peak.Load() != 3 || sink.results < 45 || sink.results > 95 {
			t.Fatalf("results=%d peak=%d, want ~90 with 3 concurrent", sink.results, c.peak.Load())
		}
		if sink.maxLag > 5*time.Millisecond {
			t.Errorf("closed model lag %v, want ~0", sink.maxLag)
		}
	})
	t.Run("ramping-vus", func(t *testing.T) {
		sink := newMemSink()
		c := &sleepClient{delay: 10 * time.Millisecond}
		s := mustValid(t, &Scenario{Name: "a", Executor: RampingVUs, Stages: []Stage{{200 * time.Millisecond, 6}, {200 * time.Millisecond, 6}, {200 * time.Millisecond, 0}}})
		NewEngine(sink).Run(context.Background(), []Plan{{Scenario: s, Client: c}})
		if c.peak.Load() != 6 {
			t.Fatalf("peak concurrency %d, want 6", c.peak.Load())
		}
	})
}

func TestEngineScenariosStartOnTime(t *testing.T) {
	sink := newMemSink()
	c := &sleepClient{delay: time.Millisecond}
	a := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 50, Duration: 200 * time.Millisecond})
	b := mustValid(t, &Scenario{Name: "b", Executor: ConstantArrivalRate, Rate: 50, Duration: 200 * time.Millisecond, StartTime: 300 * time.Millisecond})
	e := NewEngine(sink)
	start := time.Now()
	e.Run(context.Background(), []Plan{{Scenario: a, Client: c}, {Scenario: b, Client: c}})
	if el := time.Since(start); el < 480*time.Millisecond {
		t.Errorf("run ended after %v; b starts at 300ms and runs 200ms", el)
	}
	if sink.scen["a"] != 10 || sink.scen["b"] != 10 {
		t.Errorf("per scenario %v, want 10 each", sink.scen)
	}
}

// A closed-model scenario longer than its gracefulStop keeps sending until
// its duration ends: gracefulStop counts from the end, not the start.
func TestEngineVUsOutliveGracefulStop(t *testing.T) {
	sink := newMemSink()
	c := &sleepClient{delay: 5 * time.Millisecond}
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantVUs, VUs: 2, Duration: 400 * time.Millisecond, GracefulStop: 50 * time.Millisecond})
	start := time.Now()
	NewEngine(sink).Run(context.Background(), []Plan{{Scenario: s, Client: c}})
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("run ended after %v, before the scenario's 400ms", el)
	}
	if sink.canceled != 0 || sink.results < 80 || sink.results > 170 {
		t.Errorf("results=%d canceled=%d: want ~160 finished, none canceled", sink.results, sink.canceled)
	}
}

// sliceSource replays fixed arrivals.
type sliceSource struct {
	i    int
	offs []time.Duration
}

func (s *sliceSource) Next(req *gonogo.Request) (time.Duration, bool) {
	if s.i >= len(s.offs) {
		return 0, false
	}
	s.i++
	req.Row, req.InputTokens, req.OutputTokens = int64(s.i), 10*s.i, s.i
	req.Tags = map[string]string{"segment": "s" + string(rune('0'+s.i)), "phase": "recorded"}
	return s.offs[s.i-1], true
}

// recordingClient keeps a copy of every request it is asked to send.
type recordingClient struct {
	mu   sync.Mutex
	reqs []gonogo.Request
}

func (c *recordingClient) Do(_ context.Context, req *gonogo.Request, res *gonogo.Result) {
	c.mu.Lock()
	c.reqs = append(c.reqs, *req)
	c.mu.Unlock()
	res.Status, res.Done = 200, time.Now()
}

func TestEngineSourcePayloadAndTags(t *testing.T) {
	c := &recordingClient{}
	s := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 1, Duration: time.Hour, Tags: map[string]string{"phase": "scenario", "team": "x"}})
	src := &sliceSource{offs: []time.Duration{0, 30 * time.Millisecond, 60 * time.Millisecond}}
	start := time.Now()
	NewEngine(newMemSink()).Run(context.Background(), []Plan{{Scenario: s, Client: c, Source: src}})
	if el := time.Since(start); el > time.Second {
		t.Fatalf("run took %v: the source, not the scenario's 1 h schedule, ends it", el)
	}
	if len(c.reqs) != 3 {
		t.Fatalf("got %d requests, want 3", len(c.reqs))
	}
	for _, r := range c.reqs {
		i := int(r.Row)
		if r.InputTokens != 10*i || r.OutputTokens != i || r.Tags["team"] != "x" || r.Tags["phase"] != "recorded" || r.Tags["segment"] == "" {
			t.Errorf("request %+v: payload or merged tags wrong", r)
		}
		if off := r.Intended.Sub(c.reqs[0].Intended); absDur(off-src.offs[i-1]) > time.Microsecond {
			t.Errorf("row %d intended at +%v, want +%v", i, off, src.offs[i-1])
		}
	}
}

// Workers must stop whichever of the hand-off and the queue closes last;
// once a worker could block on two nil channels forever (found by
// BenchmarkEngineArrivals). Many short saturated runs must all end.
func TestEngineQueueWorkersAlwaysStop(t *testing.T) {
	c := &sleepClient{delay: 0}
	for i := 0; i < 200; i++ {
		s := mustValid(t, &Scenario{Name: "a", Executor: ConstantArrivalRate, Rate: 1e6, Duration: 2 * time.Millisecond,
			MaxVUs: 4, PreAllocatedVUs: 2, Saturation: SaturationQueue, MaxQueue: 64})
		done := make(chan struct{})
		go func() {
			NewEngine(newMemSink(), WithLead(0)).Run(context.Background(), []Plan{{Scenario: s, Client: c}})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d never ended: a worker is stuck", i)
		}
	}
}

// warmClient is a sleepClient that records its warm-up.
type warmClient struct {
	sleepClient
	mu      sync.Mutex
	conns   []int
	at      time.Time
	firstDo time.Time
}

func (c *warmClient) Warm(_ context.Context, conns int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns = append(c.conns, conns)
	c.at = time.Now()
	return nil
}

func (c *warmClient) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	c.mu.Lock()
	if c.firstDo.IsZero() {
		c.firstDo = time.Now()
	}
	c.mu.Unlock()
	c.sleepClient.Do(ctx, req, res)
}

var _ Warmer = (*warmClient)(nil)

// An open-model scenario's client is warmed once, before time zero, with
// warmConns connections; a closed-model scenario's is not.
func TestEngineWarmsOpenModelClients(t *testing.T) {
	open := &warmClient{}
	closed := &warmClient{}
	eng := NewEngine(newMemSink())
	eng.Run(context.Background(), []Plan{
		{Scenario: mustValid(t, &Scenario{Name: "open", Executor: ConstantArrivalRate, Rate: 5000, Duration: 20 * time.Millisecond}), Client: open},
		{Scenario: mustValid(t, &Scenario{Name: "closed", Executor: SharedIterations, VUs: 2, Iterations: 4}), Client: closed},
	})
	if len(open.conns) != 1 || open.conns[0] != 100 {
		t.Errorf("open-model client warmed with %v, want [100] (20 ms of 5000/s)", open.conns)
	}
	if !open.at.Before(eng.Start()) || open.firstDo.Before(eng.Start()) {
		t.Errorf("warmed at %v, first request at %v: want both around time zero %v, warm-up first", open.at, open.firstDo, eng.Start())
	}
	if len(closed.conns) != 0 {
		t.Errorf("closed-model client warmed with %v, want none", closed.conns)
	}
}

func TestWarmConns(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Scenario
		want int
	}{
		{"20 ms of the rate", Scenario{Executor: ConstantArrivalRate, Rate: 25000, Duration: time.Second}, 500},
		{"at least the preallocated VUs", Scenario{Executor: ConstantArrivalRate, Rate: 100, Duration: time.Second, PreAllocatedVUs: 30}, 30},
		{"at most maxVUs", Scenario{Executor: ConstantArrivalRate, Rate: 1e6, Duration: time.Second, MaxVUs: 700}, 700},
		{"rate per minute", Scenario{Executor: ConstantArrivalRate, Rate: 1.2e6, TimeUnit: time.Minute, Duration: time.Second}, 400},
		{"peak of a ramp", Scenario{Executor: RampingArrivalRate, StartRate: 10, Stages: []Stage{{Duration: time.Second, Target: 20000}, {Duration: time.Second, Target: 0}}}, 400},
		{"recorded arrivals: preallocated VUs", Scenario{Executor: RecordedArrivals, PreAllocatedVUs: 8}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			if s.Executor != RecordedArrivals {
				mustValid(t, &s)
			}
			if got := s.warmConns(); got != tc.want {
				t.Errorf("warmConns = %d, want %d", got, tc.want)
			}
		})
	}
}
