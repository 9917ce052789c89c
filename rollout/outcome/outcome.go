package outcome

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// Event is one outcome as read from a file.
type Event struct {
	// ID is the event's idempotency key; "" when it has none.
	ID string
	// User is the sticky user key.
	User string
	// Metric names the metric.
	Metric string
	// Value is finite.
	Value float64
	// Time is when the outcome happened: the file's, or the reader's now.
	Time time.Time
	// Line is the line of the file the event starts on.
	Line int
}

// Format is the format of an outcome file.
type Format int

// Formats.
const (
	NDJSON Format = iota + 1
	CSV
)

// String names the format.
func (f Format) String() string {
	switch f {
	case NDJSON:
		return "ndjson"
	case CSV:
		return "csv"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// FormatOf returns the format a file name's extension says: .csv is CSV;
// .ndjson, .jsonl and .json are NDJSON. Another extension is an input
// error.
func FormatOf(file string) (Format, error) {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".csv":
		return CSV, nil
	case ".ndjson", ".jsonl", ".json":
		return NDJSON, nil
	}
	return 0, &input.Error{File: file, Msg: "unknown outcome file format: want a .ndjson, .jsonl or .csv file"}
}

// MaxLineBytes bounds an NDJSON line.
const MaxLineBytes = 1 << 20

// Read reads events of format f from r and calls fn on each, in file
// order. file names r in errors; now is the time of events without one
// (time.Now() when zero). The first bad line stops the reading with an
// *input.Error; an error of fn stops it and is returned as is.
func Read(r io.Reader, file string, f Format, now time.Time, fn func(Event) error) error {
	switch f {
	case NDJSON:
		return ReadNDJSON(r, file, now, fn)
	case CSV:
		return ReadCSV(r, file, now, fn)
	}
	return fmt.Errorf("outcome: read %s: unknown format %v", file, f)
}

// ReadNDJSON reads NDJSON events from r; see Read.
func ReadNDJSON(r io.Reader, file string, now time.Time, fn func(Event) error) error {
	if now.IsZero() {
		now = time.Now()
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\uFEFF"))
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		ev, field, msg := parseObject(text, now)
		if msg != "" {
			return &input.Error{File: file, Line: line, Field: field, Msg: msg}
		}
		ev.Line = line
		if err := fn(ev); err != nil {
			return err
		}
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return &input.Error{File: file, Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
	case err != nil:
		return fmt.Errorf("outcome: read %s: %w", file, err)
	}
	return nil
}

// ndjsonKeys are the keys of an NDJSON event.
var ndjsonKeys = []string{"id", "user", "metric", "value", "time"}

// parseObject parses one NDJSON line; msg is "" when it is an event, else
// what is wrong with field.
func parseObject(text []byte, now time.Time) (ev Event, field, msg string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(text, &m); err != nil || m == nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return ev, "", "not JSON: " + se.Error()
		}
		return ev, "", "want a JSON object"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(ndjsonKeys, k) {
			return ev, k, "unknown field (want id, user, metric, value, time)"
		}
	}
	var ok bool
	if ev.ID, ok = jsonString(m["id"]); !ok {
		return ev, "id", "want a string" + got(m["id"])
	}
	if hasControl(ev.ID) {
		return ev, "id", controlMsg
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"user", &ev.User}, {"metric", &ev.Metric}} {
		raw := m[f.name]
		if *f.dst, ok = jsonString(raw); !ok {
			return ev, f.name, "want a string" + got(raw)
		}
		if *f.dst == "" {
			return ev, f.name, "missing"
		}
		if hasControl(*f.dst) {
			return ev, f.name, controlMsg
		}
	}
	raw := m["value"]
	switch {
	case isNull(raw):
		return ev, "value", "missing"
	case raw[0] != '-' && (raw[0] < '0' || raw[0] > '9'):
		return ev, "value", "want a number" + got(raw)
	}
	if ev.Value, msg = parseValue(string(raw)); msg != "" {
		return ev, "value", msg
	}
	ts, ok := jsonString(m["time"])
	if !ok {
		return ev, "time", "want an RFC 3339 time string" + got(m["time"])
	}
	if ev.Time, msg = parseTime(ts, isNull(m["time"]), now); msg != "" {
		return ev, "time", msg
	}
	return ev, "", ""
}

// controlMsg refuses an id, user or metric with a control character: a
// user key comes from a request header, which cannot hold one, and CSV
// cannot carry a carriage return through.
const controlMsg = "contains a control character"

