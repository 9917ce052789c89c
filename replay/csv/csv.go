// Package csv reads traces stored as CSV with a header row: one arrival per
// row, its timestamp, token counts and tags in columns named by a column
// mapping or a preset (see replay.Options). It registers itself as the
// replay format "csv".
package csv

import (
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/internal/tracefmt"
)

func init() {
	replay.Register(replay.FormatCSV, func(name string, r io.Reader, o replay.Options) (replay.Reader, error) {
		cr, err := NewReader(name, r, o)
		if err != nil {
			return nil, err
		}
		return cr, nil
	})
}

var _ replay.Reader = (*Reader)(nil)

// Reader reads a CSV trace row by row, in constant memory.
type Reader struct {
	tracefmt.Base
	r        *stdcsv.Reader
	header   []string
	ts       int // column indexes; -1 when unmapped
	in, out  int
	tags     []tagCol
	clock    tracefmt.Clock
	mapping  *tracefmt.Mapping
	sticky   error
	lastLine int64
}

type tagCol struct {
	name string
	idx  int
}

// NewReader reads the header of the CSV trace r (name is used in errors)
// and resolves the column mapping. A file name ending in ".tsv" is read
// with tabs as separators. Errors wrap replay.ErrFormat.
func NewReader(name string, r io.Reader, o replay.Options) (*Reader, error) {
	times, err := tracefmt.NewTimeParser(o.TimeFormat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cr := stdcsv.NewReader(r)
	if strings.HasSuffix(strings.ToLower(strings.TrimSuffix(name, ".gz")), ".tsv") {
		cr.Comma = '\t'
	}
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s: empty file (want a header row)", replay.ErrFormat, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: header: %v", replay.ErrFormat, name, err)
	}
	header = append([]string(nil), header...)
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	m, err := tracefmt.Resolve(replay.FormatCSV, name, o, header)
	if err != nil {
		return nil, err
	}
	if o.TimeFormat == "" && m.TimeFormat != "" {
		if times, err = tracefmt.NewTimeParser(m.TimeFormat); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	idx := func(c string) int {
		if c == "" {
			return -1
		}
		for i, h := range header {
			if h == c {
				return i
			}
		}
		return -1
	}
	cr2 := &Reader{
		Base:    tracefmt.Base{Name: name, Strict: o.Strict, Times: times},
		r:       cr,
		header:  header,
		ts:      idx(m.Timestamp),
		in:      idx(m.Input),
		out:     idx(m.Output),
		mapping: m,
	}
	for _, t := range m.Tags {
		cr2.tags = append(cr2.tags, tagCol{t.Name, idx(t.Column)})
	}
	return cr2, nil
}

// Preset is the name of the preset in use ("" when none).
func (r *Reader) Preset() string { return r.mapping.Preset }

// Next implements replay.Reader.
func (r *Reader) Next(row *replay.Row) error {
	if r.sticky != nil {
		return r.sticky
	}
	for {
		rec, err := r.r.Read()
		if err == io.EOF {
			return r.EOF()
		}
		var line int64
		if err != nil {
			var pe *stdcsv.ParseError
			if !errors.As(err, &pe) {
				r.sticky = fmt.Errorf("%s: %w", r.Name, err)
				return r.sticky
			}
			line = int64(pe.StartLine)
			if line <= r.lastLine { // never report the same line twice
				line = r.lastLine + 1
			}
			r.lastLine = line
			if err := r.Bad(line, "", pe.Err); err != nil {
				return err
			}
			continue
		}
		l, _ := r.r.FieldPos(0)
		line = int64(l)
		r.lastLine = line
		if len(rec) != len(r.header) {
			if err := r.Bad(line, "", fmt.Errorf("has %d columns, the header has %d", len(rec), len(r.header))); err != nil {
				return err
			}
			continue
		}
		ok, err := r.parse(rec, line, row)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
}

// parse fills row from rec; it reports false when the row was skipped.
func (r *Reader) parse(rec []string, line int64, row *replay.Row) (bool, error) {
	col := func(i int) string { return r.header[i] }
	ns, err := r.Times.Parse(rec[r.ts])
	if err != nil {
		return false, r.Bad(line, col(r.ts), err)
	}
	off, err := r.clock.Offset(ns)
	if err != nil {
		return false, r.Bad(line, col(r.ts), err)
	}
	var in, out int
	if r.in >= 0 {
		if in, err = tracefmt.ParseTokens(rec[r.in]); err != nil {
			return false, r.Bad(line, col(r.in), err)
		}
	}
	if r.out >= 0 {
		if out, err = tracefmt.ParseTokens(rec[r.out]); err != nil {
			return false, r.Bad(line, col(r.out), err)
		}
	}
	var tags map[string]string
	for _, t := range r.tags {
		if v := strings.TrimSpace(rec[t.idx]); v != "" {
			if tags == nil {
				tags = make(map[string]string, len(r.tags))
			}
			tags[t.name] = v
		}
	}
	r.clock.Accept(ns, line)
	r.Good()
	*row = replay.Row{Line: line, Offset: time.Duration(off), InputTokens: in, OutputTokens: out, Tags: tags}
	return true, nil
}
