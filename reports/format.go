package reports

import (
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/gonogo-dev/gonogo/analyze"
	"github.com/gonogo-dev/gonogo/internal/numfmt"
)

// ErrNoRun is returned by the report writers for an Input without a run.
var ErrNoRun = errors.New("reports: no run to report (Input.Run is nil)")

// fmtGateValue formats a gate's observed or baseline value: a goodput
// share (0..1 in verdict.json) as a percentage, "97.3 %" (numfmt.Percent);
// every other value with its unit.
func fmtGateValue(g analyze.GateResult, v float64) string {
	if g.Unit != "" || (g.Kind != analyze.Goodput && g.Metric != string(analyze.Goodput)) {
		return numfmt.Unit(v, g.Unit)
	}
	return numfmt.Percent(v)
}

// fmtOffset formats an offset from the run's start to a tenth of a
// second: "+36s", "+1m12.5s", "-2s".
func fmtOffset(d time.Duration) string {
	d = d.Round(100 * time.Millisecond)
	if d < 0 {
		return "-" + (-d).String()
	}
	return "+" + d.String()
}

// partialNote says why a run's results are partial, "" for a complete
// run: "partial: interrupted at +37s", "partial: aborted at +12s: …", or
// "killed: no end recorded" for a run whose run.json still says it is
// running.
func partialNote(r *Run) string {
	if r == nil || !r.Partial() {
		return ""
	}
	at := fmtOffset(secondsDur(r.DurationS))
	switch r.Status {
	case StatusRunning:
		return "killed: no end recorded"
	case StatusAborted:
		if r.AbortReason != "" {
			return "partial: aborted at " + at + ": " + r.AbortReason
		}
	}
	return "partial: " + r.Status + " at " + at
}

// naturalLess orders strings with their digit runs compared as numbers,
// so that segment labels sort as "0-128" < "128-512" < "1024-2048".
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		switch {
		case da != "" && db != "":
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[len(da):], b[len(db):]
		case a[0] != b[0]:
			return a[0] < b[0]
		default:
			a, b = a[1:], b[1:]
		}
	}
	return len(a) < len(b)
}

// digitPrefix is the run of ASCII digits s starts with.
func digitPrefix(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsDigit(r) })
	if i < 0 {
		return s
	}
	return s[:i]
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
