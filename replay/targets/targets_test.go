package targets

import (
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/replay"
)

// writeDir makes a folder with the given files and returns it.
func writeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The http format: targets with and without blank lines between them,
// headers, @body files relative to the targets file, comments, weight and
// name directives above their target (after a blank line or an @body
// line), paths and absolute URLs, user information turned into basic
// auth.
func TestParseHTTP(t *testing.T) {
	dir := writeDir(t, map[string]string{"chat.json": `{"q":1}`})
	src := "\ufeff# the chat endpoint, three times as often\n" +
		"# name: chat\n" +
		"# weight=3\n" +
		"POST http://127.0.0.1:8000/v1/chat?x=1\n" +
		"Content-Type: application/json\n" +
		"X-Multi: a\n" +
		"X-Multi: b\n" +
		"@chat.json\n" +
		"# weight=2\n" +
		"GET /v1/models\n" +
		"HEAD http://u:pw@127.0.0.1:8000/health\n" +
		"\n\n" +
		"# weight: 0.5\n" +
		"GET /v1/models\n"
	f, err := Parse("t.txt", strings.NewReader(src), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{
		{Name: "chat", Method: "POST", URL: "http://127.0.0.1:8000/v1/chat?x=1", Path: "/v1/chat?x=1",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}}, Body: []byte(`{"q":1}`), Weight: 3, Line: 4},
		{Name: "GET /v1/models", Method: "GET", URL: "/v1/models", Path: "/v1/models", Header: http.Header{}, Weight: 2, Line: 10},
		{Name: "HEAD /health", Method: "HEAD", URL: "http://u:pw@127.0.0.1:8000/health", Path: "/health",
			Header: http.Header{"Authorization": {"Basic dTpwdw=="}}, Weight: 1, Line: 11},
		{Name: "GET /v1/models #2", Method: "GET", URL: "/v1/models", Path: "/v1/models", Header: http.Header{}, Weight: 0.5, Line: 15},
	}
	if !reflect.DeepEqual(f.Targets, want) {
		t.Errorf("targets\n got %+v\nwant %+v", f.Targets, want)
	}
	if f.Origin != "http://127.0.0.1:8000" || f.OriginLine != 4 {
		t.Errorf("origin %q (line %d), want http://127.0.0.1:8000 (line 4)", f.Origin, f.OriginLine)
	}
	if w := f.TotalWeight(); w != 6.5 {
		t.Errorf("total weight %g, want 6.5", w)
	}
}

