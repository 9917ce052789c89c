// Package jsonl reads traces stored as JSON lines: one object per line and
// arrival, its timestamp, token counts and tags in fields named by a column
// mapping or a preset (see replay.Options). Values may be JSON numbers or
// strings. It registers itself as the replay format "jsonl".
package jsonl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/internal/tracefmt"
)

func init() {
	replay.Register(replay.FormatJSONL, func(name string, r io.Reader, o replay.Options) (replay.Reader, error) {
		jr, err := NewReader(name, r, o)
		if err != nil {
			return nil, err
		}
		return jr, nil
	})
}

var _ replay.Reader = (*Reader)(nil)

// Reader reads a JSONL trace row by row, in constant memory.
type Reader struct {
	tracefmt.Base
	o       replay.Options
	lines   *tracefmt.Lines
	mapping *tracefmt.Mapping // resolved on the first object
	clock   tracefmt.Clock
	sticky  error
	obj     map[string]json.RawMessage
}

// NewReader returns a reader of the JSONL trace r (name is used in
// errors). The column mapping is resolved against the first object's
// fields, on the first call to Next. Errors wrap replay.ErrFormat.
func NewReader(name string, r io.Reader, o replay.Options) (*Reader, error) {
	if err := replay.ValidateColumns(o.Columns); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	times, err := tracefmt.NewTimeParser(o.TimeFormat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Reader{
		Base:  tracefmt.Base{Name: name, Strict: o.Strict, Times: times},
		o:     o,
		lines: tracefmt.NewLines(r),
	}, nil
}

// Preset is the name of the preset in use ("" when none or not yet known).
func (r *Reader) Preset() string {
	if r.mapping == nil {
		return ""
	}
	return r.mapping.Preset
}

// Next implements replay.Reader.
func (r *Reader) Next(row *replay.Row) error {
	if r.sticky != nil {
		return r.sticky
	}
	for {
		line, n, err := r.NextLine(r.lines)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.As(err, new(*replay.RowError)) {
				r.sticky = err
			}
			return err
		}
		clear(r.obj)
		if err := json.Unmarshal(line, &r.obj); err != nil || r.obj == nil {
			if err == nil {
				err = errors.New("null")
			}
			if err := r.Bad(n, "", fmt.Errorf("not a JSON object: %v", err)); err != nil {
				return err
			}
			continue
		}
		if r.mapping == nil {
			if err := r.resolve(); err != nil {
				r.sticky = err
				return err
			}
		}
		ok, err := r.parse(n, row)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
}

func (r *Reader) resolve() error {
	names := make([]string, 0, len(r.obj))
	for k := range r.obj {
		names = append(names, k)
	}
	slices.Sort(names)
	m, err := tracefmt.Resolve(replay.FormatJSONL, r.Name, r.o, names)
	if err != nil {
		return err
	}
	if r.o.TimeFormat == "" && m.TimeFormat != "" {
		if r.Times, err = tracefmt.NewTimeParser(m.TimeFormat); err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
	}
	r.mapping = m
	return nil
}

func (r *Reader) parse(line int64, row *replay.Row) (bool, error) {
	m := r.mapping
	field := func(f string) (string, error) {
		s, ok, err := tracefmt.Scalar(r.obj[f])
		if err == nil && !ok {
			err = errors.New("missing")
		}
		return s, err
	}
	s, err := field(m.Timestamp)
	if err != nil {
		return false, r.Bad(line, m.Timestamp, err)
	}
	ns, err := r.Times.Parse(s)
	if err != nil {
		return false, r.Bad(line, m.Timestamp, err)
	}
	off, err := r.clock.Offset(ns)
	if err != nil {
		return false, r.Bad(line, m.Timestamp, err)
	}
	var in, out int
	for _, t := range []struct {
		name string
		dst  *int
	}{{m.Input, &in}, {m.Output, &out}} {
		if t.name == "" {
			continue
		}
		s, err := field(t.name)
		if err == nil {
			*t.dst, err = tracefmt.ParseTokens(s)
		}
		if err != nil {
			return false, r.Bad(line, t.name, err)
		}
	}
	var tags map[string]string
	for _, t := range m.Tags {
		v, ok, err := tracefmt.Text(r.obj[t.Column])
		if err != nil {
			return false, r.Bad(line, t.Column, err)
		}
		if v = strings.TrimSpace(v); ok && v != "" {
			if tags == nil {
				tags = make(map[string]string, len(m.Tags))
			}
			tags[t.Name] = v
		}
	}
	r.clock.Accept(ns, line)
	r.Good()
	*row = replay.Row{Line: line, Offset: off, InputTokens: in, OutputTokens: out, Tags: tags}
	return true, nil
}
