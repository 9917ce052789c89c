package checks

import (
	"errors"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo"
)

func spec(kind, expr string) Spec {
	s := Spec{Name: "c"}
	switch kind {
	case KindStatus:
		s.Status = expr
	case KindHeader:
		s.Header = expr
	case KindJSON:
		s.JSON = expr
	case KindBody:
		s.Body = expr
	case KindSSE:
		s.SSE = expr
	case KindLength:
		s.Length = expr
	}
	return s
}

func TestCompileCanonical(t *testing.T) {
	cases := []struct {
		kind, expr, want string
	}{
		{KindStatus, "2xx", "2xx"},
		{KindStatus, "200", "200"},
		{KindStatus, " 2XX, 304 ", "2xx,304"},
		{KindStatus, "200 201", "200,201"},
		{KindHeader, "content-type ~ ^application/json", "Content-Type ~ ^application/json"},
		{KindHeader, "X-Feature-Source == store", `X-Feature-Source == "store"`},
		{KindHeader, `X-A != "a b"`, `X-A != "a b"`},
		{KindHeader, "Retry-After missing", "Retry-After missing"},
		{KindHeader, "etag exists", "Etag exists"},
		{KindHeader, "X-A!~b", "X-A !~ b"},
		{KindJSON, "choices[0].text exists", "choices[0].text exists"},
		{KindJSON, "$.choices[0].text exists", "choices[0].text exists"},
		{KindJSON, ".choices[-1] missing", "choices[-1] missing"},
		{KindJSON, `choices[0].finish_reason == "length"`, `choices[0].finish_reason == "length"`},
		{KindJSON, "usage.completion_tokens>=16", "usage.completion_tokens >= 16"},
		{KindJSON, "$[0].data[0] > 0.5", "[0].data[0] > 0.5"},
		{KindJSON, "$ exists", "$ exists"},
		{KindJSON, `$["a.b"]['c d'] == null`, `["a.b"]["c d"] == null`},
		{KindJSON, "a == 1e3", "a == 1000"},
		{KindJSON, "a != true", "a != true"},
		{KindJSON, "model ~ ^gpt", "model ~ ^gpt"},
		{KindJSON, "a.0 exists", "a.0 exists"},
		{KindBody, "~ (?i)hello", "~ (?i)hello"},
		{KindBody, "!~   sorry  ", "!~ sorry"},
		{KindSSE, "done", "done"},
		{KindLength, "tokens >= 1", "tokens >= 1"},
		{KindLength, "bytes<65536", "bytes < 65536"},
		{KindLength, "tokens == 16", "tokens == 16"},
	}
	for _, tc := range cases {
		t.Run(tc.kind+" "+tc.expr, func(t *testing.T) {
			c, err := Compile(spec(tc.kind, tc.expr))
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := c.String(); got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
			again, err := Compile(spec(tc.kind, c.String()))
			if err != nil || again.String() != tc.want {
				t.Fatalf("canonical form does not compile back: %v, %v", again, err)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name       string
		spec       Spec
		field, msg string
	}{
		{"no name", Spec{Status: "2xx"}, "name", "missing"},
		{"bad name", Spec{Name: "a:b", Status: "2xx"}, "name", "selectors"},
		{"padded name", Spec{Name: " a", Status: "2xx"}, "name", "white space"},
		{"no assertion", Spec{Name: "a"}, "name", "no assertion"},
		{"two assertions", Spec{Name: "a", Status: "2xx", Body: "~ x"}, "body", "one assertion"},
		{"status word", spec(KindStatus, "ok"), "status", `"ok" is not a status code`},
		{"status range", spec(KindStatus, "600"), "status", "100 to 599"},
		{"status 6xx", spec(KindStatus, "6xx"), "status", "not a status code"},
		{"header no name", spec(KindHeader, "~ x"), "header", "header name"},
		{"header no op", spec(KindHeader, "Content-Type"), "header", "missing operator"},
		{"header number op", spec(KindHeader, "Content-Length > 5"), "header", "compares numbers"},
		{"header bad re", spec(KindHeader, "A ~ ("), "header", "regular expression"},
		{"header bad quote", spec(KindHeader, `A == "x`), "header", "quoted"},
		{"header single =", spec(KindHeader, "A = x"), "header", "say =="},
		{"json no path", spec(KindJSON, "== 1"), "json", "JSON path first"},
		{"json open bracket", spec(KindJSON, "a[0 exists"), "json", "not closed"},
		{"json bad index", spec(KindJSON, "a[x] exists"), "json", "array index"},
		{"json empty dot", spec(KindJSON, "a. exists"), "json", "want a name"},
		{"json unquoted string", spec(KindJSON, "model == gpt"), "json", "quote strings"},
		{"json object operand", spec(KindJSON, `a == {"b":1}`), "json", "object or array"},
		{"json trailing", spec(KindJSON, "a exists now"), "json", "unexpected"},
		{"json not a number", spec(KindJSON, "a > x"), "json", "not a number"},
		{"json NaN", spec(KindJSON, "a > NaN"), "json", "not a number"},
		{"json bad re", spec(KindJSON, "a ~ [z-a]"), "json", "regular expression"},
		{"body bare regex", spec(KindBody, "hello"), "body", "want ~ REGEX"},
		{"body empty re", spec(KindBody, "~"), "body", "missing regular expression"},
		{"sse", spec(KindSSE, "finished"), "sse", "want done"},
		{"length what", spec(KindLength, "chars > 1"), "length", "bytes or tokens"},
		{"length op", spec(KindLength, "tokens ~ 1"), "length", "takes =="},
		{"length negative", spec(KindLength, "tokens > -1"), "length", "negative"},
		{"long", spec(KindBody, "~ "+strings.Repeat("a", MaxExprBytes)), "body", "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.spec)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrCheck) {
				t.Fatalf("Compile = %v, want an *Error", err)
			}
			if e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("got field %q msg %q, want field %q and %q in the message", e.Field, e.Msg, tc.field, tc.msg)
			}
		})
	}
}

