package replay

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// TimeReader is implemented by readers that parse timestamps (every
// built-in format, and the reader Open returns): it says which timestamp
// format they took.
type TimeReader interface {
	// TimeFormat is the timestamp format in use: one of TimeFormats or a
	// Go layout; "" while a format to detect is not settled yet (before
	// the first row).
	TimeFormat() string
	// TimeDetected reports whether that format was detected from the
	// trace's data rather than given (Options.TimeFormat or a preset).
	TimeDetected() bool
}

// Warnings returns what Open found doubtful about the trace r reads, one
// line each: a timestamp unit it inferred from the data, or one that
// makes the trace's rate or span implausible. It is nil for a reader Open
// did not return and for a trace with nothing to warn about. A run prints
// them before it starts; Inspect copies them into Stats.Warnings.
func Warnings(r Reader) []string {
	if w, ok := r.(interface{ Warnings() []string }); ok {
		return w.Warnings()
	}
	return nil
}

// The bounds of a plausible recorded trace's mean rate: a trace read in the
// wrong unit is 1,000 times too slow or too fast.
const (
	// MinPlausibleRatePerSec is one request a minute.
	MinPlausibleRatePerSec = 1.0 / 60
	// MaxPlausibleRatePerSec is a hundred thousand requests a second.
	MaxPlausibleRatePerSec = 1e5
)

// Time-unit inference, done by Open on the first rows of a trace.
const (
	// sampleRows is how many rows (at most, within the first sniffBytes)
	// Open reads ahead to check the timestamp unit.
	sampleRows = 1000
	// minSampleRows is the fewest rows that say anything about a unit.
	minSampleRows = 3
	// msMedianGap is the median gap, in units, from which whole-number
	// offsets are taken as milliseconds rather than seconds: seconds would
	// put a median of 10 s between arrivals (under 0.1 req/s), while 10 ms
	// is a median gap of traffic at about 70 req/s.
	msMedianGap = 10
)

// traceReader is the reader Open returns: the format's reader, with what
// Open found out about the trace's timestamps.
type traceReader struct {
	Reader
	warnings []string
	inferred bool // Open inferred the unit (offset-ms) from the data
}

var _ TimeReader = (*traceReader)(nil)

// Warnings returns the warnings of Open (see the function Warnings).
func (r *traceReader) Warnings() []string { return slices.Clone(r.warnings) }

// TimeFormat implements TimeReader.
func (r *traceReader) TimeFormat() string {
	if tr, ok := r.Reader.(TimeReader); ok {
		return tr.TimeFormat()
	}
	return ""
}

// TimeDetected implements TimeReader.
func (r *traceReader) TimeDetected() bool {
	if r.inferred {
		return true
	}
	tr, ok := r.Reader.(TimeReader)
	return ok && tr.TimeDetected()
}

// sampleUnit reads the first rows of head (the start of the trace) with a
// reader of the format, and returns the options to read the whole trace
// with — o, or o with TimeOffsetMS when whole-number offsets were detected
// as seconds but are clearly milliseconds — whether it changed the unit,
// and the warnings about it (see checkUnit). It reads nothing when o names
// a timestamp format.
func sampleUnit(name string, open OpenFunc, head []byte, o Options) (Options, bool, []string) {
	if o.TimeFormat != TimeAuto {
		// Given: not inferred, only checked.
		return o, false, sampleWarnings(name, open, head, o)
	}
	format, detected, offs := sampleTimes(name, open, head, o)
	if detected && format == TimeOffsetS && looksLikeMillis(offs) {
		o.TimeFormat = TimeOffsetMS
		msOffs := make([]time.Duration, len(offs))
		for i, d := range offs {
			msOffs[i] = d / 1000
		}
		w := []string{fmt.Sprintf("%s: timestamps read as milliseconds from the start (%s): the first %d are whole numbers %s apart at the median, "+
			"which in seconds would make %s req/s; pass --time-format %s if they are seconds",
			name, TimeOffsetMS, len(offs), strconv.FormatInt(int64(medianGap(offs)/time.Second), 10), formatRate(rate(offs)), TimeOffsetS)}
		return o, true, append(w, checkUnit(name, TimeOffsetMS, msOffs)...)
	}
	return o, false, checkUnit(name, format, offs)
}

// sampleWarnings reads the first rows of head and checks their unit.
func sampleWarnings(name string, open OpenFunc, head []byte, o Options) []string {
	format, _, offs := sampleTimes(name, open, head, o)
	return checkUnit(name, format, offs)
}

