package tracefmt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gonogo-dev/gonogo/replay"
)

// Base keeps what every reader keeps: its file name, strictness, its
// timestamp parser, the skipped rows and the number of rows returned.
type Base struct {
	Name   string
	Strict bool
	Times  *TimeParser
	skips  replay.Skips
	rows   int64
}

// TimeFormat implements replay.TimeReader.
func (b *Base) TimeFormat() string { return b.Times.Format() }

// TimeDetected implements replay.TimeReader.
func (b *Base) TimeDetected() bool { return b.Times.Detected() }

// Bad handles a malformed row: under Strict it returns it; otherwise it
// counts it and returns nil, and the reader goes on to the next row.
func (b *Base) Bad(line int64, field string, err error) error {
	e := &replay.RowError{File: b.Name, Line: line, Field: field, Err: err}
	if b.Strict {
		return e
	}
	b.skips.Add(e)
	return nil
}

// Good counts a row returned.
func (b *Base) Good() { b.rows++ }

// Skipped implements replay.Reader.
func (b *Base) Skipped() replay.Skips {
	s := b.skips
	s.First = slices.Clone(s.First)
	return s
}

// EOF is what Next returns at the end of the input: io.EOF, or an error
// wrapping replay.ErrFormat when no row was valid.
func (b *Base) EOF() error {
	if b.rows > 0 {
		return io.EOF
	}
	if b.skips.Count > 0 {
		return fmt.Errorf("%w: %s: no valid row (%d malformed; first: %v)", replay.ErrFormat, b.Name, b.skips.Count, b.skips.First[0])
	}
	return fmt.Errorf("%w: %s: no rows", replay.ErrFormat, b.Name)
}

// NextLine returns the next non-blank line of a line-oriented trace,
// trimmed, and its number. A line too long for the reader is a bad row:
// skipped, or returned under Strict. Other read errors name the file. At
// the end it returns EOF's answer.
func (b *Base) NextLine(lines *Lines) ([]byte, int64, error) {
	for {
		line, n, err := lines.Next()
		switch {
		case err == io.EOF:
			return nil, n, b.EOF()
		case errors.Is(err, ErrLineTooLong):
			if err := b.Bad(n, "", err); err != nil {
				return nil, n, err
			}
			continue
		case err != nil:
			return nil, n, fmt.Errorf("%s: %w", b.Name, err)
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line, n, nil
		}
	}
}

// NoMapping rejects a column mapping or preset given to a format with a
// fixed schema.
func NoMapping(format, name string, o replay.Options) error {
	if len(o.Columns) > 0 || o.Preset != "" {
		return fmt.Errorf("%w: %s: the %s format has a fixed schema; it takes no column mapping or preset", replay.ErrFormat, name, format)
	}
	return nil
}

// Mapping is a resolved column mapping.
type Mapping struct {
	Timestamp, Input, Output string // Input, Output "" when unmapped
	Tags                     []Tag  // sorted by tag name
	TimeFormat               string
	Preset                   string // the preset used, if any
}

// Tag is a tag column.
type Tag struct{ Name, Column string }

// Conventional names, matched without regard to case, used when neither a
// mapping nor a preset is given.
var conventional = map[string][]string{
	replay.FieldTimestamp:    {"timestamp", "ts", "time", "arrival_time", "start_time"},
	replay.FieldInputTokens:  {"input_tokens", "prompt_tokens", "context_tokens", "input_length", "request_tokens"},
	replay.FieldOutputTokens: {"output_tokens", "completion_tokens", "generated_tokens", "output_length", "response_tokens"},
}