func TestNewSet(t *testing.T) {
	_, err := NewSet([]Spec{{Name: "a", Status: "2xx"}, {Name: "a", SSE: "done"}})
	var e *Error
	if !errors.As(err, &e) || e.Index != 1 || e.Field != "name" {
		t.Fatalf("duplicate names: %v", err)
	}
	_, err = NewSet([]Spec{{Name: "a", Status: "2xx"}, {Name: "b", Status: "x"}})
	if !errors.As(err, &e) || e.Index != 1 || e.Field != "status" || e.Error() != `checks[1].status: "x" is not a status code (100 to 599) or class (1xx to 5xx)` {
		t.Fatalf("bad status: %v", err)
	}
	many := make([]Spec, MaxChecks+1)
	for i := range many {
		many[i] = Spec{Name: strings.Repeat("x", i+1), Status: "2xx"}
	}
	if _, err := NewSet(many); err == nil {
		t.Fatal("more than MaxChecks checks accepted")
	}
	s, err := NewSet(many[:MaxChecks])
	if err != nil || s.Mask() != ^uint64(0) || s.Len() != MaxChecks {
		t.Fatalf("MaxChecks checks: %v", err)
	}
}

func TestSetNeeds(t *testing.T) {
	cases := []struct {
		specs         []Spec
		content, docs bool // NeedsContent(false), NeedsContent(true)
		observer      bool
	}{
		{[]Spec{{Name: "a", Status: "2xx"}, {Name: "b", Length: "bytes > 0"}}, false, false, false},
		{[]Spec{{Name: "a", Body: "~ x"}}, true, true, false},
		{[]Spec{{Name: "a", JSON: "a exists"}}, true, false, true},
		{[]Spec{{Name: "a", Header: "A exists"}}, false, false, true},
		{[]Spec{{Name: "a", SSE: "done"}}, false, false, true},
	}
	for i, tc := range cases {
		s, err := NewSet(tc.specs)
		if err != nil {
			t.Fatal(err)
		}
		if s.NeedsContent(false) != tc.content || s.NeedsContent(true) != tc.docs || s.NeedsObserver() != tc.observer {
			t.Errorf("case %d: NeedsContent %v/%v NeedsObserver %v, want %v/%v %v", i,
				s.NeedsContent(false), s.NeedsContent(true), s.NeedsObserver(), tc.content, tc.docs, tc.observer)
		}
	}
}

// response is what a test shows a State.
type response struct {
	headers [][2]string
	events  []string
	docs    []string
	res     gonogo.Result
}

func (r response) judge(s *Set) uint64 {
	st := s.State()
	defer st.Release()
	for _, h := range r.headers {
		st.Header([]byte(h[0]), []byte(h[1]))
	}
	for _, e := range r.events {
		st.Event([]byte(e))
	}
	for _, d := range r.docs {
		st.Document([]byte(d))
	}
	return st.Finish(&r.res)
}

