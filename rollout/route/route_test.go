package route

import (
	"math"
	"strconv"
	"testing"
)

func split(t *testing.T, canaryPct float64) *Split {
	t.Helper()
	c := int(math.Round(canaryPct * Buckets / 100))
	s, err := NewSplit([]string{"canary", "stable"}, []int{c, Buckets - c})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The target: across 5 → 25 → 50 → 25 %, no user changes backend
// except in the direction of the change, and the realised split is within
// 0.5 pp of the configured one over 100 000 users.
func TestStickyIsMonotoneAcrossWeightChanges(t *testing.T) {
	const users = 100_000
	const salt = "rollout-salt"
	steps := []float64{5, 25, 50, 25, 5}
	prev := make([]int, users)
	for si, pct := range steps {
		s := split(t, pct)
		canary := 0
		for u := range users {
			got := s.Sticky(salt, "user-"+strconv.Itoa(u))
			if got == 0 {
				canary++
			}
			if si > 0 && got != prev[u] {
				up := pct > steps[si-1]
				// Raising moves stable (1) → canary (0) only; lowering the reverse.
				if up && !(prev[u] == 1 && got == 0) || !up && !(prev[u] == 0 && got == 1) {
					t.Fatalf("step %d (%.0f%% → %.0f%%): user %d moved %s → %s", si, steps[si-1], pct, u, s.Name(prev[u]), s.Name(got))
				}
			}
			prev[u] = got
		}
		realised := 100 * float64(canary) / users
		if math.Abs(realised-pct) > 0.5 {
			t.Errorf("at %.0f %%: realised %.2f %% of users on the canary", pct, realised)
		}
	}
}

func TestStickyDependsOnSalt(t *testing.T) {
	s := split(t, 50)
	same := 0
	for u := range 10_000 {
		k := "u" + strconv.Itoa(u)
		if s.Sticky("a", k) == s.Sticky("b", k) {
			same++
		}
	}
	// Independent halves agree half the time.
	if same < 4700 || same > 5300 {
		t.Fatalf("two salts agree on %d of 10 000 users, want about 5 000", same)
	}
	if s.Sticky("a", "x") != s.Sticky("a", "x") {
		t.Fatal("the same key under the same salt moved")
	}
}

func TestBucketIsUniform(t *testing.T) {
	const n, bins = 200_000, 10
	var count [bins]int
	for i := range n {
		count[Bucket("s", strconv.Itoa(i))*bins/Buckets]++
	}
	// Chi-square with 9 degrees of freedom: 27.9 is its 0.999 quantile.
	chi := 0.0
	for _, c := range count {
		d := float64(c) - n/bins
		chi += d * d / (n / bins)
	}
	if chi > 27.9 {
		t.Fatalf("bucket counts %v: chi-square %.1f", count, chi)
	}
}

func TestRoundRobinIsExactAndSmooth(t *testing.T) {
	s, err := NewSplit([]string{"a", "b", "c"}, []int{20_000, 30_000, 50_000})
	if err != nil {
		t.Fatal(err)
	}
	var n [3]int
	run := 0
	for range 1000 {
		i := s.RoundRobin()
		n[i]++
		if i == 2 {
			run++
		} else {
			run = 0
		}
		if run > 2 {
			t.Fatal("c picked three times in a row at 50 %: not smooth")
		}
	}
	if n != [3]int{200, 300, 500} {
		t.Fatalf("1000 picks gave %v, want [200 300 500]", n)
	}
}

func TestPickEdges(t *testing.T) {
	s := split(t, 0)
	for _, b := range []int{0, 1, Buckets - 1} {
		if s.Pick(b) != 1 {
			t.Fatalf("weight 0 canary picked for bucket %d", b)
		}
	}
	s = split(t, 100)
	if s.Pick(Buckets-1) != 0 {
		t.Fatal("a canary at 100 % did not own the last bucket")
	}
	if _, err := NewSplit([]string{"a", "b"}, []int{1, 2}); err == nil {
		t.Fatal("weights not summing to Buckets accepted")
	}
	if _, err := NewSplit([]string{"a", "b"}, []int{-1, Buckets + 1}); err == nil {
		t.Fatal("a negative weight accepted")
	}
}

func BenchmarkSticky(b *testing.B) {
	s, _ := NewSplit([]string{"canary", "stable"}, []int{25_000, 75_000})
	for i := 0; b.Loop(); i++ {
		s.Sticky("salt", "user-12345")
	}
}
