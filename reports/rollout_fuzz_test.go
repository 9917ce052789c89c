package reports

import (
	"math"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/analyze"
)

// FuzzRolloutHistories: whatever a journal's rollout events hold (weights
// that are not numbers, phases and transitions of any name, times before,
// inside and after the run), the histories keep their transitions in time
// order, their weights are percentages, the step series stay on the axis
// in x order, and the section renders.
func FuzzRolloutHistories(f *testing.F) {
	f.Add("v1", "75", "v2", "25", "flip", "progressing", 2.0, 38.0, "100")
	f.Add("v1", "NaN", "v2", "+Inf", "rollback", "rolled-back", -5.0, 90.0, "-1")
	f.Add("", "1e3", "weight.", "0x10", "", "", 0.0, 0.0, "")
	f.Add("blue", "0.001", "green", "99.999", "promote", "promoted", 61.0, -61.0, "50")
	f.Fuzz(func(t *testing.T, b1, w1, b2, w2, transition, phase string, s1, s2 float64, w3 string) {
		if math.IsNaN(s1) || math.IsNaN(s2) || math.Abs(s1) > 1e6 || math.Abs(s2) > 1e6 {
			t.Skip()
		}
		evs := []gonogo.Event{
			rolloutEvent("r", s1, "step", "start", "controller", "0", "progressing", "rollout started", b1, w1, b2, w2),
			rolloutEvent("r", s2, "flip", transition, "analysis", "1", phase, "changed", b1, w3, b2, w1),
			rolloutEvent(b2, s2, "rollback", transition, "alice", "x", phase, "", b2, w2),
		}
		ax := newTimeAxis(htmlT0, 60)
		for _, h := range rolloutHistories(evs) {
			for i, tr := range h.transitions {
				if i > 0 && tr.event.Time.Before(h.transitions[i-1].event.Time) {
					t.Fatalf("rollout %q: transitions out of order", h.name)
				}
				for b, w := range tr.weightPct {
					if !(w >= 0 && w <= 100) {
						t.Fatalf("weight of %q is %v", b, w)
					}
				}
			}
			for _, b := range h.backends {
				s := h.weightSeries(b, ax)
				for i, p := range s {
					if p.X < 0 || p.X > ax.max || i > 0 && p.X < s[i-1].X {
						t.Fatalf("%s: point %d at x %v of %v", b, i, p.X, s)
					}
				}
			}
			if text, _, _ := h.outcome(); text == "" {
				t.Fatalf("rollout %q has no outcome", h.name)
			}
		}
		// With the run's axis, and with none (the transitions' span).
		run := &Run{Started: htmlT0, Ended: htmlT0.Add(60 * time.Second)}
		for _, in := range []Input{{Run: run, Data: &analyze.RunData{Events: evs}}, {Data: &analyze.RunData{Events: evs}}} {
			if _, err := newHTMLRollouts(in); err != nil {
				t.Fatal(err)
			}
		}
	})
}
