package replay_test

import (
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/replay"
)

// tickClock gives offsets 0, step, 2·step, … n times.
type tickClock struct {
	step time.Duration
	n, i int
}

func (c *tickClock) Next(*gonogo.Request) (time.Duration, bool) {
	if c.i >= c.n {
		return 0, false
	}
	c.i++
	return time.Duration(c.i-1) * c.step, true
}

func TestPacedKeepsOrderAndEndsFirst(t *testing.T) {
	rows := []replay.Row{{Line: 2, InputTokens: 5}, {Line: 3, InputTokens: 6, Tags: map[string]string{"user": "a"}}, {Line: 4, InputTokens: 7}}
	for _, tc := range []struct {
		name  string
		ticks int
		want  int
	}{{"trace ends first", 10, 3}, {"clock ends first", 2, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			p := replay.NewPaced(&modesReader{rows: rows}, &tickClock{step: 10 * time.Millisecond, n: tc.ticks})
			var got []gonogo.Request
			for {
				var req gonogo.Request
				off, ok := p.Next(&req)
				if !ok {
					break
				}
				if want := time.Duration(len(got)) * 10 * time.Millisecond; off != want {
					t.Errorf("arrival %d at %v, want %v", len(got), off, want)
				}
				got = append(got, req)
			}
			if len(got) != tc.want || p.Err() != nil {
				t.Fatalf("%d arrivals (err %v), want %d", len(got), p.Err(), tc.want)
			}
			if got[0].Row != 2 || got[1].InputTokens != 6 || got[1].Tags["user"] != "a" {
				t.Errorf("payload %+v", got)
			}
		})
	}
}
