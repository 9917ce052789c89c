package divergence

import (
	"math"

	"gonum.org/v1/gonum/mathext"
)

// This file holds the noise model (docs/divergence.md, "Noise
// correction"): how a figure measured between the primary and a
// candidate is corrected for the noise measured between the primary and
// the secondary, and the test that says whether a segment diverges more
// than its noise.

// correct is the noise-corrected headline figure metric: the label flip
// rate by correctFlips, the mean absolute score difference (not bounded by
// 1) as additive noise, max(0, raw − noise), and every other figure, a
// share or a mean distance in 0..1, by correctShare.
func correct(metric string, raw, noise float64) float64 {
	switch metric {
	case "flip_rate":
		return correctFlips(raw, noise)
	case "abs_diff_mean":
		return math.Max(0, raw-noise)
	}
	return correctShare(raw, noise)
}

// correctShare estimates the candidate's own share d from the share raw of
// pairs where the candidate differs from the primary and the share noise
// where the secondary does. A pair differs when the candidate truly
// differs or the noise makes it differ, independently, with the same noise
// as between primary and secondary: raw = 1 − (1 − d)(1 − noise), so
// d = (raw − noise)/(1 − noise), clipped to [0, 1]; 0 when noise is 1
// (nothing can be told apart). For a mean distance in 0..1 it reads as
// similarities multiplying: 1 − raw = (1 − d)(1 − noise).
func correctShare(raw, noise float64) float64 {
	if noise >= 1 {
		return 0
	}
	return min(1, max(0, (raw-noise)/(1-noise)))
}

// correctFlips estimates the share d of pairs whose label the candidate
// truly flips from the flip rate raw and the primary-vs-secondary flip
// rate noise, for label noise that moves an answer between two labels
// (the top two of a near tie): noise on a flipped answer flips it back, so
// a pair shows a flip when exactly one of the true flip and the noise
// flip happened, raw = d(1 − noise) + (1 − d)noise, and
// d = (raw − noise)/(1 − 2·noise), clipped to [0, 1]; 0 when noise is ½ or
// more (labels are then coin tosses).
func correctFlips(raw, noise float64) float64 {
	if noise >= 0.5 {
		return 0
	}
	return min(1, max(0, (raw-noise)/(1-2*noise)))
}

// mcNemarGreater is the one-sided p-value of the exact McNemar test that a
// candidate diverges from the primary more often than the secondary does,
// over the pairs compared for both: candOnly pairs diverged for the
// candidate only, noiseOnly for the secondary only. When the candidate is
// another copy of production the discordant pairs split evenly, so the
// p-value is P(X ≥ candOnly) for X ~ Binomial(candOnly + noiseOnly, ½),
// the regularised incomplete beta I_½(candOnly, noiseOnly + 1).
func mcNemarGreater(candOnly, noiseOnly int64) float64 {
	if candOnly <= 0 {
		return 1
	}
	return mathext.RegIncBeta(float64(candOnly), float64(noiseOnly+1), 0.5)
}
