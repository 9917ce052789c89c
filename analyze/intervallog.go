package analyze

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// ErrIntervalLog is wrapped by every ReadIntervalLog error.
var ErrIntervalLog = errors.New("analyze: interval log")

// Interval is one interval histogram read back from an interval log.
type Interval struct {
	// Tag is the metric ("latency") for the overall group, or
	// "scenario/metric" for a scenario.
	Tag   string
	Start time.Time
	End   time.Time
	// Histogram holds the interval's values: microseconds for time
	// metrics, tokens for output_tokens.
	Histogram *hdr.Histogram
}

// maxLogLine bounds one line of an interval log (a compressed histogram is
// a few kilobytes at most).
const maxLogLine = 1 << 20

// ReadIntervalLog reads an HdrHistogram interval log (format 1.3, as the
// Recorder writes it, and as other HdrHistogram tools write it). Times are
// absolute: relative timestamps are offset by the #[BaseTime] line, or by
// #[StartTime] when they are more than a year before it, as the Java
// reader does. Errors name the line.
func ReadIntervalLog(r io.Reader) ([]Interval, error) {
	var out []Interval
	err := ReadIntervalLogFunc(r, nil, func(iv Interval) error {
		out = append(out, iv)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadIntervalLogFunc reads an interval log as ReadIntervalLog does, but
// passes each interval to fn as it is read instead of keeping them all: a
// long run's log holds more histograms than memory should. When keep is
// not nil, lines whose tag it rejects are skipped without decoding their
// histogram. An error of fn stops the reading and is returned.
func ReadIntervalLogFunc(r io.Reader, keep func(tag string) bool, fn func(Interval) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLogLine)
	var (
		startSec, baseSec   float64
		haveStart, haveBase bool
		lineNo              int
	)
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == '"' {
			continue // blank or legend
		}
		if line[0] == '#' {
			if v, ok := headerSeconds(line, "#[StartTime: "); ok {
				startSec, haveStart = v, true
			} else if v, ok := headerSeconds(line, "#[BaseTime: "); ok {
				baseSec, haveBase = v, true
			}
			continue
		}
		fail := func(format string, a ...any) error {
			return fmt.Errorf("%w: line %d: %s", ErrIntervalLog, lineNo, fmt.Sprintf(format, a...))
		}
		var tag string
		if rest, ok := strings.CutPrefix(line, "Tag="); ok {
			t, after, ok := strings.Cut(rest, ",")
			if !ok {
				return fail("tag without interval fields")
			}
			tag, line = t, after
		}
		if keep != nil && !keep(tag) {
			continue
		}
		f := strings.SplitN(line, ",", 4)
		if len(f) != 4 {
			return fail("want start,length,max,histogram; got %d fields", len(f))
		}
		ts, err1 := strconv.ParseFloat(f[0], 64)
		length, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil || !finite(ts) || !finite(length) || ts < 0 || length < 0 || ts > 1e12 || length > 1e12 {
			return fail("bad interval start %q or length %q", f[0], f[1])
		}
		h, err := hdr.Decode([]byte(strings.TrimSpace(f[3])))
		if err != nil {
			return fail("bad histogram: %v", err)
		}
		if !haveBase {
			// As the Java reader: timestamps more than a year before the
			// start time are relative to it.
			if haveStart && ts < startSec-365*24*3600 {
				baseSec = startSec
			}
			haveBase = true
		}
		abs := ts + baseSec
		iv := Interval{
			Tag:       tag,
			Start:     secondsToTime(abs),
			End:       secondsToTime(abs + length),
			Histogram: h,
		}
		h.SetTag(tag)
		h.SetStartTimeMs(iv.Start.UnixMilli())
		h.SetEndTimeMs(iv.End.UnixMilli())
		if err := fn(iv); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: after line %d: %w", ErrIntervalLog, lineNo, err)
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func headerSeconds(line, prefix string) (float64, bool) {
	rest, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return 0, false
	}
	end := strings.IndexFunc(rest, func(c rune) bool { return (c < '0' || c > '9') && c != '.' })
	if end >= 0 {
		rest = rest[:end]
	}
	v, err := strconv.ParseFloat(rest, 64)
	if err != nil || !finite(v) || v < 0 || v > 1e12 {
		return 0, false
	}
	return v, true
}

// secondsToTime converts seconds since the epoch, rounded to the
// millisecond (the log's precision).
func secondsToTime(sec float64) time.Time {
	return time.UnixMilli(int64(math.Round(sec * 1000)))
}