// hasControl says whether s has an ASCII control character.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// isNull says whether a JSON value is absent or null.
func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// jsonString decodes a JSON string, "" for an absent or null one; ok is
// false for another kind of value.
func jsonString(raw json.RawMessage) (string, bool) {
	if isNull(raw) {
		return "", true
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// got quotes a bad value for a message, cut to a readable length.
func got(raw []byte) string {
	s := string(raw)
	if len(s) > 40 {
		s = strings.ToValidUTF8(s[:40], "") + "…"
	}
	return fmt.Sprintf(" (got %s)", s)
}

// parseValue parses a finite decimal number; msg says what is wrong.
func parseValue(s string) (float64, string) {
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && math.IsInf(v, 0):
		return 0, fmt.Sprintf("out of range%s", got([]byte(s)))
	case err != nil && !errors.Is(err, strconv.ErrRange): // underflow to 0 is fine
		return 0, "want a number" + got([]byte(strconv.Quote(s)))
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, "want a finite number" + got([]byte(s))
	}
	return v, ""
}

// Times the store keeps: Unix nanoseconds.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// parseTime parses an RFC 3339 time, now when absent.
func parseTime(s string, absent bool, now time.Time) (time.Time, string) {
	if absent {
		return now, ""
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	switch {
	case err != nil:
		return t, "want an RFC 3339 time such as 2026-12-01T10:00:00Z" + got([]byte(strconv.Quote(s)))
	case t.Before(minTime) || t.After(maxTime):
		return t, "out of range (years 1678 to 2262)" + got([]byte(strconv.Quote(s)))
	}
	return t, ""
}

// csvColumns are the columns of a CSV file; the first three are required.
var csvColumns = []string{"user", "metric", "value", "id", "time"}

// ReadCSV reads CSV events from r; see Read.
func ReadCSV(r io.Reader, file string, now time.Time, fn func(Event) error) error {
	if now.IsZero() {
		now = time.Now()
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return &input.Error{File: file, Msg: "empty: want a header row of user, metric, value and optional id, time"}
	case err != nil:
		return csvError(file, nil, err)
	}
	col := map[string]int{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF")
		}
		name := strings.ToLower(strings.TrimSpace(h))
		line, _ := cr.FieldPos(i)
		switch _, dup := col[name]; {
		case !slices.Contains(csvColumns, name):
			return &input.Error{File: file, Line: line, Field: h, Msg: "unknown column (want id, user, metric, value, time)"}
		case dup:
			return &input.Error{File: file, Line: line, Field: name, Msg: "column given twice"}
		}
		col[name] = i
	}
	for _, name := range csvColumns[:3] {
		if _, ok := col[name]; !ok {
			line, _ := cr.FieldPos(0)
			return &input.Error{File: file, Line: line, Field: name, Msg: "missing column"}
		}
	}
	field := func(rec []string, name string) (string, int) {
		i, ok := col[name]
		if !ok {
			return "", 0
		}
		line, _ := cr.FieldPos(i)
		return strings.TrimSpace(rec[i]), line
	}
	for {
		rec, err := cr.Read()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return csvError(file, header, err)
		}
		var ev Event
		ev.Line, _ = cr.FieldPos(0)
		var bad *input.Error
		fail := func(name string, line int, msg string) {
			if bad == nil {
				bad = &input.Error{File: file, Line: line, Field: name, Msg: msg}
			}
		}
		var idLine int
		ev.ID, idLine = field(rec, "id")
		if hasControl(ev.ID) {
			fail("id", idLine, controlMsg)
		}
		for _, f := range []struct {
			name string
			dst  *string
		}{{"user", &ev.User}, {"metric", &ev.Metric}} {
			var line int
			*f.dst, line = field(rec, f.name)
			switch {
			case *f.dst == "":
				fail(f.name, line, "missing")
			case hasControl(*f.dst):
				fail(f.name, line, controlMsg)
			}
		}
		if !utf8.ValidString(ev.Metric) {
			line, _ := cr.FieldPos(col["metric"])
			fail("metric", line, "not valid UTF-8")
		}
		s, line := field(rec, "value")
		var msg string
		if s == "" {
			fail("value", line, "missing")
		} else if ev.Value, msg = parseValue(s); msg != "" {
			fail("value", line, msg)
		}
		s, line = field(rec, "time")
		if ev.Time, msg = parseTime(s, s == "", now); msg != "" {
			fail("time", line, msg)
		}
		if bad != nil {
			return bad
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

// csvError turns an error of the CSV reader into an *input.Error.
func csvError(file string, header []string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("outcome: read %s: %w", file, err)
	}
	e := &input.Error{File: file, Line: pe.Line, Msg: pe.Err.Error()}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		e.Line = pe.StartLine
		e.Msg = fmt.Sprintf("want %d fields, as the header (%s)", len(header), strings.Join(header, ","))
	}
	return e
}
