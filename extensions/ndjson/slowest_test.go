package ndjson

import (
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
)

// Slowest keeps the SlowestN slowest results of any order, slowest first,
// with their trace context; drops do not count.
func TestSlowest(t *testing.T) {
	for _, n := range []int{0, 3, SlowestN, 500} {
		w := New(io.Discard, time.Unix(0, 0))
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		var lat []float64
		for i := range n {
			ms := rng.IntN(100000)
			req := &gonogo.Request{ID: uint64(i), Intended: time.Unix(1, 0)}
			res := &gonogo.Result{Request: req, Sent: req.Intended, Done: req.Intended.Add(time.Duration(ms) * time.Millisecond)}
			res.TraceID[0], res.TraceID[15], res.SpanID[7] = 1, byte(i), 1
			w.Record(res)
			w.Drop(&gonogo.Request{ID: uint64(i), Intended: time.Unix(1, 0)})
			lat = append(lat, float64(ms))
		}
		slices.Sort(lat)
		slices.Reverse(lat)
		got := w.Slowest()
		if len(got) != min(n, SlowestN) {
			t.Fatalf("n=%d: %d slowest", n, len(got))
		}
		for i, s := range got {
			if s.LatencyMs != lat[i] || s.TraceID == "" || s.SpanID != "0000000000000001" {
				t.Errorf("n=%d: slowest[%d] = %v ms trace %q span %q, want %v ms with ids", n, i, s.LatencyMs, s.TraceID, s.SpanID, lat[i])
			}
		}
	}
}

// A result with a trace context writes trace_id, span_id and sampled; one
// without writes none.
func TestTraceFields(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf, time.Unix(0, 0))
	req := &gonogo.Request{ID: 1, Intended: time.Unix(1, 0)}
	res := &gonogo.Result{Request: req, TraceSampled: true}
	res.TraceID[0], res.SpanID[0] = 0xab, 0xcd
	w.Record(res)
	w.Record(&gonogo.Result{Request: req})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []Sample
	if err := Read(&buf, func(s *Sample) bool { got = append(got, *s); return true }); err != nil {
		t.Fatal(err)
	}
	if s := got[0]; s.TraceID != "ab000000000000000000000000000000" || s.SpanID != "cd00000000000000" || !s.Sampled {
		t.Errorf("traced sample %+v", s)
	}
	if s := got[1]; s.TraceID != "" || s.SpanID != "" || s.Sampled {
		t.Errorf("untraced sample %+v", s)
	}
}
