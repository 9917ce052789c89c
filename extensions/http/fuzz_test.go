package httpproto

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo/extensions"
)

// FuzzParseRequestFile checks that the parser never panics, that what it
// accepts is a valid request, and that an accepted request survives a round
// trip through JSON.
func FuzzParseRequestFile(f *testing.F) {
	for _, s := range []string{
		`{"method":"POST","path":"/v1/x","headers":{"X-A":"1"},"body":"raw"}`,
		"method: PUT\npath: /a?b=c\nbody:\n  inputs: [1, 2.5, \"s\"]\n",
		"headers:\n  Authorization: Bearer t\n",
		"body: {a: {b: [null, true]}}\n",
		"method: [\n",
		"bodee: 1\n",
		"- 1\n- 2\n",
		"path: /x\npath: /y\n",
		"&a [*a]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, err := ParseRequestFile("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if extensions.CheckMethod(rf.Method) != nil || !strings.HasPrefix(rf.Path, "/") {
			t.Fatalf("accepted invalid request %+v", rf)
		}
		for k, v := range rf.Headers {
			if extensions.CheckHeader(k, v) != nil {
				t.Fatalf("accepted invalid header %q: %q", k, v)
			}
		}
		if !utf8.Valid(rf.Body) || !utf8.ValidString(rf.Path) {
			return // JSON would replace invalid UTF-8; no exact round trip
		}
		for k, v := range rf.Headers {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return
			}
		}
		js, err := json.Marshal(map[string]any{"method": rf.Method, "path": rf.Path, "headers": rf.Headers, "body": string(rf.Body)})
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseRequestFile("f.yaml", js)
		if err != nil {
			t.Fatalf("round trip of %s: %v", js, err)
		}
		if back.Method != rf.Method || back.Path != rf.Path || string(back.Body) != string(rf.Body) || len(back.Headers) != len(rf.Headers) {
			t.Fatalf("round trip changed %+v into %+v", rf, back)
		}
	})
}
