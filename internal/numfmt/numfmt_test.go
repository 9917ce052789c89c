package numfmt

import (
	"math"
	"testing"
)

func TestFormatters(t *testing.T) {
	for _, c := range []struct {
		name, got, want string
	}{
		{"sig zero", Sig(0), "0"},
		{"sig whole from 100", Sig(412.3), "412"},
		{"sig tens", Sig(12.34), "12.3"},
		{"sig ones", Sig(1.5), "1.5"},
		{"sig rounds to whole", Sig(10.007), "10"},
		{"sig small", Sig(0.01234), "0.0123"},
		{"sig negative", Sig(-3.25), "-3.25"},
		{"sig tiny keeps exponent", Sig(1.5e-7), "1.5e-07"},
		{"sig inf", Sig(math.Inf(1)), "+Inf"},
		{"sig nan", Sig(math.NaN()), "NaN"},
		{"unit", Unit(50.015, "ms"), "50 ms"},
		{"unit none", Unit(0.04, ""), "0.04"},
		{"percent", Percent(0.973), "97.3 %"},
		{"percent all", Percent(1), "100 %"},
		{"percent none", Percent(0), "0 %"},
		{"percent small", Percent(0.0005), "0.05 %"},
		{"percent just below all", Percent(0.99996), "99.996 %"},
		{"percent above all", Percent(1.5), "150 %"},
		{"change up", Change(0.125), "+12.5 %"},
		{"change down", Change(-0.032), "-3.2 %"},
		{"change none", Change(0), "0 %"},
		{"p value", PValue(0.0123), "0.012"},
		{"p value tiny", PValue(1e-9), "< 0.001"},
		{"p", P(0.5), "p = 0.500"},
		{"p tiny", P(0.0001), "p < 0.001"},
		{"decimals", Decimals(97.25, 1), "97.3"},
		{"decimals whole", Decimals(97, 1), "97"},
		{"thousands", Thousands(72000), "72,000"},
		{"thousands small", Thousands(999), "999"},
		{"thousands negative", Thousands(-1234567), "-1,234,567"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %q, want %q", c.got, c.want)
			}
		})
	}
}

func TestRound(t *testing.T) {
	for _, c := range []struct {
		v        float64
		decimals int
		want     float64
	}{
		{1.23456, 3, 1.235}, {-1.23456, 2, -1.23}, {2.5, 0, 3}, {1234.5, -2, 1200},
	} {
		if got := Round(c.v, c.decimals); got != c.want {
			t.Errorf("Round(%v, %d) = %v, want %v", c.v, c.decimals, got, c.want)
		}
	}
}
