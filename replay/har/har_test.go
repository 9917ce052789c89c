package har_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/har"
	"github.com/gonogo-dev/gonogo/replay/internal/tracetest"
)

func readAll(t *testing.T, data string, o replay.Options) ([]replay.Row, replay.Skips, error) {
	t.Helper()
	return tracetest.ReadAll(func() (replay.Reader, error) {
		return har.NewReader("session.har", strings.NewReader(data), o)
	})
}

const doc = `{"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
 "pages": [{"id": "p", "title": "x", "pageTimings": {}}],
 "entries": [
  {"startedDateTime": "2024-05-01T10:00:00.000+02:00", "time": 12,
   "request": {"method": "POST", "url": "https://api.example.com/v1/chat/completions?stream=true", "httpVersion": "HTTP/2",
     "headers": [{"name": ":authority", "value": "api.example.com"}, {"name": "Authorization", "value": "Bearer x"}, {"name": "Content-Length", "value": "20"}, {"name": "X-A", "value": "1"}, {"name": "X-A", "value": "2"}],
     "postData": {"mimeType": "application/json", "text": "{\"prompt\":\"hi\"}"}},
   "response": {"status": 200, "headers": [], "content": {"size": 2, "text": "b2s=", "encoding": "base64"}}},
  {"startedDateTime": "2024-05-01T08:00:01.250Z", "request": {"method": "GET", "url": "https://api.example.com/health"}, "response": {"status": 0, "content": {}}}
 ]}}`

func TestEntries(t *testing.T) {
	rows, skips, err := readAll(t, doc, replay.Options{})
	if err != nil || skips.Count != 0 {
		t.Fatalf("err %v skips %v", err, skips.First)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	q := rows[0].Request
	if q.Method != "POST" || q.Path != "/v1/chat/completions?stream=true" || string(q.Body) != `{"prompt":"hi"}` {
		t.Errorf("request = %+v", q)
	}
	if fmt.Sprint(q.Header) != "map[Authorization:[Bearer x] Content-Type:[application/json] X-A:[1 2]]" {
		t.Errorf("headers = %v", q.Header)
	}
	if rows[1].Line != 2 || rows[1].Offset != 1250*time.Millisecond || rows[1].Request.Path != "/health" {
		t.Errorf("row 2 = %+v", rows[1])
	}
}

func TestMissingFields(t *testing.T) {
	data := `{"log": {"entries": [
 {"startedDateTime": "2024-05-01T10:00:00Z", "request": {"method": "GET", "url": "/a"}},
 {"request": {"method": "GET", "url": "/b"}},
 {"startedDateTime": "2024-05-01T10:00:01Z", "request": {"url": "/c"}},
 {"startedDateTime": "2024-05-01T10:00:01Z", "request": {"method": "GET"}},
 {"startedDateTime": "2024-05-01T10:00:01Z"},
 {"startedDateTime": "2024-05-01T09:00:00Z", "request": {"method": "GET", "url": "/d"}},
 {"startedDateTime": "2024-05-01T10:00:01Z", "request": {"method": ["GET"], "url": "/e"}},
 7,
 {"startedDateTime": "2024-05-01T10:00:02Z", "request": {"method": "GET", "url": "/f"}}
]}}`
	rows, skips, err := readAll(t, data, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1].Line != 9 || rows[1].Request.Path != "/f" {
		t.Errorf("rows = %+v", rows)
	}
	want := []struct {
		line  int64
		field string
	}{{2, "startedDateTime"}, {3, "request.method"}, {4, "request.url"}, {5, "request"}, {6, "startedDateTime"}, {7, "request.method"}, {8, ""}}
	if len(skips.First) != len(want) {
		t.Fatalf("skips = %v", skips.First)
	}
	for i, w := range want {
		if e := skips.First[i]; e.Line != w.line || e.Field != w.field {
			t.Errorf("skip %d = %v, want entry %d field %q", i, e, w.line, w.field)
		}
	}
	_, _, err = readAll(t, data, replay.Options{Strict: true})
	var re *replay.RowError
	if !errors.As(err, &re) || re.Line != 2 || re.Field != "startedDateTime" || !strings.Contains(err.Error(), "missing") {
		t.Errorf("strict: err = %v", err)
	}
}

func TestNotAHAR(t *testing.T) {
	for _, tt := range []struct{ name, data, want string }{
		{"empty", "", "session.har: empty file"},
		{"array", "[]", "top level is not an object"},
		{"no log", `{"x": 1}`, "no log"},
		{"no entries", `{"log": {"version": "1.2"}}`, "no log.entries"},
		{"entries not array", `{"log": {"entries": {}}}`, "log.entries is not an array"},
		{"no entries at all", `{"log": {"entries": []}}`, "session.har: no rows"},
		{"truncated", `{"log": {"entries": [{"startedDateTime": "2024-05-01T10:00:00Z", "request": {"method": "GET", "url": "/a"}}, {"start`, "entry 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, _, err := readAll(t, tt.data, replay.Options{})
			if !errors.Is(err, replay.ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v (after %d rows), want ErrFormat containing %q", err, len(rows), tt.want)
			}
		})
	}
}

