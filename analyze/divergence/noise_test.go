package divergence

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gonogo-dev/gonogo"
)

func TestCorrectShare(t *testing.T) {
	for _, c := range []struct {
		name             string
		raw, noise, want float64
	}{
		{"no noise", 0.3, 0, 0.3},
		{"mismatch model", 1 - 0.95*0.9, 0.1, 0.05}, // raw = 1 − (1−d)(1−n)
		{"same as noise", 0.1, 0.1, 0},
		{"below noise clips to 0", 0.05, 0.1, 0},
		{"everything differs", 1, 0.2, 1},
		{"noise everywhere", 1, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := correctShare(c.raw, c.noise); !divNear(got, c.want, 1e-12) {
				t.Errorf("correctShare(%v, %v) = %v, want %v", c.raw, c.noise, got, c.want)
			}
		})
	}
	for _, c := range []struct {
		metric           string
		raw, noise, want float64
	}{
		{"abs_diff_mean", 0.3, 0.1, 0.2},                // additive
		{"flip_rate", 0.05*0.9 + 0.95*0.1, 0.1, 0.05},   // raw = d(1−n) + (1−d)n
		{"flip_rate", 0.6, 0.5, 0},                      // coin tosses
		{"text_mismatch_rate", 1 - 0.95*0.9, 0.1, 0.05}, // correctShare
		{"edit_distance_mean", 1 - 0.95*0.9, 0.1, 0.05}, // similarities multiply
	} {
		if got := correct(c.metric, c.raw, c.noise); !divNear(got, c.want, 1e-12) {
			t.Errorf("correct(%s, %v, %v) = %v, want %v", c.metric, c.raw, c.noise, got, c.want)
		}
	}
}

// TestMcNemarGreater compares with the binomial tail Σ_{k≥b} C(n,k)/2ⁿ
// computed exactly (Python's math.comb).
func TestMcNemarGreater(t *testing.T) {
	for _, c := range []struct {
		candOnly, noiseOnly int64
		want                float64
	}{
		{0, 3, 1}, {1, 0, 0.5}, {3, 1, 0.3125}, {10, 0, 0.0009765625}, {5, 5, 0.623046875},
		{20, 10, 0.04936857335269451}, {60, 40, 0.028443966820490395},
	} {
		if got := mcNemarGreater(c.candOnly, c.noiseOnly); !divNear(got, c.want, 1e-12) {
			t.Errorf("mcNemarGreater(%d, %d) = %.15g, want %.15g", c.candOnly, c.noiseOnly, got, c.want)
		}
	}
}

// segPairs builds n text pairs of region; the candidate differs from the
// primary where cand(i) and the secondary where noise(i).
func segPairs(region string, n int, cand, noise func(int) bool) []*gonogo.Pair {
	out := make([]*gonogo.Pair, n)
	pick := func(differs bool) string {
		if differs {
			return "b"
		}
		return "a"
	}
	for i := range out {
		out[i] = mkPair(uint64(i+1), map[string]string{"region": region},
			ex("primary", "a"), ex("secondary", pick(noise(i))), ex("candidate", pick(cand(i))))
	}
	return out
}

