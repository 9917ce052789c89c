package analyze

import (
	"math"
	"testing"
	"time"
)

// Two runs of the same server compare as the same (symmetry); a run 30 %
// slower with ten times the errors shows both as significant changes of
// about their true size, in the right direction.
func TestCompare(t *testing.T) {
	a := synthRun(t, "a", 4000, 20*time.Millisecond, 100, 1)
	same := synthRun(t, "same", 4000, 20*time.Millisecond, 100, 2)
	worse := synthRun(t, "worse", 4000, 26*time.Millisecond, 10, 3)

	c, err := Compare(a, same, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.A != "a" || c.B != "same" || len(c.Rows) != 6 {
		t.Fatalf("comparison %+v: want latency and latency_service (med, p99), errors, requests", c)
	}
	for _, r := range c.Rows {
		if r.Significant {
			t.Errorf("identical servers: %s %s significant: %s", r.Metric, r.Stat, r.Note)
		}
	}

	c, err = Compare(a, worse, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Rows {
		t.Logf("%s %s: %s", r.Metric, r.Stat, r.Note)
		switch {
		case r.Metric == MetricRequests:
			if r.Significant || r.PValue != nil {
				t.Errorf("throughput has no test: %+v", r)
			}
		case r.Metric == MetricErrors:
			if !r.Significant || math.Abs(r.A-0.01) > 0.001 || math.Abs(r.B-0.1) > 0.001 {
				t.Errorf("errors 1 %% → 10 %%: %+v", r)
			}
		default:
			// The median of base·(1+Exp(1)) scales with base: +30 %.
			if !r.Significant || r.ChangePct == nil || math.Abs(*r.ChangePct-30) > 6 || r.Note == "" {
				t.Errorf("%s %s: %+v, want a significant +30 %%", r.Metric, r.Stat, r)
			}
		}
	}
}