// sampleTimes reads up to sampleRows rows of head, skipping malformed ones, and
// returns the timestamp format the reader took, whether it detected it,
// and the rows' offsets. A reader that cannot be opened gives nothing:
// the real one reports why.
func sampleTimes(name string, open OpenFunc, head []byte, o Options) (string, bool, []time.Duration) {
	o.Strict = false
	r, err := open(name, bytes.NewReader(head), o)
	if err != nil {
		return "", false, nil
	}
	var offs []time.Duration
	var row Row
	for len(offs) < sampleRows {
		if err := r.Next(&row); err != nil {
			break
		}
		offs = append(offs, row.Offset)
	}
	tr, ok := r.(TimeReader)
	if !ok {
		return "", false, offs
	}
	return tr.TimeFormat(), tr.TimeDetected(), offs
}

// looksLikeMillis reports whether offsets read as seconds are clearly
// milliseconds: enough of them, every one a whole number of seconds, and
// a median gap of at least msMedianGap seconds.
func looksLikeMillis(offs []time.Duration) bool {
	if len(offs) < minSampleRows {
		return false
	}
	for _, d := range offs {
		if d%time.Second != 0 {
			return false
		}
	}
	return medianGap(offs) >= msMedianGap*time.Second
}

// checkUnit warns when the offsets of the first rows, read in format, give
// a mean rate outside [MinPlausibleRatePerSec, MaxPlausibleRatePerSec]:
// the sign of a unit taken wrong. Only numeric formats are checked, on at
// least minSampleRows rows that do not all share one timestamp.
func checkUnit(name, format string, offs []time.Duration) []string {
	finer, coarser, numeric := unitNeighbours(format)
	if !numeric || len(offs) < minSampleRows {
		return nil
	}
	r := rate(offs)
	if r == 0 {
		return nil
	}
	span := offs[len(offs)-1] - offs[0]
	switch {
	case r < MinPlausibleRatePerSec:
		return []string{fmt.Sprintf("%s: the first %d rows span %s at %s req/s, read as %s: unusually slow for recorded traffic; %s",
			name, len(offs), formatSpan(span), formatRate(r), format, suggestUnit(finer, "finer"))}
	case r > MaxPlausibleRatePerSec:
		return []string{fmt.Sprintf("%s: the first %d rows span %s at %s req/s, read as %s: unusually fast for recorded traffic; %s",
			name, len(offs), formatSpan(span), formatRate(r), format, suggestUnit(coarser, "coarser"))}
	}
	return nil
}

// unitNeighbours returns the numeric formats one unit finer and coarser
// than format ("" where gonogo has none), and whether format is numeric.
func unitNeighbours(format string) (finer, coarser string, numeric bool) {
	for _, chain := range [][]string{{TimeOffsetS, TimeOffsetMS}, {TimeEpochS, TimeEpochMS, TimeEpochUS, TimeEpochNS}} {
		if i := slices.Index(chain, format); i >= 0 {
			if i+1 < len(chain) {
				finer = chain[i+1]
			}
			if i > 0 {
				coarser = chain[i-1]
			}
			return finer, coarser, true
		}
	}
	return "", "", false
}

func suggestUnit(format, kind string) string {
	if format == "" {
		return "check the timestamps' unit (--time-format)"
	}
	return "if the timestamps are in a " + kind + " unit, pass --time-format " + format
}

// rate is the mean rate of offsets, in requests per second: gaps over span;
// 0 when the span is 0.
func rate(offs []time.Duration) float64 {
	span := offs[len(offs)-1] - offs[0]
	if span <= 0 {
		return 0
	}
	return float64(len(offs)-1) / span.Seconds()
}

// medianGap is the median gap between consecutive offsets.
func medianGap(offs []time.Duration) time.Duration {
	gaps := make([]time.Duration, 0, len(offs)-1)
	for i := 1; i < len(offs); i++ {
		gaps = append(gaps, offs[i]-offs[i-1])
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}

// formatRate writes a rate with three significant digits: 0.00200, 52.0.
func formatRate(r float64) string { return strconv.FormatFloat(r, 'g', 3, 64) }

// formatSpan writes a span in seconds (as a duration under one), and in
// days too when it is longer than two.
func formatSpan(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	s := thousandsFloat(d.Seconds(), 1) + " s"
	if days := d.Hours() / 24; days > 2 {
		s += fmt.Sprintf(" (%.0f days)", days)
	}
	return s
}