// A segment is flagged only when the McNemar test says it diverges more
// than its noise, and never below SegmentMinPairs.
func TestSegmentFlagging(t *testing.T) {
	never := func(int) bool { return false }
	fiveIn100 := func(i int) bool { return i%100 >= 50 && i%100 < 55 }
	var pairs []*gonogo.Pair
	pairs = append(pairs, segPairs("tiny", 3, func(i int) bool { return i == 0 }, never)...)
	pairs = append(pairs, segPairs("small", 20, func(int) bool { return true }, never)...)
	pairs = append(pairs, segPairs("excess", 400, func(i int) bool { return i%100 < 15 }, fiveIn100)...)
	pairs = append(pairs, segPairs("noise-only", 400, func(i int) bool { return i%100 < 5 }, fiveIn100)...)
	r := reportOf(t, Options{Segments: []string{"region"}}, pairs)
	c := r.Candidates[0]
	if c.SegmentsTested != 3 || !divNear(c.SegmentPThreshold, DefaultSegmentAlpha/3, 1e-12) {
		t.Errorf("tested %d at p < %v, want 3 (excess, noise-only and the input_tokens bucket) at %v", c.SegmentsTested, c.SegmentPThreshold, DefaultSegmentAlpha/3)
	}
	for _, tc := range []struct {
		region  string
		tested  bool
		flagged bool
	}{
		{"tiny", false, false},  // 1 of 3 diverged
		{"small", false, false}, // 20 of 20 diverged, but under SegmentMinPairs
		{"excess", true, true},  // 15 % against 5 % noise
		{"noise-only", true, false},
	} {
		t.Run(tc.region, func(t *testing.T) {
			s := segment(t, c, "region", tc.region)
			if (s.PValue != nil) != tc.tested || s.ExceedsNoise != tc.flagged {
				t.Fatalf("segment %+v: tested %v flagged %v, want %v and %v", s, s.PValue != nil, s.ExceedsNoise, tc.tested, tc.flagged)
			}
			if s.Paired != s.Compared {
				t.Errorf("paired %d, compared %d", s.Paired, s.Compared)
			}
		})
	}
	excess := segment(t, c, "region", "excess")
	if want := mcNemarGreater(60, 20); !divNear(*excess.PValue, want, 1e-6) || *excess.PValue > 1e-5 {
		t.Errorf("excess p-value %v, want %v", *excess.PValue, want)
	}
	// Without a secondary nothing is tested.
	for _, p := range pairs {
		p.Exchanges = []gonogo.Exchange{p.Exchanges[0], p.Exchanges[2]}
	}
	r = reportOf(t, Options{Segments: []string{"region"}}, pairs)
	for _, s := range r.Candidates[0].Segments {
		if s.PValue != nil || s.ExceedsNoise {
			t.Errorf("no secondary, yet segment %s=%s tested: %+v", s.Key, s.Value, s)
		}
	}
}

// TestNoiseCorrectionModel simulates the model the correction assumes: a
// primary, a secondary and a candidate whose answers each come out noisy
// (different) with probability nu, independently, the candidate also
// truly different on a share d of the pairs. The corrected text mismatch
// rate estimates d, and two copies of the same version give ≈ 0.
func TestNoiseCorrectionModel(t *testing.T) {
	const n = 20000
	for _, tc := range []struct{ d, nu float64 }{{0.05, 0.05}, {0.2, 0.1}, {0, 0.1}, {0.05, 0}} {
		t.Run(fmt.Sprintf("d=%v nu=%v", tc.d, tc.nu), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			out := func(base string, noisy bool) string {
				if noisy {
					return fmt.Sprintf("%s noise %d", base, rng.Int64())
				}
				return base
			}
			d := New(Options{Kind: OutputText})
			for i := range n {
				cand := "v1"
				if rng.Float64() < tc.d {
					cand = "v2"
				}
				d.Add(mkPair(uint64(i+1), nil,
					ex("primary", out("v1", rng.Float64() < tc.nu)),
					ex("secondary", out("v1", rng.Float64() < tc.nu)),
					ex("candidate", out(cand, rng.Float64() < tc.nu))))
			}
			h := headline(t, d.Report().Candidates[0], "text_mismatch_rate")
			t.Logf("raw %.4f noise %.4f corrected %.4f, truth %.4f", h.Raw, h.Noise, h.Corrected, tc.d)
			if !divNear(h.Corrected, tc.d, 0.01) {
				t.Errorf("corrected %.4f, truth %.4f ± 0.01 (raw %.4f, noise %.4f)", h.Corrected, tc.d, h.Raw, h.Noise)
			}
		})
	}
}