func TestStateJudges(t *testing.T) {
	stream := []string{
		`{"choices":[{"text":"a","finish_reason":null}],"model":"m"}`,
		`{"choices":[{"text":" b","finish_reason":"length"}],"model":"m"}`,
		`{"choices":[],"usage":{"completion_tokens":2}}`,
		"[DONE]",
	}
	cases := []struct {
		expr   Spec
		resp   response
		passes bool
	}{
		{spec(KindStatus, "2xx"), response{res: gonogo.Result{Status: 204}}, true},
		{spec(KindStatus, "2xx"), response{res: gonogo.Result{Status: 500}}, false},
		{spec(KindStatus, "2xx,500"), response{res: gonogo.Result{Status: 500}}, true},
		{spec(KindStatus, "200"), response{}, false}, // no response at all
		{spec(KindHeader, "Content-Type ~ ^application/json"), response{headers: [][2]string{{"content-type", "application/json; charset=utf-8"}}}, true},
		{spec(KindHeader, "Content-Type ~ ^application/json"), response{headers: [][2]string{{"Content-Type", "text/plain"}}}, false},
		{spec(KindHeader, "X-A == b"), response{headers: [][2]string{{"X-A", "a"}, {"x-a", "b"}}}, true},
		{spec(KindHeader, "X-A != b"), response{headers: [][2]string{{"X-A", "a"}, {"x-a", "b"}}}, false},
		{spec(KindHeader, "X-A != b"), response{headers: [][2]string{{"X-A", "a"}}}, true},
		{spec(KindHeader, "X-A != b"), response{}, false}, // missing fails every comparison
		{spec(KindHeader, "X-A !~ b"), response{}, false},
		{spec(KindHeader, "X-A missing"), response{headers: [][2]string{{"X-AB", "a"}}}, true},
		{spec(KindHeader, "X-A exists"), response{headers: [][2]string{{"x-a", ""}}}, true},
		{spec(KindJSON, "choices[0].text exists"), response{events: stream}, true},
		{spec(KindJSON, `choices[0].finish_reason == "length"`), response{events: stream}, true}, // the last chunk that has it
		{spec(KindJSON, `choices[0].finish_reason == null`), response{events: stream}, false},
		{spec(KindJSON, "usage.completion_tokens >= 2"), response{events: stream}, true},
		{spec(KindJSON, "usage.completion_tokens > 2"), response{events: stream}, false},
		{spec(KindJSON, "error missing"), response{events: stream}, true},
		{spec(KindJSON, `model != "x"`), response{events: stream}, true},
		{spec(KindJSON, `model ~ ^m$`), response{events: stream}, true},
		{spec(KindJSON, "choices[-1].text == \" b\""), response{events: stream}, true},
		{spec(KindJSON, "a exists"), response{docs: []string{`{"a":`}}, false}, // not JSON
		{spec(KindJSON, "a == 1"), response{docs: []string{`{"a":1.0}`}}, true},
		{spec(KindJSON, "a == \"é\""), response{docs: []string{`{"a":"\u00e9"}`}}, true},
		{spec(KindJSON, "a ~ ^x"), response{docs: []string{`{"a":"x\ny"}`}}, true},
		{spec(KindJSON, "a > 1"), response{docs: []string{`{"a":"2"}`}}, false}, // a string is not a number
		{spec(KindJSON, "[0].data[0] > 0.5"), response{res: gonogo.Result{Output: []byte(`[{"data":[0.75,0.25]}]`)}}, true},
		{spec(KindJSON, "[0].data[0] > 0.5"), response{res: gonogo.Result{Output: []byte(`[{"data":[0.25,0.75]}]`)}}, false},
		{spec(KindJSON, "a exists"), response{docs: []string{`{"b":1}`}, res: gonogo.Result{Output: []byte(`{"a":1}`)}}, false}, // documents shown: Output is not read
		{spec(KindBody, "~ (?i)hello"), response{res: gonogo.Result{Output: []byte("Hello world")}}, true},
		{spec(KindBody, "!~ (?i)sorry"), response{res: gonogo.Result{Output: []byte("Sorry, no")}}, false},
		{spec(KindBody, "!~ x"), response{}, true},
		{spec(KindSSE, "done"), response{events: stream}, true},
		{spec(KindSSE, "done"), response{events: stream[:3]}, false},
		{spec(KindSSE, "done"), response{events: []string{" [DONE]\n"}}, true},
		{spec(KindLength, "tokens >= 1"), response{res: gonogo.Result{OutputTokens: 1}}, true},
		{spec(KindLength, "tokens >= 1"), response{}, false},
		{spec(KindLength, "bytes < 10"), response{res: gonogo.Result{BytesIn: 9}}, true},
		{spec(KindLength, "bytes != 9"), response{res: gonogo.Result{BytesIn: 9}}, false},
	}
	for _, tc := range cases {
		kind, expr, _ := tc.expr.assertion()
		t.Run(kind+" "+expr, func(t *testing.T) {
			s, err := NewSet([]Spec{tc.expr})
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.resp.judge(s) == 0; got != tc.passes {
				t.Fatalf("passes = %v, want %v", got, tc.passes)
			}
		})
	}
}

