// Package tracefmt holds what the trace readers share: timestamp parsing,
// the offset clock with its order check, token parsing, column mappings,
// JSON lines, and the bookkeeping of malformed rows.
package tracefmt

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
)

// TimeParser turns timestamps into nanoseconds: since the Unix epoch for
// date-times and epoch values, since the start of the recording for
// offsets. The auto format is settled by the first timestamp that parses.
type TimeParser struct {
	format   string // resolved format; TimeAuto until settled
	unit     int64  // nanoseconds per unit of a numeric format
	detected bool   // the format was settled from a timestamp
}

// NewTimeParser returns a parser for the format (see replay.TimeFormats).
func NewTimeParser(format string) (*TimeParser, error) {
	if err := replay.CheckTimeFormat(format); err != nil {
		return nil, err
	}
	p := &TimeParser{}
	p.set(format)
	return p, nil
}

func (p *TimeParser) set(format string) {
	p.format = format
	switch format {
	case replay.TimeEpochS, replay.TimeOffsetS:
		p.unit = 1e9
	case replay.TimeEpochMS, replay.TimeOffsetMS:
		p.unit = 1e6
	case replay.TimeEpochUS:
		p.unit = 1e3
	case replay.TimeEpochNS:
		p.unit = 1
	}
}

// Format is the format in use: the one asked for, or the one detected (""
// while still undetected).
func (p *TimeParser) Format() string { return p.format }

// Detected reports whether Format was detected from a timestamp rather
// than asked for.
func (p *TimeParser) Detected() bool { return p.detected }

// Parse parses one timestamp.
func (p *TimeParser) Parse(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty timestamp")
	}
	switch p.format {
	case replay.TimeAuto:
		if looksNumeric(s) {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, fmt.Errorf("bad timestamp %s: not a number", Quote(s))
			}
			format := replay.TimeOffsetS
			switch a := math.Abs(f); {
			case a >= 1e17:
				format = replay.TimeEpochNS
			case a >= 1e14:
				format = replay.TimeEpochUS
			case a >= 1e11:
				format = replay.TimeEpochMS
			case a >= 1e8:
				format = replay.TimeEpochS
			}
			q := TimeParser{detected: true}
			q.set(format)
			ns, err := q.Parse(s)
			if err == nil {
				*p = q
			}
			return ns, err
		}
		ns, err := parseDateTime(s)
		if err == nil {
			p.set(replay.TimeDateTime)
			p.detected = true
		}
		return ns, err
	case replay.TimeDateTime, replay.TimeRFC3339:
		return parseDateTime(s)
	}
	if p.unit == 0 { // a Go layout
		t, err := time.Parse(p.format, s)
		if err != nil {
			return 0, fmt.Errorf("bad timestamp %s: does not match layout %q", Quote(s), p.format)
		}
		if y := t.Year(); y < minYear || y > maxYear {
			return 0, fmt.Errorf("bad timestamp %s: year out of range %d–%d", Quote(s), minYear, maxYear)
		}
		return t.UnixNano(), nil
	}
	ns, err := parseDecimal(s, p.unit)
	if err != nil {
		return 0, fmt.Errorf("bad timestamp %s (%s): %v", Quote(s), p.format, err)
	}
	return ns, nil
}

// looksNumeric reports whether s is made of a number's characters: digits,
// a point, an exponent, signs in front or after the exponent.
func looksNumeric(s string) bool {
	digits := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.', c == 'e', c == 'E':
		case c == '+' || c == '-':
			if i > 0 && s[i-1] != 'e' && s[i-1] != 'E' {
				return false
			}
		default:
			return false
		}
	}
	return digits
}

// parseDecimal reads a non-negative decimal number of units exactly into
// nanoseconds (digits below a nanosecond are dropped). Exponents are read
// through float64.
func parseDecimal(s string, unit int64) (int64, error) {
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, errors.New("not a number")
		}
		if f < 0 {
			return 0, errors.New("negative")
		}
		ns := f * float64(unit)
		if ns >= math.MaxInt64 {
			return 0, errors.New("out of range")
		}
		return int64(ns), nil
	}
	if s[0] == '+' {
		s = s[1:]
	}
	if strings.HasPrefix(s, "-") {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return 0, errors.New("not a number")
		}
		return 0, errors.New("negative")
	}
	ip, fp, dot := strings.Cut(s, ".")
	if ip == "" && (!dot || fp == "") {
		return 0, errors.New("not a number")
	}
	var whole int64
	for i := 0; i < len(ip); i++ {
		c := ip[i]
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		if whole > (math.MaxInt64-9)/10 {
			return 0, errors.New("out of range")
		}
		whole = whole*10 + int64(c-'0')
	}
	if whole > math.MaxInt64/unit {
		return 0, errors.New("out of range")
	}
	ns := whole * unit
	scale := unit
	for i := 0; i < len(fp); i++ {
		c := fp[i]
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		scale /= 10
		ns += int64(c-'0') * scale // scale 0 drops sub-nanosecond digits
	}
	if ns < 0 {
		return 0, errors.New("out of range")
	}
	return ns, nil
}

