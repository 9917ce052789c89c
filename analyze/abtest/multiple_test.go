package abtest

import (
	"errors"
	"math"
	"testing"

	"github.com/gonogo-dev/gonogo/internal/input"
)

func TestAdjustAgainstStatsmodels(t *testing.T) {
	for _, c := range loadReference(t).Multiple {
		for _, m := range []struct {
			c    Correction
			want []float64
		}{{Holm, c.Holm}, {BH, c.BH}, {NoCorrection, c.P}} {
			got, err := Adjust(c.P, m.c)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				near(t, string(m.c), got[i], m.want[i], 1e-14)
			}
		}
	}
	for _, p := range [][]float64{{0.1, -0.1}, {math.NaN()}, {1.5}} {
		if _, err := Adjust(p, Holm); !errors.Is(err, input.ErrInput) {
			t.Errorf("Adjust(%v) err = %v, want an input error", p, err)
		}
	}
	if _, err := Adjust([]float64{0.1}, "sidak"); !errors.Is(err, input.ErrInput) {
		t.Errorf("unknown correction: err = %v", err)
	}
	if got, err := Adjust(nil, Holm); err != nil || len(got) != 0 {
		t.Errorf("Adjust(nil) = %v, %v", got, err)
	}
}
