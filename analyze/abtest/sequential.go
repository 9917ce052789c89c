package abtest

import "math"

// seqRho2 is ρ² of the normal mixture tuned to be narrowest at tuning
// users: (−2·ln α + ln(1 − 2·ln α)) / tuning.
func seqRho2(alpha, tuning float64) float64 {
	l := math.Log(alpha)
	return (-2*l + math.Log(1-2*l)) / tuning
}

// seqCrit is the multiple of the standard error that the confidence
// sequence's halfwidth is after n users:
// sqrt(2·(nρ²+1)/(nρ²) · ln(sqrt(nρ²+1)/α)).
func seqCrit(n, alpha, tuning float64) float64 {
	r := n * seqRho2(alpha, tuning)
	return math.Sqrt(2 * (r + 1) / r * (0.5*math.Log1p(r) - math.Log(alpha)))
}

// seqPValue is the always-valid p-value of the estimate z standard errors
// from 0 after n users: 1 over the mixture martingale, at most 1.
func seqPValue(z, n, alpha, tuning float64) float64 {
	r := n * seqRho2(alpha, tuning)
	return math.Exp(min(0, 0.5*math.Log1p(r)-z*z/2*r/(1+r)))
}