// A HAR is decoded entry by entry: a reader of a long archive does not
// need the whole document.
func TestStreamsEntries(t *testing.T) {
	const n = 50_000
	src := &entries{n: n}
	r, err := har.NewReader("big.har", src, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var row replay.Row
	got := 0
	for {
		err := r.Next(&row)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got++
		if src.i-got > 1000 { // generated ahead of what was read
			t.Fatalf("reader consumed %d entries to return %d", src.i, got)
		}
	}
	if got != n {
		t.Errorf("read %d entries, want %d", got, n)
	}
}

// entries produces a HAR with n entries lazily.
type entries struct {
	n, i int
	buf  []byte
	pos  int
}

func (e *entries) Read(p []byte) (int, error) {
	for e.pos == len(e.buf) {
		e.buf, e.pos = e.buf[:0], 0
		switch {
		case e.i == 0:
			e.buf = append(e.buf, `{"log": {"version": "1.2", "entries": [`...)
		case e.i <= e.n:
			if e.i > 1 {
				e.buf = append(e.buf, ',')
			}
			ts := time.Unix(1700000000, 0).Add(time.Duration(e.i) * time.Millisecond).UTC().Format(time.RFC3339Nano)
			e.buf = fmt.Appendf(e.buf, `{"startedDateTime": %q, "request": {"method": "GET", "url": "http://x/%d", "headers": []}, "response": {"status": 200}}`, ts, e.i)
		case e.i == e.n+1:
			e.buf = append(e.buf, `]}}`...)
		default:
			return 0, io.EOF
		}
		e.i++
	}
	k := copy(p, e.buf[e.pos:])
	e.pos += k
	return k, nil
}

func FuzzReader(f *testing.F) {
	f.Add(doc, false)
	f.Add(`{"log": {"entries": [1, {"request": 5}, {"startedDateTime": "x"}]}}`, true)
	f.Add(`{"a": [1, {"b": []}], "log": {"x": {}, "entries": []}}`, false)
	f.Fuzz(func(t *testing.T, data string, strict bool) {
		r, err := har.NewReader("fuzz.har", strings.NewReader(data), replay.Options{Strict: strict})
		if err != nil {
			if !errors.Is(err, replay.ErrFormat) {
				t.Fatalf("NewReader error %v does not wrap ErrFormat", err)
			}
			return
		}
		tracetest.Fuzzed(t, r, len(data))
	})
}

// Every value of a repeated header is kept, in the archive's order;
// pseudo-headers and connection headers are dropped.
func TestRepeatedHeaders(t *testing.T) {
	tests := []struct {
		name, headers string
		want          string
	}{
		{"repeated", `[{"name": "Accept", "value": "a"}, {"name": "Accept", "value": "b"}]`, "map[Accept:[a b]]"},
		{"names differing in case", `[{"name": "x-a", "value": "2"}, {"name": "X-A", "value": "1"}]`, "map[X-A:[2 1]]"},
		{"comma kept in one value", `[{"name": "X-List", "value": "a, b"}]`, "map[X-List:[a, b]]"},
		{"pseudo and connection headers dropped", `[{"name": ":path", "value": "/"}, {"name": "Host", "value": "h"}, {"name": "Connection", "value": "close"}, {"name": "Cookie", "value": "a=1"}, {"name": "Cookie", "value": "b=2"}]`,
			"map[Cookie:[a=1 b=2]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"log": {"entries": [{"startedDateTime": "2024-05-01T10:00:00Z", "request": {"method": "GET", "url": "http://x/", "headers": ` + tt.headers + `}}]}}`
			rows, _, err := readAll(t, doc, replay.Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(rows[0].Request.Header); got != tt.want {
				t.Errorf("headers %s, want %s", got, tt.want)
			}
		})
	}
}
