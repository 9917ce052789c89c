// Package requestlog reads request logs: JSON lines, one recorded request
// per line, with its arrival time, method, path, headers, body, tags,
// optional token counts (a recorded response, when present, is accepted and
// not used). The schema is in
// docs/traces.md. It registers itself as the replay format "requestlog".
package requestlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/internal/tracefmt"
)

func init() {
	replay.Register(replay.FormatRequestLog, func(name string, r io.Reader, o replay.Options) (replay.Reader, error) {
		lr, err := NewReader(name, r, o)
		if err != nil {
			return nil, err
		}
		return lr, nil
	})
}

var _ replay.Reader = (*Reader)(nil)

// Entry is one line of a request log.
type Entry struct {
	// TS is the arrival time: a date-time string or an epoch or offset
	// number (see replay.TimeFormats).
	TS      json.RawMessage            `json:"ts"`
	Method  string                     `json:"method"`
	Path    string                     `json:"path"` // path and query
	URL     string                     `json:"url"`  // used when path is absent
	Headers map[string]json.RawMessage `json:"headers"`
	// Body is a string (sent as is) or any other JSON value (sent as its
	// JSON text).
	Body json.RawMessage `json:"body"`
	// Response is the recorded response; it is accepted, not replayed.
	Response     json.RawMessage            `json:"response"`
	Tags         map[string]json.RawMessage `json:"tags"`
	InputTokens  json.RawMessage            `json:"input_tokens"`
	OutputTokens json.RawMessage            `json:"output_tokens"`
}

// Reader reads a request log row by row, in constant memory.
type Reader struct {
	tracefmt.Base
	lines  *tracefmt.Lines
	clock  tracefmt.Clock
	sticky error
}

// NewReader returns a reader of the request log r (name is used in
// errors). The format has a fixed schema: o.Columns and o.Preset must be
// empty. Errors wrap replay.ErrFormat.
func NewReader(name string, r io.Reader, o replay.Options) (*Reader, error) {
	if err := tracefmt.NoMapping(replay.FormatRequestLog, name, o); err != nil {
		return nil, err
	}
	times, err := tracefmt.NewTimeParser(o.TimeFormat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Reader{
		Base:  tracefmt.Base{Name: name, Strict: o.Strict, Times: times},
		lines: tracefmt.NewLines(r),
	}, nil
}

// Next implements replay.Reader. It fills Row.Request, Row.Tags and the
// token counts.
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
		field, err := r.parse(line, n, row)
		if err == nil {
			return nil
		}
		if err := r.Bad(n, field, err); err != nil {
			return err
		}
	}
}

// parse fills row from one line or names the bad field and why.
func (r *Reader) parse(line []byte, n int64, row *replay.Row) (string, error) {
	var e Entry
	if err := json.Unmarshal(line, &e); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return te.Field, fmt.Errorf("is a JSON %s, want %s", te.Value, te.Type)
		}
		return "", fmt.Errorf("not a JSON object: %v", err)
	}
	if bytes.Equal(bytes.TrimSpace(line), []byte("null")) {
		return "", errors.New("not a JSON object: null")
	}
	ts, ok, err := tracefmt.Scalar(e.TS)
	if err == nil && !ok {
		err = errors.New("missing")
	}
	if err != nil {
		return "ts", err
	}
	ns, err := r.Times.Parse(ts)
	if err != nil {
		return "ts", err
	}
	off, err := r.clock.Offset(ns)
	if err != nil {
		return "ts", err
	}
	if e.Method = strings.TrimSpace(e.Method); e.Method == "" {
		return "method", errors.New("missing")
	}
	if strings.ContainsAny(e.Method, " \t\r\n") {
		return "method", fmt.Errorf("bad method %s", tracefmt.Quote(e.Method))
	}
	path := e.Path
	if path == "" && e.URL != "" {
		u, err := url.Parse(e.URL)
		if err != nil {
			return "url", fmt.Errorf("bad URL %s", tracefmt.Quote(e.URL))
		}
		path = u.RequestURI()
	}
	if path == "" {
		return "path", errors.New("missing (give path, or url)")
	}
	header, field, err := headers(e.Headers, "headers")
	if err != nil {
		return field, err
	}
	tags, field, err := tagMap(e.Tags)
	if err != nil {
		return field, err
	}
	var in, out int
	for _, t := range []struct {
		name string
		raw  json.RawMessage
		dst  *int
	}{{"input_tokens", e.InputTokens, &in}, {"output_tokens", e.OutputTokens, &out}} {
		s, ok, err := tracefmt.Scalar(t.raw)
		if err == nil && ok {
			*t.dst, err = tracefmt.ParseTokens(s)
		}
		if err != nil {
			return t.name, err
		}
	}
	r.clock.Accept(ns, n)
	r.Good()
	*row = replay.Row{
		Line: n, Offset: off, InputTokens: in, OutputTokens: out, Tags: tags,
		Request: &gonogo.Recorded{Method: e.Method, Path: path, Header: header, Body: body(e.Body)},
	}
	return "", nil
}

// body returns a JSON string's text, or any other value's JSON text; nil
// for null or absent.
func body(raw json.RawMessage) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s)
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.Bytes()
	}
	return append([]byte(nil), raw...)
}

// headers takes string values, or arrays of strings whose every value is
// kept, in order. Names that differ only in case ("accept", "Accept") are
// one header: their values are kept in the order of the names, sorted.
func headers(m map[string]json.RawMessage, field string) (http.Header, string, error) {
	if len(m) == 0 {
		return nil, "", nil
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	h := make(http.Header, len(m))
	for _, k := range names {
		raw := m[k]
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			h.Add(k, s)
			continue
		}
		var ss []string
		if err := json.Unmarshal(raw, &ss); err != nil {
			return nil, field + "." + k, errors.New("want a string or an array of strings")
		}
		for _, v := range ss {
			h.Add(k, v)
		}
	}
	return h, "", nil
}

func tagMap(m map[string]json.RawMessage) (map[string]string, string, error) {
	var tags map[string]string
	for k, raw := range m {
		v, ok, err := tracefmt.Text(raw)
		if err != nil {
			return nil, "tags." + k, err
		}
		if !ok || v == "" {
			continue
		}
		if tags == nil {
			tags = make(map[string]string, len(m))
		}
		tags[k] = v
	}
	return tags, "", nil
}
