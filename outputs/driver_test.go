package outputs

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeOutput records what it is pushed; each push takes delay (or until
// its context ends when hang) and fails when fail says so.
type fakeOutput struct {
	delay  time.Duration
	hang   bool
	deaf   bool // ignores its context
	fail   func(s *Snapshot) bool
	mu     sync.Mutex
	got    []*Snapshot
	closed atomic.Bool
}

var _ Output = (*fakeOutput)(nil)

func (f *fakeOutput) Push(ctx context.Context, s *Snapshot) error {
	switch {
	case f.deaf:
		time.Sleep(f.delay)
	case f.hang:
		<-ctx.Done()
		return ctx.Err()
	case f.delay > 0:
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.fail != nil && f.fail(s) {
		return errors.New("receiver says no")
	}
	f.mu.Lock()
	f.got = append(f.got, s)
	f.mu.Unlock()
	return nil
}

func (f *fakeOutput) Close() error { f.closed.Store(true); return nil }

func (f *fakeOutput) String() string { return "fake" }

func (f *fakeOutput) pushed() []*Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Snapshot(nil), f.got...)
}

// counter returns a snapshot function whose snapshots count up, and how
// many it made.
func counter() (func(time.Time) *Snapshot, *atomic.Int64) {
	var n atomic.Int64
	return func(now time.Time) *Snapshot {
		return &Snapshot{Time: now, Series: []Series{{Metric: Requests, Value: float64(n.Add(1))}}}
	}, &n
}

// TestDriverPushes checks that every output gets the snapshots in order
// and the final one last.
func TestDriverPushes(t *testing.T) {
	snap, made := counter()
	a, b := &fakeOutput{}, &fakeOutput{}
	d := Start([]Output{a, b}, 20*time.Millisecond, snap)
	time.Sleep(150 * time.Millisecond)
	final := &Snapshot{Final: &Final{Dir: "d"}}
	stats := d.Finish(final, time.Second)
	for i, o := range []*fakeOutput{a, b} {
		got := o.pushed()
		if len(got) < 3 || got[len(got)-1] != final {
			t.Fatalf("output %d got %d snapshots, the last final=%v; want ≥ 3 and the final one last", i, len(got), len(got) > 0 && got[len(got)-1] == final)
		}
		for j := 1; j < len(got)-1; j++ {
			if got[j].Series[0].Value <= got[j-1].Series[0].Value {
				t.Errorf("output %d: snapshot %d out of order", i, j)
			}
		}
		if !o.closed.Load() {
			t.Errorf("output %d not closed", i)
		}
		if s := stats[i]; s.Lost() || s.Sent != len(got) || !s.FinalSent {
			t.Errorf("stats %+v, want %d sent, the final one included", s, len(got))
		}
	}
	if made.Load() < 3 {
		t.Errorf("%d snapshots made in 150 ms at 20 ms", made.Load())
	}
	if again := d.Finish(nil, 0); len(again) != 2 {
		t.Errorf("a second Finish returned %d stats", len(again))
	}
}

// TestDriverSlowOutput checks that an output slower than the interval
// holds up neither the snapshots nor another output: its pending snapshot
// is replaced and counted as skipped, and it still gets the final one.
func TestDriverSlowOutput(t *testing.T) {
	snap, made := counter()
	slow, fast := &fakeOutput{delay: 120 * time.Millisecond}, &fakeOutput{}
	d := Start([]Output{slow, fast}, 10*time.Millisecond, snap)
	time.Sleep(300 * time.Millisecond)
	final := &Snapshot{Final: &Final{}}
	stats := d.Finish(final, 2*time.Second)
	if n := made.Load(); n < 5 { // blocked by the slow output, it would make 3
		t.Errorf("%d snapshots in 300 ms at 10 ms: the slow output held the driver up", n)
	}
	if len(fast.pushed()) < 5 {
		t.Errorf("the fast output got %d snapshots, want ≥ 5", len(fast.pushed()))
	}
	s := stats[0]
	if s.Skipped == 0 || !s.FinalSent || s.Failed != 0 {
		t.Errorf("slow output stats %+v, want snapshots skipped and the final one sent", s)
	}
	if got := slow.pushed(); got[len(got)-1] != final {
		t.Error("the slow output's last snapshot is not the final one")
	}
}

// TestDriverFailingOutput checks that failed pushes are counted and said.
func TestDriverFailingOutput(t *testing.T) {
	snap, _ := counter()
	bad := &fakeOutput{fail: func(*Snapshot) bool { return true }}
	d := Start([]Output{bad}, 10*time.Millisecond, snap)
	time.Sleep(60 * time.Millisecond)
	stats := d.Finish(&Snapshot{Final: &Final{}}, time.Second)
	s := stats[0]
	if s.Failed < 2 || s.FinalSent || s.Sent != 0 || !s.Lost() || s.LastError != "receiver says no" {
		t.Errorf("stats %+v, want every push failed", s)
	}
	var buf bytes.Buffer
	WriteStats(&buf, stats)
	if !strings.Contains(buf.String(), "warning: output fake: 0 pushes sent") || !strings.Contains(buf.String(), "did NOT arrive") ||
		!strings.Contains(buf.String(), "receiver says no") {
		t.Errorf("WriteStats said %q", buf.String())
	}
}

// TestDriverFinishBounded checks that Finish returns in time when an
// output hangs, and even when it ignores its context.
func TestDriverFinishBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  *fakeOutput
	}{
		{"hangs until its deadline", &fakeOutput{hang: true}},
		{"ignores its context", &fakeOutput{deaf: true, delay: 10 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, _ := counter()
			d := Start([]Output{tc.out}, time.Hour, snap)
			start := time.Now()
			stats := d.Finish(&Snapshot{Final: &Final{}}, 200*time.Millisecond)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Finish took %s with a 200 ms timeout", took)
			}
			if !stats[0].Lost() {
				t.Errorf("stats %+v, want the final snapshot lost", stats[0])
			}
		})
	}
}

// TestDriverStopWithoutFinal checks Finish(nil): no push, outputs closed.
func TestDriverStopWithoutFinal(t *testing.T) {
	snap, _ := counter()
	o := &fakeOutput{}
	d := Start([]Output{o}, time.Hour, snap)
	stats := d.Finish(nil, time.Second)
	if len(o.pushed()) != 0 || !o.closed.Load() || stats[0].Sent != 0 {
		t.Errorf("pushed %d, closed %v, stats %+v: want nothing pushed and the output closed", len(o.pushed()), o.closed.Load(), stats[0])
	}
}
