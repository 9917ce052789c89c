package replay_test

import (
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/replay"
)

// lastingClock is a tickClock that knows how long it lasts.
type lastingClock struct {
	tickClock
	total time.Duration
}

func (c *lastingClock) Duration() time.Duration { return c.total }

// A paced replay lasts its clock's duration while the trace lasts, and
// ends with its last arrival when the trace runs out first or the clock
// does not know its length.
func TestPacedDuration(t *testing.T) {
	step := 10 * time.Millisecond
	for _, tc := range []struct {
		name  string
		rows  int
		clock replay.Clock
		want  time.Duration
	}{
		{"the clock ends first", 10, &lastingClock{tickClock{step: step, n: 3}, time.Second}, time.Second},
		{"the trace ends first", 2, &lastingClock{tickClock{step: step, n: 5}, time.Second}, step},
		{"a clock without a length", 10, &tickClock{step: step, n: 3}, 2 * step},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := replay.NewPaced(&modesReader{rows: modesRows(make([]float64, tc.rows)...)}, tc.clock)
			for {
				var req gonogo.Request
				if _, ok := p.Next(&req); !ok {
					break
				}
			}
			if got := p.Duration(); got != tc.want {
				t.Errorf("Duration() = %v, want %v", got, tc.want)
			}
		})
	}
}
