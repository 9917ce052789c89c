// Package numfmt is the one way gonogo writes numbers for people — verdict
// reasons, text summaries, the HTML, Markdown and JUnit reports — and rounds
// them for its JSON documents: three significant digits (whole numbers from
// 100) without trailing zeros, a space before a unit or "%", p-values to
// three decimals.
package numfmt

import (
	"math"
	"strconv"
	"strings"
)

// Round rounds v to decimals decimal places, halves away from zero.
func Round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}

// Sig formats v with three significant digits, whole numbers from 100,
// without trailing zeros: 0.0123, 1.5, 12.3, 1234. NaN and the infinities
// read "NaN", "+Inf" and "-Inf".
func Sig(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	var s string
	switch a := math.Abs(v); {
	case a >= 100 || a == 0:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	default:
		s = strconv.FormatFloat(v, 'g', 3, 64)
	}
	return trimZeros(s)
}

// Decimals formats v with at most n decimals, trailing zeros dropped:
// Decimals(97.25, 1) is "97.3", Decimals(97, 1) is "97".
func Decimals(v float64, n int) string {
	return trimZeros(strconv.FormatFloat(Round(v, n), 'f', n, 64))
}

func trimZeros(s string) string {
	if strings.ContainsRune(s, '.') && !strings.ContainsAny(s, "eE") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Unit formats v followed by its unit after a space ("12.3 ms", "5 %"),
// v alone when unit is empty.
func Unit(v float64, unit string) string {
	if unit == "" {
		return Sig(v)
	}
	return Sig(v) + " " + unit
}

// Percent formats a share (1 is 100 %) as a percentage with Sig's digits,
// "12.3 %", "0.05 %", with more decimals where those would round a share
// below 1 up to "100 %" ("99.97 %").
func Percent(share float64) string {
	s := Sig(100 * share)
	for prec := 1; s == "100" && share < 1 && prec <= 4; prec++ {
		s = trimZeros(strconv.FormatFloat(100*share, 'f', prec, 64))
	}
	return s + " %"
}

// Change formats a relative change (0.125 is an eighth more) as a signed
// percentage: "+12.5 %", "-3.2 %", "0 %".
func Change(rel float64) string {
	s := Percent(rel)
	if rel > 0 {
		s = "+" + s
	}
	return s
}

// PValue formats a p-value to three decimals, "< 0.001" below that.
func PValue(p float64) string {
	if p < 0.001 {
		return "< 0.001"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// P formats a p-value for a sentence: "p = 0.012", "p < 0.001".
func P(p float64) string {
	if p < 0.001 {
		return "p < 0.001"
	}
	return "p = " + PValue(p)
}

// Thousands formats n with thousands separators: 72000 is "72,000".
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
