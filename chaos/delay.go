package chaos

import (
	"fmt"
	"math"
	"time"
)

// Distributions of a Delay.
const (
	DistConstant    = "constant"    // always Mean
	DistUniform     = "uniform"     // uniform in [Mean−Variation, Mean+Variation]
	DistNormal      = "normal"      // normal, mean Mean, standard deviation Variation, cut at 0
	DistExponential = "exponential" // exponential with mean Mean (no Variation)
)

// Delay is a fault's delay, drawn per request or call: Mean ± Variation
// in a named distribution. The http and grpc faults share it.
type Delay struct {
	// Mean is the mean delay (above 0).
	Mean Duration `yaml:"mean" json:"mean"`
	// Variation is the spread: the half-width of a uniform delay, the
	// standard deviation of a normal one; none for constant and
	// exponential delays.
	Variation Duration `yaml:"variation,omitempty" json:"variation,omitempty"`
	// Distribution is constant, uniform, normal or exponential; empty:
	// constant without Variation, uniform with it.
	Distribution string `yaml:"distribution,omitempty" json:"distribution,omitempty"`
}

// Dist is the delay's distribution with its default.
func (d *Delay) Dist() string {
	switch {
	case d.Distribution != "":
		return d.Distribution
	case d.Variation != 0:
		return DistUniform
	}
	return DistConstant
}

// Check says what is wrong with d, "" when nothing; the mean may be at
// most maxMean.
func (d *Delay) Check(maxMean time.Duration) (field, msg string) {
	mean, v := d.Mean.D(), d.Variation.D()
	switch {
	case mean <= 0:
		return "mean", fmt.Sprintf("%v: want more than 0", mean)
	case mean > maxMean:
		return "mean", fmt.Sprintf("%v: at most %v", mean, maxMean)
	case v < 0:
		return "variation", fmt.Sprintf("%v: want 0 or more", v)
	}
	switch d.Dist() {
	case DistConstant:
		if v != 0 {
			return "variation", "a constant delay has no variation: use distribution uniform or normal"
		}
	case DistUniform:
		if v > mean {
			return "variation", fmt.Sprintf("%v is more than the mean %v: a uniform delay cannot go below 0", v, mean)
		}
	case DistNormal:
		if v > maxMean {
			return "variation", fmt.Sprintf("%v: at most %v", v, maxMean)
		}
	case DistExponential:
		if v != 0 {
			return "variation", "an exponential delay's spread is its mean: leave variation out"
		}
	default:
		return "distribution", fmt.Sprintf("%q: want %s, %s, %s or %s", d.Distribution, DistConstant, DistUniform, DistNormal, DistExponential)
	}
	return "", ""
}

// Sample draws one delay from two independent uniform numbers in [0, 1),
// so that each injector keeps its own source of them; the result is cut
// to [0, 20 × (Mean + Variation)], a tail no draw reaches in practice.
func (d *Delay) Sample(u1, u2 float64) time.Duration {
	mean, v := float64(d.Mean), float64(d.Variation)
	x := mean
	switch d.Dist() {
	case DistUniform:
		x = mean + v*(2*u1-1)
	case DistNormal:
		x = mean + v*math.Sqrt(-2*math.Log(1-u1))*math.Cos(2*math.Pi*u2)
	case DistExponential:
		x = -mean * math.Log(1-u1)
	}
	return time.Duration(math.Min(math.Max(x, 0), 20*(mean+v)))
}