// vegeta's JSON format, with weight and name fields; the body is base64.
func TestParseJSON(t *testing.T) {
	src := `{"method":"POST","url":"https://h.example:8443/a","header":{"X-A":["1","2"]},"body":"aGk=","weight":2,"name":"a"}` + "\n" +
		"# a comment\n" +
		`{"method":"GET","url":"/b"}` + "\n"
	f, err := Parse("t.jsonl", strings.NewReader(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{
		{Name: "a", Method: "POST", URL: "https://h.example:8443/a", Path: "/a", Header: http.Header{"X-A": {"1", "2"}}, Body: []byte("hi"), Weight: 2, Line: 1},
		{Name: "GET /b", Method: "GET", URL: "/b", Path: "/b", Header: http.Header{}, Weight: 1, Line: 3},
	}
	if !reflect.DeepEqual(f.Targets, want) || f.Origin != "https://h.example:8443" {
		t.Errorf("targets\n got %+v (origin %q)\nwant %+v", f.Targets, f.Origin, want)
	}
}

// parseErrorCases are bad targets files and the one line each must give;
// the fuzz test starts from them too.
var parseErrorCases = []struct {
	name, src, want string
}{
	{"empty", "", "t:1: no target: want METHOD URL lines (vegeta's http format) or JSON objects, one a line"},
	{"only comments", "# hello\n\n", "t:2: no target: want METHOD URL lines (vegeta's http format) or JSON objects, one a line"},
	{"unknown method", "FETCH http://h/a\n", `t:1: method: unknown method "FETCH" (want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE)`},
	{"unknown method after a target", "GET /a\nFETCH /b\n", `t:2: method: unknown method "FETCH" (want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE)`},
	{"lower-case method", "get /a\n", `t:1: method: unknown method "get" (want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE, then a URL)`},
	{"no URL", "GET\n", "t:1: url: missing"},
	{"bad scheme", "GET ftp://h/a\n", `t:1: url: "ftp://h/a": want an http:// or https:// URL, or a path from /`},
	{"relative without slash", "GET a/b\n", `t:1: url: "a/b": want an http:// or https:// URL, or a path from /`},
	{"no host", "GET http:///a\n", `t:1: url: "http:///a": no host`},
	{"bad URL", "GET http://h/%zz\n", `t:1: url: bad URL "http://h/%zz"`},
	{"two words of URL", "GET /a b\n", `t:1: url: "/a b" holds white space or a control character`},
	{"two origins", "GET http://a:1/x\nGET http://b:1/y\n", "t:2: url: origin http://b:1 differs from http://a:1 (line 1): a targets file drives one service"},
	{"header without colon", "GET /a\nX-A 1\n", `t:2: header: "X-A 1": want Name: value`},
	{"bad header name", "GET /a\nX A: 1\n", `t:2: header: invalid header name "X A"`},
	{"header after body", "POST /a\n@b\nX-A: 1\n", "t:3: header: after the @body line: headers come before it"},
	{"missing body file", "POST /a\n@nope.json\n", "t:2: body: open DIR/nope.json: no such file or directory"},
	{"empty body name", "POST /a\n@\n", "t:2: body: @ names no file"},
	{"second body", "POST /a\n@b\n@b\n", "t:3: body: a second @body line"},
	{"zero weight", "# weight=0\nGET /a\n", `t:1: weight: "0": want a number above 0, at most 1e+09`},
	{"negative weight", "# weight=-1\nGET /a\n", `t:1: weight: "-1": want a number above 0, at most 1e+09`},
	{"NaN weight", "# weight=NaN\nGET /a\n", `t:1: weight: "NaN": want a number above 0, at most 1e+09`},
	{"infinite weight", "# weight=+Inf\nGET /a\n", `t:1: weight: "+Inf": want a number above 0, at most 1e+09`},
	{"word weight", "# weight: heavy\nGET /a\n", `t:1: weight: "heavy": want a number above 0, at most 1e+09`},
	{"two weights", "# weight=1\n# weight=2\nGET /a\n", "t:2: weight: given twice for the target of line 3 (first on line 1)"},
	{"dangling directive", "GET /a\n\n# weight=2\n", "t:3: weight: precedes no target"},
	{"directive among headers", "GET /a\nX-A: 1\n# weight=2\nGET /b\n", "t:3: weight: among the lines of line 1's target: put it above the METHOD line of its target, after a blank line"},
	{"directive right after a target", "GET /a\n# name=b\nGET /b\n", "t:2: name: among the lines of line 1's target: put it above the METHOD line of its target, after a blank line"},
	{"duplicate name", "# name=x\nGET /a\n\n# name=x\nGET /b\n", `t:4: name: "x" is the name of line 2's target too`},
	{"name with a comma", "# name=a,b\nGET /a\n", `t:1: name: "a,b": no braces, commas or control characters`},
	{"JSON unknown method", `{"method":"FETCH","url":"/a"}`, `t:1: method: unknown method "FETCH" (want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE)`},
	{"JSON bad URL", `{"method":"GET","url":"a"}`, `t:1: url: "a": want an http:// or https:// URL, or a path from /`},
	{"JSON zero weight", `{"method":"GET","url":"/a","weight":0}`, `t:1: weight: "0": want a number above 0, at most 1e+09`},
	{"JSON weight as text", `{"method":"GET","url":"/a","weight":"3"}`, "t:1: weight: is a JSON string, want float64"},
	{"JSON unknown field", `{"method":"GET","url":"/a","wieght":3}`, "t:1: wieght: unknown field (fields: method, url, header, body, weight, name)"},
	{"JSON bad base64", `{"method":"POST","url":"/a","body":"!!"}`, "t:1: body: not base64: illegal base64 data at input byte 0"},
	{"JSON bad header", `{"method":"GET","url":"/a","header":{"X-A":["a\nb"]}}`, "t:1: header: header X-A: value contains CR, LF or NUL"},
	{"JSON then text", "{\"method\":\"GET\",\"url\":\"/a\"}\nGET /b\n", "t:2: not a JSON object: a file of JSON targets holds one object a line"},
	{"JSON with a directive", "# weight=2\n{\"method\":\"GET\",\"url\":\"/a\"}\n", "t:1: weight: a JSON targets file gives weight and name as fields of the object"},
	{"JSON not an object", "{\"method\":\n", "t:1: not a JSON object: unexpected EOF"},
}

// Each bad file is one line naming the file, the line, the field and why,
// as a *replay.RowError.
func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"b": "x"})
			_, err := Parse("t", strings.NewReader(tt.src), dir)
			var re *replay.RowError
			if err == nil || !errors.As(err, &re) {
				t.Fatalf("error %v, want a *replay.RowError", err)
			}
			got := strings.ReplaceAll(err.Error(), dir, "DIR")
			if got != tt.want || strings.Contains(got, "\n") {
				t.Errorf("error\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// A line longer than MaxLineBytes is refused, naming its line.
func TestParseLongLine(t *testing.T) {
	src := "GET /a\nX-A: " + strings.Repeat("a", MaxLineBytes) + "\n"
	_, err := Parse("t", strings.NewReader(src), t.TempDir())
	if err == nil || err.Error() != "t:2: line longer than 1048576 bytes" {
		t.Errorf("error %v", err)
	}
}

// The reader draws the targets in proportion to their weights (3:1:0.5
// within 4 binomial standard deviations over 45,000 draws), the same
// sequence for the same seed and another for another seed, every row
// tagged and carrying its target's request.
func TestReaderWeights(t *testing.T) {
	src := "# weight=3\nGET /a\nGET /b\n\n# weight=0.5\n# name=c\nPOST /c\n"
	f, err := Parse("t", strings.NewReader(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 45_000
	draw := func(seed int64) ([]string, map[string]int) {
		r := NewReader(f, seed)
		seq, counts := make([]string, 0, n), map[string]int{}
		for range n {
			var row replay.Row
			if err := r.Next(&row); err != nil {
				t.Fatal(err)
			}
			name := row.Tags[TagKey]
			if row.Request == nil || row.Request.Method+" "+row.Request.Path != map[string]string{"GET /a": "GET /a", "GET /b": "GET /b", "c": "POST /c"}[name] {
				t.Fatalf("row %+v: request does not match tag %q", row, name)
			}
			seq = append(seq, name)
			counts[name]++
		}
		return seq, counts
	}
	seq1, counts := draw(7)
	seq2, _ := draw(7)
	seq3, _ := draw(8)
	if !reflect.DeepEqual(seq1, seq2) {
		t.Error("seed 7 drew two different sequences")
	}
	if reflect.DeepEqual(seq1, seq3) {
		t.Error("seeds 7 and 8 drew the same sequence")
	}
	for name, w := range map[string]float64{"GET /a": 3, "GET /b": 1, "c": 0.5} {
		p := w / 4.5
		mean, sd := n*p, math.Sqrt(n*p*(1-p))
		if got := float64(counts[name]); math.Abs(got-mean) > 4*sd {
			t.Errorf("%s: %v draws of %d, want %.0f ± %.0f", name, got, n, mean, 4*sd)
		}
	}
}

// Opened through replay.Open as the "targets" format, the file reads
// with its bodies relative to its own folder, and refuses a column
// mapping; a bad file is the same one-line error.
func TestReplayOpen(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"t.txt":   "POST /a\n@body\n",
		"body":    "payload",
		"bad.txt": "GET /a\n\n# weight=0\nGET /b\n",
	})
	r, c, err := replay.Open(filepath.Join(dir, "t.txt"), replay.Options{Format: Format})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var row replay.Row
	if err := r.Next(&row); err != nil || string(row.Request.Body) != "payload" || row.Tags[TagKey] != "POST /a" || row.Line != 1 {
		t.Errorf("row %+v, err %v", row, err)
	}
	if _, _, err := replay.Open(filepath.Join(dir, "t.txt"), replay.Options{Format: Format, Columns: map[string]string{"input_tokens": "x"}}); !errors.Is(err, replay.ErrFormat) {
		t.Errorf("with columns: error %v, want ErrFormat", err)
	}
	_, _, err = replay.Open(filepath.Join(dir, "bad.txt"), replay.Options{Format: Format})
	if want := filepath.Join(dir, "bad.txt") + `:3: weight: "0": want a number above 0, at most 1e+09`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// The reader ends after MaxDraws rows.
func TestReaderBounded(t *testing.T) {
	f, err := Parse("t", strings.NewReader("GET /a\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(f, 1)
	r.drawn = MaxDraws - 1
	var row replay.Row
	if err := r.Next(&row); err != nil {
		t.Fatal(err)
	}
	if err := r.Next(&row); err != io.EOF {
		t.Errorf("after MaxDraws: %v, want io.EOF", err)
	}
}