func TestStateMaskAndReuse(t *testing.T) {
	s, err := NewSet([]Spec{
		{Name: "ok", Status: "2xx"},
		{Name: "json", Header: "Content-Type ~ json"},
		{Name: "done", SSE: "done"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Names(); strings.Join(got, ",") != "ok,json,done" {
		t.Fatalf("Names = %v", got)
	}
	st := s.State()
	st.Header([]byte("Content-Type"), []byte("application/json"))
	st.Event([]byte("[DONE]"))
	if f := st.Finish(&gonogo.Result{Status: 500}); f != 0b001 {
		t.Fatalf("failed = %03b, want 001", f)
	}
	st.Reset() // nothing of the first response survives
	if f := st.Finish(&gonogo.Result{Status: 200}); f != 0b110 {
		t.Fatalf("after Reset: failed = %03b, want 110", f)
	}
	st.Release()
}

// TestStateAllocations holds the checks of streamed chunks to no
// allocation per chunk once warm: they run on every token.
func TestStateAllocations(t *testing.T) {
	s, err := NewSet([]Spec{
		{Name: "ct", Header: "Content-Type ~ ^text/event-stream"},
		{Name: "text", JSON: "choices[0].text exists"},
		{Name: "finish", JSON: `choices[0].finish_reason == "length"`},
		{Name: "done", SSE: "done"},
		{Name: "ok", Status: "2xx"},
	})
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(`{"id":"cmpl-1","choices":[{"index":0,"text":" word","finish_reason":null}],"model":"m"}`)
	name, value, done := []byte("Content-Type"), []byte("text/event-stream"), []byte("[DONE]")
	res := &gonogo.Result{Status: 200}
	allocs := testing.AllocsPerRun(100, func() {
		st := s.State()
		st.Header(name, value)
		for range 16 {
			st.Event(chunk)
		}
		st.Event(done)
		_ = st.Finish(res)
		st.Release()
	})
	if allocs > 0 {
		t.Fatalf("%.1f allocations per response, want 0", allocs)
	}
}

// BenchmarkStateStream is what checks add to a streamed answer of 64
// chunks: a header, every event, then Finish.
func BenchmarkStateStream(b *testing.B) {
	for _, tc := range []struct {
		name  string
		specs []Spec
	}{
		{"status", []Spec{{Name: "ok", Status: "2xx"}}},
		{"json+sse+header", []Spec{
			{Name: "ok", Status: "2xx"},
			{Name: "ct", Header: "Content-Type ~ ^text/event-stream"},
			{Name: "text", JSON: "choices[0].text exists"},
			{Name: "finish", JSON: `choices[0].finish_reason == "length"`},
			{Name: "done", SSE: "done"},
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := NewSet(tc.specs)
			if err != nil {
				b.Fatal(err)
			}
			chunk := []byte(`{"id":"cmpl-1","object":"text_completion","created":1,"model":"gpt-sim","choices":[{"index":0,"text":" word","finish_reason":null}]}`)
			name, value, done := []byte("Content-Type"), []byte("text/event-stream"), []byte("[DONE]")
			res := &gonogo.Result{Status: 200}
			b.ReportAllocs()
			for b.Loop() {
				st := s.State()
				st.Header(name, value)
				for range 64 {
					st.Event(chunk)
				}
				st.Event(done)
				_ = st.Finish(res)
				st.Release()
			}
		})
	}
}
