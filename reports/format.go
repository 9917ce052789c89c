package reports

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrNoRun is returned by the report writers for an Input without a run.
var ErrNoRun = errors.New("reports: no run to report (Input.Run is nil)")

// fmtScore formats a verdict score with at most one decimal.
func fmtScore(score float64) string {
	return strconv.FormatFloat(math.Round(score*10)/10, 'f', -1, 64)
}

// fmtUnit formats v followed by its unit, if any.
func fmtUnit(v float64, unit string) string {
	switch unit {
	case "":
		return fmtValue(v)
	case "%":
		return fmtValue(v) + "%"
	}
	return fmtValue(v) + " " + unit
}

// fmtChangePct formats a relative change in percent with its sign.
func fmtChangePct(pct float64) string { return fmt.Sprintf("%+.1f%%", pct) }

// fmtValue formats v with three significant digits (whole numbers from
// 100), without trailing zeros.
func fmtValue(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	a := math.Abs(v)
	var s string
	switch {
	case a >= 100 || a == 0:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	default:
		s = strconv.FormatFloat(v, 'g', 3, 64)
	}
	if strings.ContainsRune(s, '.') && !strings.ContainsRune(s, 'e') {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func fmtPValue(p float64) string {
	if p < 0.001 {
		return "< 0.001"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// fmtThousands formats n with thousands separators: 72000 → "72,000".
func fmtThousands(n int64) string {
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

// baselineID is the id of the baseline run, from the verdict or the
// baseline run; empty when there is none.
func baselineID(in Input) string {
	switch {
	case in.Verdict != nil && in.Verdict.Baseline != "":
		return in.Verdict.Baseline
	case in.Baseline != nil:
		return in.Baseline.ID
	case in.BaselineData != nil:
		return in.BaselineData.ID
	}
	return ""
}