// Resolve builds the mapping of a trace whose columns (CSV header, first
// JSON object's fields) are names: the preset (named, or detected when no
// columns are given) overlaid with o.Columns, else conventional names.
// When columns are given for a trace that has every column of a preset and
// the timestamp is the preset's, the preset's timestamp format is taken
// unless o.TimeFormat names one.
// Every mapped column must be among names. Errors wrap replay.ErrFormat.
func Resolve(format, name string, o replay.Options, names []string) (*Mapping, error) {
	if err := replay.ValidateColumns(o.Columns); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cols := map[string]string{}
	m := &Mapping{TimeFormat: o.TimeFormat}
	var p replay.Preset
	var ok bool
	if o.Preset != "" {
		if p, ok = replay.LookupPreset(o.Preset); !ok {
			var known []string
			for _, p := range replay.Presets() {
				known = append(known, p.Name)
			}
			return nil, fmt.Errorf("%w: %s: unknown preset %q (known: %s)", replay.ErrFormat, name, o.Preset, strings.Join(known, ", "))
		}
	} else if len(o.Columns) == 0 {
		p, ok = replay.DetectPreset(format, names)
	} else if dp, found := replay.DetectPreset(format, names); found && m.TimeFormat == "" &&
		dp.Columns[replay.FieldTimestamp] == o.Columns[replay.FieldTimestamp] {
		// A known trace mapped by hand: its timestamps keep the preset's
		// format (Mooncake's are milliseconds).
		m.TimeFormat = dp.TimeFormat
	}
	if ok {
		cols, m.Preset = p.Columns, p.Name
		if m.TimeFormat == "" {
			m.TimeFormat = p.TimeFormat
		}
	}
	for f, c := range o.Columns {
		cols[f] = c
	}
	if len(cols) == 0 {
		for field, aliases := range conventional {
			for _, n := range names {
				if slices.ContainsFunc(aliases, func(a string) bool { return strings.EqualFold(a, strings.TrimSpace(n)) }) {
					cols[field] = n
					break
				}
			}
		}
	}
	kind := "columns"
	if format == replay.FormatJSONL {
		kind = "fields"
	}
	if cols[replay.FieldTimestamp] == "" {
		return nil, fmt.Errorf("%w: %s: no timestamp column: map one, as in --columns timestamp=<column>,input_tokens=<column>,output_tokens=<column> (%s: %s)",
			replay.ErrFormat, name, kind, nameList(names))
	}
	fields := make([]string, 0, len(cols))
	for f := range cols {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		c := cols[f]
		if !slices.Contains(names, c) {
			return nil, fmt.Errorf("%w: %s: column %q (for %s) is not in the %s; %s: %s",
				replay.ErrFormat, name, c, f, map[bool]string{true: "header", false: "first object"}[format == replay.FormatCSV], kind, nameList(names))
		}
		switch f {
		case replay.FieldTimestamp:
			m.Timestamp = c
		case replay.FieldInputTokens:
			m.Input = c
		case replay.FieldOutputTokens:
			m.Output = c
		default:
			m.Tags = append(m.Tags, Tag{Name: strings.TrimSpace(strings.TrimPrefix(f, replay.TagPrefix)), Column: c})
		}
	}
	return m, nil
}

// maxListed is how many column names an error message lists.
const maxListed = 20

// nameList lists column names for a one-line error message: at most
// maxListed, each as it is when it is short and printable (no comma),
// else quoted and shortened.
func nameList(names []string) string {
	shown := make([]string, 0, min(len(names), maxListed)+1)
	for i, n := range names {
		if i == maxListed {
			shown = append(shown, fmt.Sprintf("… (%d in all)", len(names)))
			break
		}
		if q := strconv.Quote(n); len(n) > 40 || q[1:len(q)-1] != n || strings.Contains(n, ",") {
			n = Quote(n)
		}
		shown = append(shown, n)
	}
	return strings.Join(shown, ", ")
}

// MaxLineBytes is the longest JSON line a reader accepts; a longer line is
// a malformed row.
const MaxLineBytes = 16 << 20

// Lines reads lines with their numbers, in bounded memory.
type Lines struct {
	r    *bufio.Reader
	n    int64
	buf  []byte
	long bool
}

// NewLines reads r line by line.
func NewLines(r io.Reader) *Lines {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &Lines{r: br}
}

// ErrLineTooLong is reported for a line over MaxLineBytes.
var ErrLineTooLong = fmt.Errorf("line longer than %d MiB", MaxLineBytes>>20)

// Next returns the next line without its end, valid until the next call,
// and its number from 1. It returns ErrLineTooLong (the line is consumed)
// and io.EOF at the end.
func (l *Lines) Next() ([]byte, int64, error) {
	l.buf = l.buf[:0]
	l.long = false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if len(l.buf)+len(chunk) > MaxLineBytes {
			l.long = true
		} else {
			l.buf = append(l.buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && err != io.EOF {
			return nil, l.n, err
		}
		if err == io.EOF && len(l.buf) == 0 && !l.long {
			return nil, l.n, io.EOF
		}
		l.n++
		if l.long {
			if cap(l.buf) > 1<<20 {
				l.buf = nil
			}
			return nil, l.n, ErrLineTooLong
		}
		line := bytes.TrimRight(l.buf, "\r\n")
		if l.n == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		if cap(l.buf) > 1<<20 { // do not keep a huge buffer for the next line
			c := slices.Clone(line)
			l.buf = nil
			return c, l.n, nil
		}
		return line, l.n, nil
	}
}
