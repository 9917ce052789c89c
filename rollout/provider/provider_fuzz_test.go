package provider

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gonogo-dev/gonogo/internal/input"
)

// FuzzCondition checks that the condition parser never panics, that what
// it accepts reads back the same from its String, and that the operator
// means what it says at, below and above the threshold.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{
		"< 0.05", "<= 1.5", "> 0", ">= 0.99", "== 0", "!= 1", "<0.05", "  >=  -3e2  ",
		"=< 1", "<", "< ", "< abc", "< NaN", "< Inf", "< 1e400", "< 1e-400", "<< 1",
		"0x1p-2", "< 0x1p-2", "> -0", "== 1_000", "", "≤ 1", "<\x00 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCondition(s)
		if err != nil {
			if c != (condition{}) {
				t.Fatalf("error %v with condition %+v", err, c)
			}
			return
		}
		if math.IsNaN(c.threshold) || math.IsInf(c.threshold, 0) {
			t.Fatalf("%q parsed to a non-finite threshold %v", s, c.threshold)
		}
		back, err := parseCondition(c.String())
		if err != nil || back != c {
			t.Fatalf("%q → %q → %+v, %v; want %+v", s, c.String(), back, err, c)
		}
		at, below, above := c.threshold, math.Nextafter(c.threshold, math.Inf(-1)), math.Nextafter(c.threshold, math.Inf(1))
		want := map[string][3]bool{ // below, at, above
			"<": {true, false, false}, "<=": {true, true, false},
			">": {false, false, true}, ">=": {false, true, true},
			"==": {false, true, false}, "!=": {true, false, true},
		}[c.op]
		if got := [3]bool{c.holds(below), c.holds(at), c.holds(above)}; got != want {
			t.Fatalf("%s: holds(below, at, above) = %v, want %v", c, got, want)
		}
		if c.holds(math.NaN()) != (c.op == "!=") {
			t.Fatalf("%s holds for NaN", c)
		}
	})
}

// FuzzPromResponse checks that judging any answer never panics, that
// a pass or a fail carries a real value, and that an inconclusive one
// says why with a value of 0.
func FuzzPromResponse(f *testing.F) {
	for _, s := range []string{
		vectorOne, scalarOne,
		`{"status":"success","data":{"resultType":"vector","result":[]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"1"]},{"metric":{},"value":[1,"2"]}]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1,"-Inf"]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[]}]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":null}}`,
		`{"status":"success","data":null}`,
		`{"status":"error","errorType":"bad_data","error":"parse error"}`,
		`null`, `[]`, `"x"`, `{`, ``, "\xff\xfe",
	} {
		f.Add(200, []byte(s))
	}
	f.Add(400, []byte(`{"status":"error","errorType":"bad_data","error":"S3CRET"}`))
	f.Add(503, []byte(`unavailable`))
	cond := condition{op: "<", threshold: 0.05}
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		v, st, detail := judgeProm(code, body, cond, "S3CRET")
		switch st {
		case Pass, Fail:
			if math.IsNaN(v) || (st == Pass) != cond.holds(v) {
				t.Fatalf("%s with value %v", st, v)
			}
		case Inconclusive:
			if v != 0 {
				t.Fatalf("inconclusive with value %v", v)
			}
		default:
			t.Fatalf("status %q", st)
		}
		if detail == "" || !utf8.ValidString(detail) || strings.Contains(detail, "S3CRET") {
			t.Fatalf("detail %q", detail)
		}
		if n := utf8.RuneCountInString(detail); n > 2*maxDetail+100 {
			t.Fatalf("detail of %d runes", n)
		}
	})
}

// FuzzVerdictDocument checks that judging any verdict document never
// panics and maps only go to a pass and only no-go to a fail.
func FuzzVerdictDocument(f *testing.F) {
	for _, s := range []string{
		`{"schema":1,"verdict":"go","score":90,"run":"r","reasons":["a"],"created":"2026-01-02T03:04:05Z"}`,
		`{"schema":1,"verdict":"no-go","score":10}`, `{"schema":1,"verdict":"inconclusive"}`,
		`{"schema":2,"verdict":"go"}`, `{"verdict":"go"}`, `{"schema":1,"verdict":"GO"}`,
		`{"schema":1,"verdict":"go","created":"yesterday"}`, `{`, ``, `null`, `[1]`,
	} {
		f.Add(200, []byte(s), int64(0))
		f.Add(0, []byte(s), int64(time.Hour))
	}
	f.Add(500, []byte(`{"schema":1,"verdict":"go"}`), int64(0))
	now := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, code int, body []byte, maxAge int64) {
		if maxAge < 0 {
			maxAge = -maxAge
		}
		v, st, detail := judgeVerdict(code, body, now, time.Duration(maxAge), "")
		switch st {
		case Pass:
			if !strings.HasPrefix(detail, "go ") {
				t.Fatalf("pass with %q", detail)
			}
		case Fail:
			if !strings.HasPrefix(detail, "no-go ") {
				t.Fatalf("fail with %q", detail)
			}
		case Inconclusive:
		default:
			t.Fatalf("status %q", st)
		}
		if math.IsNaN(v) || detail == "" || !utf8.ValidString(detail) {
			t.Fatalf("value %v, detail %q", v, detail)
		}
	})
}

// FuzzSpec checks that parsing a provider block never panics, that its
// errors are input errors, and that a block it accepts makes a Provider.
func FuzzSpec(f *testing.F) {
	for _, s := range []string{
		"name: e\nprometheus: {address: 'http://127.0.0.1:9090', query: up, condition: '< 0.05', timeout: 2s}\n",
		"name: v\nverdict: {file: v.json, maxAge: 5m}\n",
		"name: v\nverdict: {url: 'http://localhost:8081/v'}\ncritical: true\n",
		"name: r\nallowRemote: true\nprometheus: {address: 'https://p.example', query: up, condition: '!= 1'}\n",
		"name: x\nprometheus: {address: 'http://10.1.1.1', query: up, condition: '< 1'}\n",
		"name: x\nprometheus: {address: 'http://[::1', query: up, condition: '< 1'}\n",
		"name: [1]\n", "prometheus: 3\n", "- a\n", "", ":", "name: x\nverdict:\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var s Spec
		if err := input.ParseBlock("f.yaml", src, &s); err != nil {
			var ie *input.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v is not an *input.Error", err, err)
			}
			return
		}
		if s.Prometheus != nil && s.Prometheus.TokenFile != "" || s.Verdict != nil && s.Verdict.TokenFile != "" {
			return // New would read a file
		}
		if _, err := New(s); err != nil {
			t.Fatalf("checked spec %+v: New: %v", s, err)
		}
	})
}
