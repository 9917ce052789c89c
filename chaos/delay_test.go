package chaos

import (
	"math"
	"testing"
	"time"
)

// TestDelaySample: over a grid of uniform numbers, each distribution's
// samples have its mean and spread.
func TestDelaySample(t *testing.T) {
	ms := func(v float64) Duration { return Duration(v * float64(time.Millisecond)) }
	for _, tc := range []struct {
		d             Delay
		mean, sd, tol float64 // ms
		lo, hi        float64 // ms, the range every sample stays in
	}{
		{Delay{Mean: ms(200)}, 200, 0, 0.01, 200, 200},
		{Delay{Mean: ms(200), Variation: ms(50)}, 200, 50 / math.Sqrt(3), 0.5, 150, 250},
		{Delay{Mean: ms(200), Variation: ms(30), Distribution: DistNormal}, 200, 30, 1, 0, 1e9},
		{Delay{Mean: ms(100), Distribution: DistExponential}, 100, 100, 3, 0, 1e9},
	} {
		if _, msg := tc.d.Check(time.Hour); msg != "" {
			t.Fatalf("%+v: %s", tc.d, msg)
		}
		const n = 400
		var sum, sq float64
		for i := range n {
			for j := range n {
				x := float64(tc.d.Sample((float64(i)+0.5)/n, (float64(j)+0.5)/n)) / float64(time.Millisecond)
				if x < tc.lo-1e-9 || x > tc.hi+1e-9 {
					t.Fatalf("%s: sample %v ms outside %v..%v", tc.d.Dist(), x, tc.lo, tc.hi)
				}
				sum += x
				sq += x * x
			}
		}
		mean := sum / (n * n)
		sd := math.Sqrt(sq/(n*n) - mean*mean)
		if math.Abs(mean-tc.mean) > tc.tol || math.Abs(sd-tc.sd) > tc.tol*2 {
			t.Errorf("%s: mean %.3f sd %.3f ms, want %.3f and %.3f", tc.d.Dist(), mean, sd, tc.mean, tc.sd)
		}
	}
	for _, bad := range []Delay{{}, {Mean: ms(10), Variation: ms(20)}, {Mean: ms(10), Variation: ms(1), Distribution: DistExponential},
		{Mean: ms(10), Variation: ms(1), Distribution: DistConstant}, {Mean: ms(10), Distribution: "pareto"}, {Mean: Duration(2 * time.Hour)}} {
		if _, msg := bad.Check(time.Hour); msg == "" {
			t.Errorf("%+v passed its check", bad)
		}
	}
}