// Years a date-time may have (time.Time.UnixNano's range).
const minYear, maxYear = 1678, 2261

// parseDateTime reads YYYY-MM-DD[T ]HH:MM:SS[.f…][Z|±hh:mm|±hhmm].
func parseDateTime(s string) (int64, error) {
	bad := func(why string) (int64, error) {
		return 0, fmt.Errorf("bad timestamp %s: %s (want YYYY-MM-DD HH:MM:SS[.fffffffff][zone] or RFC 3339)", Quote(s), why)
	}
	if len(s) < 19 {
		return bad("too short")
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d := num(0, 4), num(5, 2), num(8, 2)
	h, mi, sec := num(11, 2), num(14, 2), num(17, 2)
	if y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0 || s[4] != '-' || s[7] != '-' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return bad("not a date-time")
	}
	if y < minYear || y > maxYear {
		return bad(fmt.Sprintf("year out of range %d–%d", minYear, maxYear))
	}
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59 {
		return bad("field out of range")
	}
	rest := s[19:]
	var frac int64
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		scale := int64(1e9)
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			scale /= 10
			frac += int64(rest[i]-'0') * scale
			i++
		}
		if i == 1 {
			return bad("empty fraction")
		}
		rest = rest[i:]
	}
	var zone int64 // seconds east of UTC
	switch {
	case rest == "" || rest == "Z" || rest == "z":
	case rest[0] == '+' || rest[0] == '-':
		z := rest[1:]
		var zh, zm int
		switch {
		case len(z) == 5 && z[2] == ':':
			zh, zm = atoi2(z[0:2]), atoi2(z[3:5])
		case len(z) == 4:
			zh, zm = atoi2(z[0:2]), atoi2(z[2:4])
		case len(z) == 2:
			zh, zm = atoi2(z), 0
		default:
			return bad("bad zone")
		}
		if zh < 0 || zm < 0 || zh > 23 || zm > 59 {
			return bad("bad zone")
		}
		zone = int64(zh*3600 + zm*60)
		if rest[0] == '-' {
			zone = -zone
		}
	default:
		return bad("unexpected " + Quote(rest))
	}
	secs := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+sec) - zone
	return secs*1e9 + frac, nil
}

func atoi2(s string) int {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return -1
	}
	return int(s[0]-'0')*10 + int(s[1]-'0')
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d
// (proleptic Gregorian; H. Hinnant's algorithm), for y ≥ 1.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// Quote quotes a value for an error message, shortened to 40 bytes.
func Quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// Clock turns timestamps into offsets from the first accepted row and
// rejects a row earlier than the row accepted before it.
type Clock struct {
	have        bool
	first, prev int64
	prevLine    int64
}

// Offset returns the offset of a row stamped ns, or an error when it is
// earlier than the previous accepted row. It does not accept the row: call
// Accept once the whole row is valid.
func (c *Clock) Offset(ns int64) (time.Duration, error) {
	if !c.have {
		return 0, nil
	}
	if ns < c.prev {
		return 0, fmt.Errorf("timestamp is %s earlier than line %d's: rows must be in time order (sort the trace first)", time.Duration(c.prev-ns), c.prevLine)
	}
	return time.Duration(ns - c.first), nil
}

// Accept makes the row stamped ns at line the previous row.
func (c *Clock) Accept(ns, line int64) {
	if !c.have {
		c.have, c.first = true, ns
	}
	c.prev, c.prevLine = ns, line
}

// ParseTokens reads a token count: a non-negative integer (a decimal with a
// zero fraction, as JSON writers print, is accepted).
func ParseTokens(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty token count")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			return 0, fmt.Errorf("bad token count %s: not a whole number", Quote(s))
		}
		n = int(f)
	}
	if n < 0 {
		return 0, fmt.Errorf("bad token count %s: negative", Quote(s))
	}
	if n > math.MaxInt32 {
		return 0, fmt.Errorf("bad token count %s: too large", Quote(s))
	}
	return n, nil
}
