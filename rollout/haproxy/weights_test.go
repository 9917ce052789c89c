package haproxy

import (
	"errors"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/gonogo-dev/gonogo/rollout/route"
)

func TestWeights(t *testing.T) {
	for _, tc := range []struct {
		name    string
		buckets map[string]int
		want    map[string]int
	}{
		{"all to one", map[string]int{"stable": route.Buckets, "canary": 0}, map[string]int{"stable": 1, "canary": 0}},
		{"90/10", map[string]int{"a": 90_000, "b": 10_000}, map[string]int{"a": 9, "b": 1}},
		{"canary 5 %", map[string]int{"stable": 95_000, "canary": 5_000}, map[string]int{"stable": 19, "canary": 1}},
		{"canary 1 %", map[string]int{"stable": 99_000, "canary": 1_000}, map[string]int{"stable": 99, "canary": 1}},
		{"half", map[string]int{"a": 50_000, "b": 50_000}, map[string]int{"a": 1, "b": 1}},
		{"three thirds", map[string]int{"a": 33_334, "b": 33_333, "c": 33_333}, map[string]int{"a": 1, "b": 1, "c": 1}},
		{"tiny canary rounds up to weight 1", map[string]int{"stable": 99_999, "canary": 1}, map[string]int{"stable": 256, "canary": 1}},
		{"0.3 %", map[string]int{"stable": 99_700, "canary": 300}, map[string]int{"stable": 255, "canary": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Weights(tc.buckets)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("Weights(%v) = %v, want %v", tc.buckets, got, tc.want)
			}
		})
	}
}

func TestWeightsBadBuckets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		buckets map[string]int
	}{
		{"empty", map[string]int{}},
		{"negative", map[string]int{"a": -1, "b": route.Buckets + 1}},
		{"over", map[string]int{"a": route.Buckets + 1}},
		{"short", map[string]int{"a": 90_000, "b": 9_999}},
		{"long", map[string]int{"a": 90_000, "b": 10_001}},
		{"all zero", map[string]int{"a": 0, "b": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w, err := Weights(tc.buckets); !errors.Is(err, ErrBuckets) {
				t.Errorf("Weights(%v) = %v, %v; want ErrBuckets", tc.buckets, w, err)
			}
		})
	}
}

// TestWeightsResolution checks the bounds Weights documents over random
// splits of 2 to 6 servers, skewed towards the small canary shares and
// near-complete promotions that rollouts use.
func TestWeightsResolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 8))
	names := []string{"a", "b", "c", "d", "e", "f"}
	for n := 2; n <= len(names); n++ {
		var worstAll, worstLarge float64
		for range 3000 {
			buckets := map[string]int{}
			left := route.Buckets
			for _, name := range names[:n-1] {
				var v int
				switch rng.IntN(3) {
				case 0:
					v = rng.IntN(left + 1)
				case 1:
					v = rng.IntN(min(left, 600) + 1)
				default:
					v = left - rng.IntN(min(left, 600)+1)
				}
				buckets[name] = v
				left -= v
			}
			buckets[names[n-1]] = left
			w, err := Weights(buckets)
			if err != nil {
				t.Fatal(err)
			}
			total, large := 0, true
			for name, b := range buckets {
				switch {
				case w[name] < 0 || w[name] > MaxWeight:
					t.Fatalf("Weights(%v)[%s] = %d, want 0..%d", buckets, name, w[name], MaxWeight)
				case (b == 0) != (w[name] == 0):
					t.Fatalf("Weights(%v)[%s] = %d for %d buckets: zero must map to zero and only zero", buckets, name, w[name], b)
				}
				total += w[name]
				large = large && (b == 0 || b*MaxWeight >= route.Buckets)
			}
			for name, b := range buckets {
				e := float64(w[name])/float64(total) - float64(b)/route.Buckets
				e = max(e, -e)
				worstAll = max(worstAll, e)
				if large {
					worstLarge = max(worstLarge, e)
				}
			}
		}
		if worstLarge > 1.0/512 {
			t.Errorf("%d servers, every share ≥ 1/256: worst share error %.5f, want ≤ 1/512", n, worstLarge)
		}
		if n == 2 && worstAll > 1.0/257 {
			t.Errorf("2 servers: worst share error %.5f, want ≤ 1/257", worstAll)
		}
	}
}

func TestPlan(t *testing.T) {
	got := plan(map[string]int{"a": 9, "b": 1, "c": 0, "d": 5}, map[string]int{"a": 0, "b": 1, "c": 3, "d": 7})
	want := []change{{"c", 3}, {"d", 7}, {"a", 0}}
	if len(got) != len(want) {
		t.Fatalf("plan = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("plan = %v, want %v", got, want)
		}
	}
}

// TestPlanNeverEmpties applies plans between random weight sets one
// command at a time, as HAProxy does, and checks the documented order:
// raises first, each server changed once towards its target, and the
// backend's total weight never 0 on the way.
func TestPlanNeverEmpties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	names := []string{"a", "b", "c", "d"}
	random := func() map[string]int {
		for {
			m, total := map[string]int{}, 0
			for _, n := range names {
				if rng.IntN(2) == 0 {
					m[n] = rng.IntN(MaxWeight + 1)
				}
				total += m[n]
			}
			if total > 0 {
				return m
			}
		}
	}
	for range 2000 {
		cur, want := random(), random()
		steps := plan(cur, want)
		live := maps.Clone(cur)
		lowering := false
		for _, c := range steps {
			old := live[c.server]
			switch {
			case c.weight == old:
				t.Fatalf("plan(%v, %v) sets %s to the weight it has", cur, want, c.server)
			case c.weight != want[c.server]:
				t.Fatalf("plan(%v, %v) sets %s to %d, not its target", cur, want, c.server, c.weight)
			case c.weight < old:
				lowering = true
			case lowering:
				t.Fatalf("plan(%v, %v) raises %s after lowering", cur, want, c.server)
			}
			live[c.server] = c.weight
			total := 0
			for _, w := range live {
				total += w
			}
			if total == 0 {
				t.Fatalf("plan(%v, %v): total weight 0 after %v", cur, want, c)
			}
		}
		for name, w := range want {
			if live[name] != w {
				t.Fatalf("plan(%v, %v) ends with %v", cur, want, live)
			}
		}
	}
}
