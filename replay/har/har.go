// Package har reads HTTP Archives (HAR 1.2): each entry of log.entries is
// one recorded request, sent at its startedDateTime. The archive is one
// JSON document; the reader walks its tokens and decodes the entries one by
// one, so an archive of any size reads in memory bounded by its largest
// entry. It registers itself as the replay format "har".
package har

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gonogo-dev/gonogo"
	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/internal/tracefmt"
)

func init() {
	replay.Register(replay.FormatHAR, func(name string, r io.Reader, o replay.Options) (replay.Reader, error) {
		hr, err := NewReader(name, r, o)
		if err != nil {
			return nil, err
		}
		return hr, nil
	})
}

var _ replay.Reader = (*Reader)(nil)

// Reader reads the entries of a HAR, in order.
type Reader struct {
	tracefmt.Base
	dec    *json.Decoder
	clock  tracefmt.Clock
	n      int64 // entries read
	sticky error
}

// NewReader walks r (name is used in errors) to the start of
// log.entries. The format has a fixed schema: o.Columns and o.Preset must
// be empty. Errors wrap replay.ErrFormat.
func NewReader(name string, r io.Reader, o replay.Options) (*Reader, error) {
	if err := tracefmt.NoMapping(replay.FormatHAR, name, o); err != nil {
		return nil, err
	}
	times, err := tracefmt.NewTimeParser(o.TimeFormat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h := &Reader{Base: tracefmt.Base{Name: name, Strict: o.Strict, Times: times}, dec: json.NewDecoder(r)}
	t, err := h.dec.Token()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s: empty file", replay.ErrFormat, name)
	}
	if err != nil {
		return nil, h.bad("%v", err)
	}
	if t != json.Delim('{') {
		return nil, h.bad("top level is not an object")
	}
	if err := h.find("", "log", '{'); err != nil {
		return nil, err
	}
	if err := h.find("log", "entries", '['); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Reader) bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s: not a HAR: %s", replay.ErrFormat, h.Name, fmt.Sprintf(format, a...))
}

// find reads the keys of the object just opened up to key, skipping the
// values of others, and opens key's value, which must start with want.
func (h *Reader) find(where, key string, want json.Delim) error {
	path := strings.TrimPrefix(where+"."+key, ".")
	for h.dec.More() {
		t, err := h.dec.Token()
		if err != nil {
			return h.bad("%s: %v", where, err)
		}
		if k, _ := t.(string); k != key {
			if err := skip(h.dec); err != nil {
				return h.bad("%s: %v", strings.TrimPrefix(where+"."+k, "."), err)
			}
			continue
		}
		t, err = h.dec.Token()
		if err != nil {
			return h.bad("%s: %v", path, err)
		}
		if t != want {
			kind := "an object"
			if want == '[' {
				kind = "an array"
			}
			return h.bad("%s is not %s", path, kind)
		}
		return nil
	}
	return h.bad("no %s", path)
}

// skip reads one value, however deep, token by token.
func skip(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type entry struct {
	StartedDateTime *string `json:"startedDateTime"`
	Request         *struct {
		Method   string      `json:"method"`
		URL      string      `json:"url"`
		Headers  []nameValue `json:"headers"`
		PostData *struct {
			MimeType string `json:"mimeType"`
			Text     string `json:"text"`
			Encoding string `json:"encoding"` // not HAR 1.2, written by some tools
		} `json:"postData"`
	} `json:"request"`
	// The recorded response is not replayed: it is skipped unread.
}

// Next implements replay.Reader. Row.Line is the entry's number, from 1.
func (h *Reader) Next(row *replay.Row) error {
	if h.sticky != nil {
		return h.sticky
	}
	for {
		if !h.dec.More() {
			if _, err := h.dec.Token(); err != nil { // the closing ]
				h.sticky = h.bad("log.entries: %v", err)
				return h.sticky
			}
			h.sticky = h.EOF()
			return h.sticky
		}
		h.n++
		var e entry
		if err := h.dec.Decode(&e); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				// The decoder has read the whole entry: skip just it.
				if err := h.Bad(h.n, te.Field, fmt.Errorf("is a JSON %s, want %s", te.Value, te.Type)); err != nil {
					return err
				}
				continue
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			h.sticky = h.bad("entry %d: %v", h.n, err)
			return h.sticky
		}
		field, err := h.parse(&e, row)
		if err == nil {
			return nil
		}
		if err := h.Bad(h.n, field, err); err != nil {
			return err
		}
	}
}

// hopHeaders are recorded headers that describe the recorded connection,
// not the request; they are dropped.
var hopHeaders = map[string]bool{
	"host": true, "content-length": true, "connection": true, "keep-alive": true,
	"transfer-encoding": true, "upgrade": true, "proxy-connection": true, "te": true, "trailer": true,
}

func (h *Reader) parse(e *entry, row *replay.Row) (string, error) {
	if e.StartedDateTime == nil {
		return "startedDateTime", errors.New("missing")
	}
	ns, err := h.Times.Parse(*e.StartedDateTime)
	if err != nil {
		return "startedDateTime", err
	}
	off, err := h.clock.Offset(ns)
	if err != nil {
		return "startedDateTime", err
	}
	q := e.Request
	if q == nil {
		return "request", errors.New("missing")
	}
	if q.Method = strings.TrimSpace(q.Method); q.Method == "" {
		return "request.method", errors.New("missing")
	}
	if strings.ContainsAny(q.Method, " \t\r\n") {
		return "request.method", fmt.Errorf("bad method %s", tracefmt.Quote(q.Method))
	}
	if q.URL == "" {
		return "request.url", errors.New("missing")
	}
	u, err := url.Parse(q.URL)
	if err != nil {
		return "request.url", fmt.Errorf("bad URL %s", tracefmt.Quote(q.URL))
	}
	rec := &gonogo.Recorded{Method: q.Method, Path: u.RequestURI(), Header: headerMap(q.Headers)}
	if q.PostData != nil && q.PostData.Text != "" {
		b, err := decodeText(q.PostData.Text, q.PostData.Encoding)
		if err != nil {
			return "request.postData.text", err
		}
		rec.Body = b
		if q.PostData.MimeType != "" {
			if rec.Header == nil {
				rec.Header = http.Header{}
			}
			if rec.Header.Get("Content-Type") == "" {
				rec.Header.Set("Content-Type", q.PostData.MimeType)
			}
		}
	}
	h.clock.Accept(ns, h.n)
	h.Good()
	*row = replay.Row{Line: h.n, Offset: off, Request: rec}
	return "", nil
}

func decodeText(s, encoding string) ([]byte, error) {
	if strings.EqualFold(encoding, "base64") {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, errors.New("bad base64")
		}
		return b, nil
	}
	return []byte(s), nil
}

// headerMap keeps the request's headers but HTTP/2 pseudo-headers and
// hop-by-hop ones; repeated names keep every value.
func headerMap(hs []nameValue) http.Header {
	var h http.Header
	for _, nv := range hs {
		if nv.Name == "" || strings.HasPrefix(nv.Name, ":") || hopHeaders[strings.ToLower(nv.Name)] {
			continue
		}
		if h == nil {
			h = make(http.Header, len(hs))
		}
		h.Add(nv.Name, nv.Value)
	}
	return h
}
