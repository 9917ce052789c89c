package scenarios

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	chk "github.com/gonogo-dev/gonogo/scenarios/checks"
)

// evenClient fails (HTTP 500) requests with an even ID and shows an
// observer a header naming the parity.
type evenClient struct{}

func (evenClient) Do(ctx context.Context, req *gonogo.Request, res *gonogo.Result) {
	res.Status = 200
	if req.ID%2 == 0 {
		res.Status, res.Class, res.Err = 500, gonogo.ErrHTTP5xx, "HTTP 500"
	}
	res.Done = time.Now()
}

func (c evenClient) observe(ctx context.Context, req *gonogo.Request, res *gonogo.Result, st *chk.State) {
	parity := "odd"
	if req.ID%2 == 0 {
		parity = "even"
	}
	st.Header([]byte("X-Parity"), []byte(parity))
	c.Do(ctx, req, res)
}

// checkSink counts results and check failures.
type checkSink struct {
	memSink
	cmu      sync.Mutex
	checked  int
	failures map[string]int
	failedOK int // requests that failed a check but not as requests
}

func (s *checkSink) RecordChecked(res *gonogo.Result, set *chk.Set, failed uint64) {
	s.cmu.Lock()
	s.checked++
	for i, name := range set.Names() {
		if failed&(1<<i) != 0 {
			s.failures[name]++
		}
	}
	if failed != 0 && !res.Failed() {
		s.failedOK++
	}
	s.cmu.Unlock()
	s.Record(res)
}

var _ CheckSink = (*checkSink)(nil)

func TestEngineJudgesChecks(t *testing.T) {
	set, err := chk.NewSet([]chk.Spec{
		{Name: "ok", Status: "2xx"},
		{Name: "odd", Header: "X-Parity == odd"},
		{Name: "tiny", Length: "bytes < 1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := mustValid(t, &Scenario{Name: "s", Executor: SharedIterations, VUs: 2, Iterations: 40, Warmup: 50 * time.Millisecond})
	for _, observe := range []bool{true, false} {
		sink := &checkSink{memSink: *newMemSink(), failures: map[string]int{}}
		p := Plan{Scenario: s, Client: evenClient{}, Checks: set}
		if observe {
			p.Observe = evenClient{}.observe
		}
		e := NewEngine(sink, WithLead(time.Millisecond))
		e.Run(context.Background(), []Plan{p})
		if sink.results != 40 || sink.checked != 40 {
			t.Fatalf("observe %v: %d results, %d judged, want 40 and 40 (warm-ups are neither)", observe, sink.results, sink.checked)
		}
		// IDs count warm-up requests too: parity is the client's truth.
		even := 0
		for id := range sink.ids {
			if id%2 == 0 {
				even++
			}
		}
		wantOdd := even // without an observer the header is never seen
		if !observe {
			wantOdd = 40
		}
		if sink.failures["ok"] != even || sink.failures["odd"] != wantOdd || sink.failures["tiny"] != 0 {
			t.Errorf("observe %v: failures %v, want ok %d, odd %d, tiny 0", observe, sink.failures, even, wantOdd)
		}
		// A check never fails a request: the failed requests are exactly the
		// even ones, whatever the checks said.
		if !observe && sink.failedOK != 40-even {
			t.Errorf("%d successful requests failed a check, want %d", sink.failedOK, 40-even)
		}
	}
}

// TestEngineWithoutCheckSink records every result through Record when the
// sink does not count checks.
func TestEngineWithoutCheckSink(t *testing.T) {
	set, err := chk.NewSet([]chk.Spec{{Name: "ok", Status: "2xx"}})
	if err != nil {
		t.Fatal(err)
	}
	s := mustValid(t, &Scenario{Name: "s", Executor: SharedIterations, VUs: 1, Iterations: 5})
	sink := newMemSink()
	NewEngine(sink, WithLead(time.Millisecond)).Run(context.Background(), []Plan{{Scenario: s, Client: evenClient{}, Checks: set}})
	if sink.results != 5 {
		t.Fatalf("%d results, want 5", sink.results)
	}
}
