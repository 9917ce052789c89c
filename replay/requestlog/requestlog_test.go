package requestlog_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gonogo-dev/gonogo/replay"
	"github.com/gonogo-dev/gonogo/replay/internal/tracetest"
	"github.com/gonogo-dev/gonogo/replay/requestlog"
)

func readAll(t *testing.T, data string, o replay.Options) ([]replay.Row, replay.Skips, error) {
	t.Helper()
	return tracetest.ReadAll(func() (replay.Reader, error) {
		return requestlog.NewReader("requests.jsonl", strings.NewReader(data), o)
	})
}

const log = `{"ts": "2024-05-01T10:00:00Z", "method": "POST", "path": "/v1/chat/completions", "headers": {"Content-Type": "application/json", "Accept": ["a", "b"]}, "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, "tags": {"user": "u1", "segment": "free", "n": 3}, "input_tokens": 12, "output_tokens": 30, "response": {"status": 200, "body": "{\"ok\":true}"}}
{"ts": "2024-05-01T10:00:00.5Z", "method": "GET", "url": "http://svc:8080/health?x=1"}
{"ts": "2024-05-01T10:00:01Z", "method": "POST", "path": "/v1/completions", "body": "raw text"}
`

func TestRows(t *testing.T) {
	rows, skips, err := readAll(t, log, replay.Options{})
	if err != nil || skips.Count != 0 {
		t.Fatalf("err %v, skips %v", err, skips.First)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	q := r.Request
	if q == nil || q.Method != "POST" || q.Path != "/v1/chat/completions" ||
		string(q.Body) != `{"model":"m","messages":[{"role":"user","content":"hi"}]}` ||
		q.Header.Get("Content-Type") != "application/json" || fmt.Sprint(q.Header.Values("Accept")) != "[a b]" {
		t.Errorf("request = %+v (body %s)", q, q.Body)
	}
	if r.Tags["user"] != "u1" || r.Tags["segment"] != "free" || r.Tags["n"] != "3" || r.InputTokens != 12 || r.OutputTokens != 30 {
		t.Errorf("row = %+v", r)
	}
	if q := rows[1].Request; q.Path != "/health?x=1" || q.Body != nil || rows[1].Offset != 500*time.Millisecond {
		t.Errorf("row 2 = %+v %+v", rows[1], q)
	}
	if q := rows[2].Request; string(q.Body) != "raw text" || rows[2].Line != 3 {
		t.Errorf("row 3 = %+v", rows[2])
	}
}

func TestMalformed(t *testing.T) {
	data := `{"ts": 100, "method": "GET", "path": "/"}
{"ts": 101, "path": "/"}
{"ts": 101, "method": "GET"}
{"method": "GET", "path": "/"}
{"ts": 99, "method": "GET", "path": "/"}
{"ts": 101, "method": 5, "path": "/"}
{"ts": 101, "method": "GET", "path": "/", "headers": {"a": 1}}
{"ts": 101, "method": "GET", "path": "/", "output_tokens": -3}
{"ts": 102, "method": "GET", "path": "/"}
`
	rows, skips, err := readAll(t, data, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Errorf("rows = %+v", rows)
	}
	want := []struct {
		line  int64
		field string
	}{{2, "method"}, {3, "path"}, {4, "ts"}, {5, "ts"}, {6, "method"}, {7, "headers.a"}, {8, "output_tokens"}}
	if len(skips.First) != len(want) {
		t.Fatalf("skips = %v", skips.First)
	}
	for i, w := range want {
		if e := skips.First[i]; e.Line != w.line || e.Field != w.field {
			t.Errorf("skip %d = %v, want line %d field %s", i, e, w.line, w.field)
		}
	}
	_, _, err = readAll(t, data, replay.Options{Strict: true})
	var re *replay.RowError
	if !errors.As(err, &re) || re.Line != 2 {
		t.Errorf("strict: err = %v", err)
	}
}

func TestFixedSchema(t *testing.T) {
	_, _, err := readAll(t, log, replay.Options{Columns: map[string]string{"timestamp": "ts"}})
	if !errors.Is(err, replay.ErrFormat) {
		t.Errorf("err = %v, want ErrFormat", err)
	}
	_, _, err = readAll(t, "", replay.Options{})
	if !errors.Is(err, replay.ErrFormat) || !strings.Contains(err.Error(), "requests.jsonl") {
		t.Errorf("empty: err = %v", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(log, "", false)
	f.Add("{\"ts\": 1, \"method\": \"GET\", \"path\": \"/\", \"body\": null, \"response\": {\"status\": -1}}\n{}\n", "epoch-s", true)
	f.Fuzz(func(t *testing.T, data, timeFormat string, strict bool) {
		r, err := requestlog.NewReader("fuzz.jsonl", strings.NewReader(data), replay.Options{TimeFormat: timeFormat, Strict: strict})
		if err != nil {
			if !errors.Is(err, replay.ErrFormat) {
				t.Fatalf("NewReader error %v does not wrap ErrFormat", err)
			}
			return
		}
		tracetest.Fuzzed(t, r, len(data))
	})
}

// Every value of a repeated header is kept, in order; names that differ
// only in case are one header.
func TestRepeatedHeaders(t *testing.T) {
	tests := []struct {
		name, headers string
		want          string
	}{
		{"array", `{"Accept": ["a", "b"]}`, "map[Accept:[a b]]"},
		{"comma kept in one value", `{"X-List": "a, b"}`, "map[X-List:[a, b]]"},
		{"repeated cookies", `{"Cookie": ["a=1", "b=2"], "Set-Cookie": ["x"]}`, "map[Cookie:[a=1 b=2] Set-Cookie:[x]]"},
		{"names differing in case", `{"x-a": ["2", "3"], "X-A": "1"}`, "map[X-A:[1 2 3]]"},
		{"empty array", `{"X-None": []}`, "map[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 { // map order must not matter
				rows, _, err := readAll(t, `{"ts": 0, "method": "GET", "path": "/", "headers": `+tt.headers+"}\n", replay.Options{Strict: true})
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprint(rows[0].Request.Header); got != tt.want {
					t.Fatalf("headers %s, want %s", got, tt.want)
				}
			}
		})
	}
}
